package xmlsig_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

// hsmKey stands for a key held elsewhere (an HSM): a crypto.Signer that is
// not *rsa.PrivateKey. NewRSASigner must use it as it is.
type hsmKey struct {
	key   *rsa.PrivateKey
	calls atomic.Int32
}

func (h *hsmKey) Public() crypto.PublicKey { return &h.key.PublicKey }
func (h *hsmKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	h.calls.Add(1)
	return h.key.Sign(r, digest, opts)
}

func TestExternalCryptoSignerIsUsedAsItIs(t *testing.T) {
	f := pki(t)
	cert, key, err := f.ca.Issue(testpki.Leaf{CommonName: "HSM sender", NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	hsm := &hsmKey{key: key}
	s, err := xmlsig.NewRSASigner(hsm, cert)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := xmlsig.Sign(f.unsigned, s)
	if err != nil {
		t.Fatal(err)
	}
	if hsm.calls.Load() != 1 {
		t.Fatalf("the external signer was called %d times for one envelope", hsm.calls.Load())
	}
	if v, err := xmlsig.Verify(signed); err != nil || !v.Certificate.Equal(cert) {
		t.Fatalf("verify: %v", err)
	}
}

func TestNonRSAKeyIsRefused(t *testing.T) {
	f := pki(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, err = xmlsig.NewRSASigner(ec, f.cert)
	if err == nil || !strings.Contains(err.Error(), "only RSA is built in") {
		t.Fatalf("an ECDSA key: %v", err)
	}
}

// One signer serves every exchange of a route at once; run with -race.
func TestConcurrentSigning(t *testing.T) {
	f := pki(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for range 10 {
				signed, err := xmlsig.Sign(f.unsigned, f.signer)
				if err == nil {
					_, err = xmlsig.Verify(signed)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
