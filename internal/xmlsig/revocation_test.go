package xmlsig_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

// crlServer is a fetch function over CRLs held in memory, as a CA's
// distribution point would serve them; a URL without one is unreachable.
type crlServer struct {
	mu    sync.Mutex
	crls  map[string][]byte
	calls int
}

func (s *crlServer) fetch(_ context.Context, url string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	b, ok := s.crls[url]
	if !ok {
		return nil, errors.New("connection refused")
	}
	return b, nil
}

func (s *crlServer) put(url string, der []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if der == nil {
		delete(s.crls, url)
		return
	}
	s.crls[url] = der
}

func rootFile(t *testing.T, ca *testpki.CA) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func crlDER(t *testing.T, ca *testpki.CA, revoked []*x509.Certificate, thisUpdate time.Time) []byte {
	t.Helper()
	_, der, err := ca.CRL(revoked, thisUpdate, thisUpdate.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// A certificate revoked after start is refused at the next refresh,
// without a restart; an unreachable, forged or older CRL never replaces
// the last good one.
func TestCRLRefreshTakesNewRevocationsAndKeepsTheLastGoodSet(t *testing.T) {
	f := pki(t)
	const url = "http://crl.example/root.crl"
	srv := &crlServer{crls: map[string][]byte{}}
	trust, err := xmlsig.LoadTrust(xmlsig.TrustConfig{Roots: []string{rootFile(t, f.ca)}, CRLURLs: []string{url}, Refresh: units.Duration(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if !trust.Refreshing() {
		t.Fatal("a trust with CRL URLs must be refreshed")
	}
	ctx := context.Background()

	// Never read: nothing vouches for the certificate.
	if err := trust.Refresh(ctx, srv.fetch); err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("an unreachable URL must be reported by name: %v", err)
	}
	if err := trust.Check(t.Context(), f.cert, now); reason(t, err) != xmlsig.ReasonCRL {
		t.Fatalf("no CRL read yet must be CERT_REVOCATION_UNKNOWN: %v", err)
	}

	srv.put(url, crlDER(t, f.ca, nil, now.Add(-2*time.Hour)))
	if err := trust.Refresh(ctx, srv.fetch); err != nil {
		t.Fatal(err)
	}
	if err := trust.Check(t.Context(), f.cert, now); err != nil {
		t.Fatalf("not revoked yet: %v", err)
	}

	srv.put(url, crlDER(t, f.ca, []*x509.Certificate{f.cert}, now.Add(-time.Hour)))
	if err := trust.Refresh(ctx, srv.fetch); err != nil {
		t.Fatal(err)
	}
	if err := trust.Check(t.Context(), f.cert, now); reason(t, err) != xmlsig.ReasonRevoked {
		t.Fatalf("the refreshed CRL revokes the certificate: %v", err)
	}

	for name, der := range map[string][]byte{
		"unreachable": nil,
		"forged":      crlDER(t, f.other, nil, now),
		"older":       crlDER(t, f.ca, nil, now.Add(-3*time.Hour)),
		"garbage":     []byte("not a CRL"),
	} {
		srv.put(url, der)
		if err := trust.Refresh(ctx, srv.fetch); err == nil {
			t.Fatalf("%s CRL taken without complaint", name)
		}
		if err := trust.Check(t.Context(), f.cert, now); reason(t, err) != xmlsig.ReasonRevoked {
			t.Fatalf("%s CRL: the last good set must stay: %v", name, err)
		}
	}
}

// Files are read again too, and a file that turns bad keeps its last CRL.
func TestCRLFilesAreReadAgain(t *testing.T) {
	f := pki(t)
	crlPath := filepath.Join(t.TempDir(), "root.crl")
	if err := os.WriteFile(crlPath, crlDER(t, f.ca, nil, now.Add(-2*time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	trust, err := xmlsig.LoadTrust(xmlsig.TrustConfig{Roots: []string{rootFile(t, f.ca)}, CRLs: []string{crlPath}, Refresh: units.Duration(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := trust.Check(t.Context(), f.cert, now); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(crlPath, crlDER(t, f.ca, []*x509.Certificate{f.cert}, now.Add(-time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := trust.Refresh(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := trust.Check(t.Context(), f.cert, now); reason(t, err) != xmlsig.ReasonRevoked {
		t.Fatalf("the file's new CRL is not in use: %v", err)
	}
	if err := os.Remove(crlPath); err != nil {
		t.Fatal(err)
	}
	if err := trust.Refresh(context.Background(), nil); err == nil {
		t.Fatal("a missing file must be reported")
	}
	if err := trust.Check(t.Context(), f.cert, now); reason(t, err) != xmlsig.ReasonRevoked {
		t.Fatalf("a missing file dropped its last good CRL: %v", err)
	}
}

// RunRefresh reads at once, reports, and returns when its context ends.
func TestRunRefreshStopsWithItsContext(t *testing.T) {
	f := pki(t)
	const url = "http://crl.example/root.crl"
	srv := &crlServer{crls: map[string][]byte{url: crlDER(t, f.ca, nil, now.Add(-time.Hour))}}
	trust, err := xmlsig.LoadTrust(xmlsig.TrustConfig{Roots: []string{rootFile(t, f.ca)}, CRLURLs: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan error)
	done := make(chan struct{})
	go func() {
		trust.RunRefresh(ctx, srv.fetch, func(err error) { reports <- err })
		close(done)
	}()
	if err := <-reports; err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if err := trust.Check(t.Context(), f.cert, now); err != nil {
		t.Fatal(err)
	}
}

// With policy flag an unknown status is accepted and said; refuse (the
// default) fails closed; a revoked certificate is refused under both.
func TestRevocationUnknownPolicy(t *testing.T) {
	f := pki(t)
	signed, err := xmlsig.Sign(f.unsigned, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	stale, _, err := f.ca.CRL(nil, now.AddDate(0, 0, -10), now.AddDate(0, 0, -3))
	if err != nil {
		t.Fatal(err)
	}
	trust, err := xmlsig.NewTrust([]*x509.Certificate{f.ca.Cert}, nil, []*x509.RevocationList{stale}, "")
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	for _, policy := range []string{"", xmlsig.RevocationRefuse} {
		v := xmlsig.LocalVerifier{Trust: trust, Now: clock, OnRevocationUnknown: policy}
		if _, err := v.VerifyEnvelope(context.Background(), signed); reason(t, err) != xmlsig.ReasonCRL {
			t.Fatalf("policy %q: %v", policy, err)
		}
	}
	flag := xmlsig.LocalVerifier{Trust: trust, Now: clock, OnRevocationUnknown: xmlsig.RevocationFlag}
	got, err := flag.VerifyEnvelope(context.Background(), signed)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.RevocationUnknown, "due for renewal") {
		t.Fatalf("the flag does not say why: %q", got.RevocationUnknown)
	}
	staleRevoking, _, err := f.ca.CRL([]*x509.Certificate{f.cert}, now.AddDate(0, 0, -10), now.AddDate(0, 0, -3))
	if err != nil {
		t.Fatal(err)
	}
	flag.Trust, err = xmlsig.NewTrust([]*x509.Certificate{f.ca.Cert}, nil, []*x509.RevocationList{staleRevoking}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flag.VerifyEnvelope(context.Background(), signed); reason(t, err) != xmlsig.ReasonRevoked {
		t.Fatalf("a listed certificate is revoked whatever the CRL's age: %v", err)
	}
	if _, err := xmlsig.ParseRevocationPolicy("maybe"); err == nil {
		t.Fatal("an unknown policy must be refused")
	}
}
