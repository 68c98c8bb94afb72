package signing_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/ncanode"
	"github.com/minfin-kz/kopir/adapters/signing"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

// The local provider downloads its CRLs through the transport the core
// gives it, in the background its channel runs, and stops with it.
func TestLocalVerifierRefreshesCRLsThroughTheCoreTransport(t *testing.T) {
	now := time.Now()
	ca, err := testpki.NewCA("CRL test root", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _, err := ca.Issue(testpki.Leaf{CommonName: "revoked sender", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	_, der, err := ca.CRL([]*x509.Certificate{leaf}, now.Add(-time.Minute), now.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write(der)
	}))
	t.Cleanup(srv.Close)
	root := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := signing.NewVerifier(signing.TrustConfig{TrustConfig: xmlsig.TrustConfig{Roots: []string{root}, CRLURLs: []string{srv.URL + "/root.crl"}, Refresh: units.Duration(time.Hour)}}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := signing.Provision(v, adapters.Resources{}); err == nil {
		t.Fatal("CRL URLs provisioned without a transport")
	}
	if err := signing.Provision(v, adaptertest.Resources(t)); err != nil {
		t.Fatal(err)
	}
	r, ok := v.(signing.Refresher)
	if !ok || !r.Refreshing() {
		t.Fatalf("a local verifier with crlURLs must refresh: %T", v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reports, done := make(chan error, 1), make(chan struct{})
	go func() {
		r.RunRefresh(ctx, func(err error) {
			select {
			case reports <- err:
			default:
			}
		})
		close(done)
	}()
	if err := <-reports; err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if hits.Load() == 0 {
		t.Fatal("the CRL was not fetched from its URL")
	}
	lv := v.(*signing.LocalVerifier)
	if err := lv.Trust.Check(t.Context(), leaf, now); err == nil || !strings.Contains(err.Error(), string(xmlsig.ReasonRevoked)) {
		t.Fatalf("the downloaded CRL is not in use: %v", err)
	}
}

func TestRevocationOptionsAreChecked(t *testing.T) {
	ncaURL := ncanode.Service{URL: "http://127.0.0.1:14579"}
	for _, c := range []struct {
		name string
		cfg  signing.TrustConfig
		want string
	}{
		{"unknown policy", signing.TrustConfig{TrustConfig: xmlsig.TrustConfig{Roots: []string{pki + "ca.pem"}}, OnRevocationUnknown: "ignore"}, `onRevocationUnknown: "ignore" is not a revocation policy`},
		{"CRL URL not http", signing.TrustConfig{TrustConfig: xmlsig.TrustConfig{Roots: []string{pki + "ca.pem"}, CRLURLs: []string{"ldap://crl"}}}, "crlURLs"},
		{"CRL URLs for NCANode", signing.TrustConfig{Provider: signing.NCANode, TrustConfig: xmlsig.TrustConfig{CRLURLs: []string{"http://crl"}}, Service: ncaURL}, "crlURLs, refresh: NCANode"},
		{"policy for NCANode", signing.TrustConfig{Provider: signing.NCANode, Service: ncaURL, OnRevocationUnknown: "flag"}, "onRevocationUnknown: NCANode"},
	} {
		if _, err := signing.NewVerifier(c.cfg, time.Now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %s", c.name, err, c.want)
		}
	}
}
