package xmlsig_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

// ocspCase is a CA, its responder and a Trust that asks it.
type ocspCase struct {
	ca        *testpki.CA
	responder *testpki.OCSPResponder
	url       string
	trust     *xmlsig.Trust
	queried   []string // the URLs the Trust asked
	mu        sync.Mutex
}

func newOCSPCase(t *testing.T, cfg xmlsig.OCSPConfig, useURL bool) *ocspCase {
	t.Helper()
	now := time.Now()
	ca, err := testpki.NewCA("OCSP test CA", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	c := &ocspCase{ca: ca, responder: &testpki.OCSPResponder{CA: ca}}
	srv := httptest.NewServer(c.responder)
	t.Cleanup(srv.Close)
	t.Cleanup(c.responder.Release)
	c.url = srv.URL + "/ocsp"
	if useURL {
		cfg.URL = c.url
	}
	p, _, err := testpki.WritePEM(t.TempDir(), "root", ca.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.trust, err = xmlsig.LoadTrust(xmlsig.TrustConfig{Roots: []string{p}, OCSP: &cfg}); err != nil {
		t.Fatal(err)
	}
	timeout := cfg.Timeout.D()
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	c.trust.SetOCSPQuery(func(ctx context.Context, url string, req []byte) ([]byte, error) {
		c.mu.Lock()
		c.queried = append(c.queried, url)
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
		resp, err := srv.Client().Do(r)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return nil, errors.New(resp.Status)
		}
		return io.ReadAll(resp.Body)
	})
	return c
}

func (c *ocspCase) leaf(t *testing.T, cn string, aia ...string) *x509.Certificate {
	t.Helper()
	now := time.Now()
	cert, _, err := c.ca.Issue(testpki.Leaf{CommonName: cn, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0), OCSPServer: aia})
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func reasonOf(err error) xmlsig.Reason {
	var se *xmlsig.Error
	if errors.As(err, &se) {
		return se.Reason
	}
	return ""
}

// The responder's answer decides the leaf: good passes and is cached,
// revoked is refused (unless the revocation came after the time asked
// about, as for a signature kept as evidence), and a certificate it does
// not know is of unknown status.
func TestOCSPAnswers(t *testing.T) {
	c := newOCSPCase(t, xmlsig.OCSPConfig{}, true)
	good, revoked, stranger := c.leaf(t, "good"), c.leaf(t, "revoked"), c.leaf(t, "unknown to the responder")
	c.responder.Good(good)
	revokedAt := time.Now().Add(-10 * time.Minute)
	c.responder.Revoke(revoked, revokedAt)
	now := time.Now()
	for i := 0; i < 3; i++ {
		if err := c.trust.Check(t.Context(), good, now); err != nil {
			t.Fatalf("good: %v", err)
		}
	}
	if n := c.responder.Asked(); n != 1 {
		t.Errorf("the responder was asked %d times for one certificate, want 1 (cached)", n)
	}
	if err := c.trust.Check(t.Context(), revoked, now); reasonOf(err) != xmlsig.ReasonRevoked || !strings.Contains(err.Error(), "OCSP") {
		t.Errorf("revoked: %v", err)
	}
	if err := c.trust.Check(t.Context(), revoked, revokedAt.Add(-time.Minute)); err != nil {
		t.Errorf("as of before its revocation: %v", err)
	}
	unknown, err := c.trust.Evaluate(t.Context(), stranger, now)
	if err != nil || unknown == nil || unknown.Reason != xmlsig.ReasonCRL || !strings.Contains(unknown.Detail, "does not know") {
		t.Errorf("unknown to the responder: %v %v", unknown, err)
	}
}

// Without a configured URL the responder each certificate names is asked;
// a certificate naming none is of unknown status.
func TestOCSPResponderFromCertificate(t *testing.T) {
	c := newOCSPCase(t, xmlsig.OCSPConfig{}, false)
	named := c.leaf(t, "names its responder", c.url)
	c.responder.Good(named)
	if err := c.trust.Check(t.Context(), named, time.Now()); err != nil {
		t.Fatal(err)
	}
	if len(c.queried) != 1 || c.queried[0] != c.url {
		t.Fatalf("asked %v, want the certificate's own responder", c.queried)
	}
	unknown, err := c.trust.Evaluate(t.Context(), c.leaf(t, "names none"), time.Now())
	if err != nil || unknown == nil || !strings.Contains(unknown.Detail, "names no OCSP responder") {
		t.Fatalf("%v %v", unknown, err)
	}
}

// An answer is taken only from the issuer or a responder it delegated
// OCSP signing to: a certificate the same CA issued for anything else (a
// signer's own) cannot vouch for itself or for others.
func TestOCSPAnswerMustBeSignedByTheIssuerOrItsDelegate(t *testing.T) {
	c := newOCSPCase(t, xmlsig.OCSPConfig{}, true)
	now := time.Now()
	impostor, impostorKey, err := c.ca.Issue(testpki.Leaf{CommonName: "a signer, not a responder", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	victim := c.leaf(t, "revoked, then vouched for")
	c.responder.Good(victim)
	c.responder.Signer, c.responder.Key = impostor, impostorKey
	unknown, err := c.trust.Evaluate(t.Context(), victim, now)
	if err != nil || unknown == nil || !strings.Contains(unknown.Detail, "did not delegate") {
		t.Fatalf("an answer signed by a non-responder: %v %v", unknown, err)
	}

	d := newOCSPCase(t, xmlsig.OCSPConfig{}, true)
	delegate, delegateKey, err := d.ca.Issue(testpki.Leaf{CommonName: "OCSP responder", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 1, 0), OCSPSigning: true})
	if err != nil {
		t.Fatal(err)
	}
	cert := d.leaf(t, "vouched for by the delegate")
	d.responder.Good(cert)
	d.responder.Signer, d.responder.Key = delegate, delegateKey
	if err := d.trust.Check(t.Context(), cert, now); err != nil {
		t.Fatalf("an answer by a delegated responder: %v", err)
	}
}

// A responder that does not answer within the timeout makes the status
// unknown at once for the caller, and is not asked again for the same
// certificate for a while: a dead responder costs each certificate one
// timeout, not each message.
func TestOCSPUnreachableIsUnknownAndRemembered(t *testing.T) {
	c := newOCSPCase(t, xmlsig.OCSPConfig{Timeout: units.Duration(100 * time.Millisecond)}, true)
	cert := c.leaf(t, "behind a dead responder")
	c.responder.Hang()
	for i := 0; i < 3; i++ {
		unknown, err := c.trust.Evaluate(t.Context(), cert, time.Now())
		if err != nil || unknown == nil || !strings.Contains(unknown.Detail, "OCSP status") {
			t.Fatalf("try %d: %v %v", i, unknown, err)
		}
	}
	if n := len(c.queried); n != 1 {
		t.Fatalf("a dead responder was asked %d times for one certificate, want 1", n)
	}
}

// Concurrent verifications of one certificate share one query.
func TestOCSPConcurrentAskersShareOneQuery(t *testing.T) {
	c := newOCSPCase(t, xmlsig.OCSPConfig{}, true)
	cert := c.leaf(t, "popular")
	c.responder.Good(cert)
	c.responder.Hang()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- c.trust.Check(t.Context(), cert, time.Now()) })
	}
	for c.responder.Asked() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.responder.Release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := c.responder.Asked(); n != 1 {
		t.Fatalf("%d queries for 8 concurrent verifications, want 1", n)
	}
}

func TestOCSPConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, _ := testpki.NewCA("x", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	root, _, _ := testpki.WritePEM(dir, "root", ca.Cert, nil)
	for _, o := range []xmlsig.OCSPConfig{{URL: "ldap://ocsp"}, {Timeout: -1}} {
		if _, err := xmlsig.LoadTrust(xmlsig.TrustConfig{Roots: []string{root}, OCSP: &o}); err == nil || !strings.Contains(err.Error(), "ocsp") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
