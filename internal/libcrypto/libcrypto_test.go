package libcrypto_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/minfin-kz/kopir/internal/libcrypto"
	"github.com/minfin-kz/kopir/internal/testenv"
)

var (
	keyOnce sync.Once
	goKey   *rsa.PrivateKey
	keyErr  error
)

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() { goKey, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return goKey
}

func newKey(t testing.TB) *libcrypto.RSAKey {
	t.Helper()
	k, err := libcrypto.NewRSAKey(rsaKey(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// The point of the package: libcrypto's signatures are the ones crypto/rsa
// makes and accepts, byte for byte (PKCS#1 v1.5 is deterministic).
func TestSignaturesVerifyWithCryptoRSA(t *testing.T) {
	k := newKey(t)
	var _ crypto.Signer = k
	if !k.Public().(*rsa.PublicKey).Equal(&rsaKey(t).PublicKey) {
		t.Fatal("Public is not the key's public key")
	}
	for i := range 5 {
		d := sha256.Sum256(fmt.Appendf(nil, "envelope %d", i))
		sig, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(&rsaKey(t).PublicKey, crypto.SHA256, d[:], sig); err != nil {
			t.Fatalf("signature %d does not verify: %v", i, err)
		}
		want, err := rsa.SignPKCS1v15(nil, rsaKey(t), crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		if string(sig) != string(want) {
			t.Fatalf("signature %d differs from crypto/rsa's", i)
		}
		d[0] ^= 1
		if rsa.VerifyPKCS1v15(&rsaKey(t).PublicKey, crypto.SHA256, d[:], sig) == nil {
			t.Fatal("a signature verified over another digest")
		}
	}
}

func TestUnsupportedOptionsAreRefused(t *testing.T) {
	k := newKey(t)
	d := sha256.Sum256([]byte("x"))
	d512 := sha512.Sum512([]byte("x"))
	for _, c := range []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
		want   string
	}{
		{"nil options", d[:], nil, "no signer options"},
		{"PSS", d[:], &rsa.PSSOptions{Hash: crypto.SHA256}, "PSS padding is not supported"},
		{"SHA-512", d512[:], crypto.SHA512, "hash SHA-512 is not supported"},
		{"no hash", d[:], crypto.Hash(0), "is not supported, only SHA-256"},
		{"short digest", d[:20], crypto.SHA256, "the digest is 20 bytes"},
		{"empty digest", nil, crypto.SHA256, "the digest is 0 bytes"},
	} {
		sig, err := k.Sign(nil, c.digest, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %x, %v; want an error saying %q", c.name, sig, err, c.want)
		}
	}
}

func TestNilKeyIsRefused(t *testing.T) {
	if _, err := libcrypto.NewRSAKey(nil); err == nil || !strings.Contains(err.Error(), "no RSA key") {
		t.Fatalf("got %v", err)
	}
}

func TestSignAfterCloseFails(t *testing.T) {
	k, err := libcrypto.NewRSAKey(rsaKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if err := k.Close(); err != nil {
		t.Fatalf("a second Close: %v", err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := k.Sign(nil, d[:], crypto.SHA256); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Sign after Close: %v", err)
	}
}

// Run with -race: one key, many goroutines, each signature checked.
func TestConcurrentSign(t *testing.T) {
	k := newKey(t)
	pub := &rsaKey(t).PublicKey
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				d := sha256.Sum256(fmt.Appendf(nil, "%d/%d", g, i))
				sig, err := k.Sign(nil, d[:], crypto.SHA256)
				if err == nil {
					err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
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

// BenchmarkSign compares the two ways to make the signature. Besides
// ns/op (wall time, which a busy machine inflates) it reports cpu-ns/op,
// the process's user+system time per signature: what `openssl speed`
// divides by, so the two are compared like for like.
func BenchmarkSign(b *testing.B) {
	d := sha256.Sum256([]byte("SignedInfo"))
	for _, c := range []struct {
		name string
		key  func(testing.TB) crypto.Signer
	}{
		{"libcrypto", func(t testing.TB) crypto.Signer { return newKey(t) }},
		{"crypto-rsa", func(t testing.TB) crypto.Signer { return rsaKey(t) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			k := c.key(b)
			report := testenv.CPUPerOp(b)
			for b.Loop() {
				if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			report()
		})
	}
}
