package xmlsig

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/beevik/etree"

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

// Sign signs signedInfoC14N's bytes and puts signedInfo's element in the
// envelope; a verifier canonicalizes the element. The two must be equal
// byte for byte, including for ids that need escaping, and equal to what
// goxmldsig's canonicalizer makes of the element.
func TestSignedInfoC14N(t *testing.T) {
	for _, id := range []string{"id-5f0c", `a&b<c>d"e'f`, "t\tn\nr\r", "ünïcode", "x]]>y"} {
		env := etree.NewElement("soap:Envelope")
		env.CreateAttr("xmlns:soap", NSSOAP)
		env.CreateAttr("xmlns", "urn:default")
		sec := env.CreateElement("soap:Header").CreateElement("wsse:Security")
		sec.CreateAttr("xmlns:wsse", NSWSSE)
		sec.CreateAttr("xmlns:wsu", NSWSU)
		sig := sec.CreateElement("ds:Signature")
		sig.CreateAttr("xmlns:ds", NSDS)
		digest := "q+/9A&<>\r="
		signedInfo(sig, RSA256, id, digest)
		want, err := canonicalGoxmldsig(sig.SelectElement("SignedInfo"), "")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := canonical(sig.SelectElement("SignedInfo"), ""); err != nil || string(got) != string(want) {
			t.Errorf("id %q: canonical gives\n%s (%v)\nwant %s", id, got, err, want)
		}
		if got := signedInfoC14N(RSA256, id, digest); string(got) != string(want) {
			t.Errorf("id %q:\n got %s\nwant %s", id, got, want)
		}
	}
}
