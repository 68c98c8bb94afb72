package xmlsig

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/libcrypto"
)

// A software RSA key signs through libcrypto, not crypto/rsa.
func TestSoftwareRSAKeySignsWithLibcrypto(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "self"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewRSASigner(key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := s.(*rsaSigner).key.(*libcrypto.RSAKey); !ok {
		t.Fatalf("the software key signs with %T", s.(*rsaSigner).key)
	} else if !k.Public().(*rsa.PublicKey).Equal(&key.PublicKey) {
		t.Fatal("libcrypto holds another key")
	}
}
