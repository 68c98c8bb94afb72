package pki_test

import (
	"testing"

	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/mocks/pki"
)

// kopir.p12 must hold the key and certificate of kopir.key and kopir.pem:
// a demo PKI reissued without it would leave the NCANode demo signing with
// a certificate nobody trusts any more.
func TestPKCS12IsKopirsKey(t *testing.T) {
	s, err := xmlsig.LoadSigner(xmlsig.KeyConfig{PKCS12: testpki.DemoKopirP12, PasswordFile: testpki.DemoKopirP12Pass})
	if err != nil {
		t.Fatal(err)
	}
	pemCert, err := pki.Files.ReadFile(testpki.DemoKopirCert)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := xmlsig.ParseCertificates(pemCert)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Certificate().Equal(certs[0]) {
		t.Fatalf("%s does not hold %s: run go run ./internal/xmlsig/cmd/demopki -dir mocks/pki -p12-only", testpki.DemoKopirP12, testpki.DemoKopirCert)
	}
}
