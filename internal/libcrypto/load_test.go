package libcrypto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
)

// libcrypto reads any PKCS#8 key; one that is not RSA is refused before
// it could sign anything.
func TestNotRSAKeyIsRefused(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromPKCS8(der, &rk.PublicKey); err == nil || !strings.Contains(err.Error(), "not an RSA key") {
		t.Fatalf("an ECDSA key: %v", err)
	}
}

func TestUnreadableKeyNamesTheCall(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fromPKCS8([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, &rk.PublicKey)
	if err == nil || !strings.HasPrefix(err.Error(), "libcrypto: d2i_AutoPrivateKey: ") || strings.Contains(err.Error(), "no error queued") {
		t.Fatalf("garbage DER: %v", err)
	}
}

// A key is checked against the public key its caller holds: libcrypto's
// key and Go's must be the same key.
func TestKeyNotMatchingItsPublicKeyIsRefused(t *testing.T) {
	a, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromPKCS8(der, &b.PublicKey); err == nil || !strings.Contains(err.Error(), "test signature") {
		t.Fatalf("key a with b's public key: %v", err)
	}
	short, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fromPKCS8(der, &short.PublicKey); err == nil || !strings.Contains(err.Error(), "128 bytes in libcrypto and 256 in Go") {
		t.Fatalf("a 1024-bit key with a 2048-bit public key: %v", err)
	}
}

// Contexts set up for signing are kept for the next Sign, no more than
// maxIdle of them after a burst, and Close frees them with the key.
func TestIdleContextsAreKeptAndBounded(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewRSAKey(rk)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(k.idle.ctxs); n != 1 {
		t.Fatalf("after the key's test signature %d contexts are idle, want 1", n)
	}
	d := sha256.Sum256([]byte("burst"))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 * maxIdle {
		wg.Go(func() {
			<-start
			if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := len(k.idle.ctxs); n < 1 || n > maxIdle {
		t.Fatalf("after %d signatures at once %d contexts are idle, want 1 to %d", 4*maxIdle, n, maxIdle)
	}
	k.Close()
	if n := len(k.idle.ctxs); n != 0 {
		t.Fatalf("after Close %d contexts are idle", n)
	}
}
