package xmlsig_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

// The local providers are Sign and Verify+Trust behind the provider
// interfaces: what one signs, the other accepts, at the verifier's clock.
func TestLocalProviders(t *testing.T) {
	f := pki(t)
	var s xmlsig.EnvelopeSigner = xmlsig.LocalSigner{S: f.signer}
	signed, err := s.SignEnvelope(context.Background(), f.unsigned)
	if err != nil {
		t.Fatal(err)
	}
	var v xmlsig.EnvelopeVerifier = xmlsig.LocalVerifier{Trust: f.trust, Now: func() time.Time { return now }}
	got, err := v.VerifyEnvelope(context.Background(), signed)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Certificate.Equal(f.cert) || got.SignatureMethod != xmlsig.RSASHA256 {
		t.Fatalf("verified %+v", got)
	}
	late := xmlsig.LocalVerifier{Trust: f.trust, Now: func() time.Time { return now.AddDate(3, 0, 0) }}
	if _, err := late.VerifyEnvelope(context.Background(), signed); reason(t, err) != xmlsig.ReasonExpired {
		t.Fatalf("verifier's clock ignored: %v", err)
	}
}

// Inspect holds an envelope to the layout without the cryptography: a
// signature by an unknown algorithm (GOST, checked elsewhere) passes, a
// wrapped one does not, and a tampered body is none of its business.
func TestInspectChecksLayoutOnly(t *testing.T) {
	f := pki(t)
	signed, err := xmlsig.Sign(f.unsigned, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	s := string(signed)
	gost := strings.Replace(strings.Replace(s, xmlsig.RSASHA256, xmlsig.GOST2015_512, 1), xmlsig.DigestSHA256, "urn:ietf:params:xml:ns:pkigovkz:xmlsec:algorithms:gostr34112015-512", 1)
	v, err := xmlsig.Inspect([]byte(gost))
	if err != nil {
		t.Fatal(err)
	}
	if v.SignatureMethod != xmlsig.GOST2015_512 || !v.Certificate.Equal(f.cert) || v.BodyID != idOf(s) {
		t.Fatalf("inspected %+v", v)
	}
	if _, err := xmlsig.Inspect([]byte(strings.Replace(s, "931002451325", "931002451326", 1))); err != nil {
		t.Fatalf("a changed body is the cryptography's question: %v", err)
	}
	for name, c := range map[string]struct {
		env  string
		want xmlsig.Reason
	}{
		"unsigned":            {string(f.unsigned), xmlsig.ReasonMissing},
		"second body":         {s[:len(s)-len("</SOAP-ENV:Envelope>")] + `<SOAP-ENV:Body><x/></SOAP-ENV:Body></SOAP-ENV:Envelope>`, xmlsig.ReasonMalformed},
		"duplicate id":        {strings.Replace(s, "<iin>", `<iin wsu:Id="`+idOf(s)+`">`, 1), xmlsig.ReasonWrapping},
		"reference elsewhere": {strings.Replace(s, `URI="#`, `URI="#x`, 1), xmlsig.ReasonWrapping},
		"no certificate":      {strings.Replace(s, "wsse:KeyIdentifier", "wsse:Other", 2), xmlsig.ReasonMalformed},
	} {
		if _, err := xmlsig.Inspect([]byte(c.env)); reason(t, err) != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
}

func TestCheckUse(t *testing.T) {
	f := pki(t)
	l := testpki.Leaf{CommonName: "auth", NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageKeyEncipherment, Policies: []string{xmlsig.PolicyAuth}}
	enc, _, err := f.ca.Issue(l)
	if err != nil {
		t.Fatal(err)
	}
	if err := xmlsig.CheckUse(f.cert, xmlsig.PolicySigning); err != nil {
		t.Fatal(err)
	}
	if err := xmlsig.CheckUse(f.cert, ""); err != nil {
		t.Fatal(err)
	}
	if got := reason(t, xmlsig.CheckUse(enc, "")); got != xmlsig.ReasonKeyUsage {
		t.Fatalf("reason %s", got)
	}
	l.KeyUsage = x509.KeyUsageDigitalSignature
	auth, _, err := f.ca.Issue(l)
	if err != nil {
		t.Fatal(err)
	}
	if got := reason(t, xmlsig.CheckUse(auth, xmlsig.PolicySigning)); got != xmlsig.ReasonPolicy {
		t.Fatalf("reason %s", got)
	}
	if err := xmlsig.CheckUse(auth, "not-an-oid"); err == nil {
		t.Fatal("a malformed policy OID was accepted")
	}
}

func TestUnavailableIsMarked(t *testing.T) {
	e := xmlsig.Unavailable("NCANODE_UNREACHABLE", "connection refused to %s", "x")
	if !e.Unavailable || e.Reason != "NCANODE_UNREACHABLE" || e.Error() != "NCANODE_UNREACHABLE: connection refused to x" {
		t.Fatalf("%+v", e)
	}
}

// A remote provider is handed the container and its password as
// configured; the password may live in a file (trailing newline dropped).
func TestPKCS12Material(t *testing.T) {
	f := pki(t)
	cert, key, err := f.ca.Issue(testpki.Leaf{CommonName: "p12", NotBefore: now, NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(key, cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p12Path, passPath := filepath.Join(dir, "k.p12"), filepath.Join(dir, "pass")
	if err := os.WriteFile(p12Path, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(passPath, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, pass, err := xmlsig.KeyConfig{PKCS12: p12Path, PasswordFile: passPath}.PKCS12Material()
	if err != nil || pass != "s3cret" || !bytes.Equal(b, p12) {
		t.Fatalf("material: %q %v", pass, err)
	}
	if _, _, err := (xmlsig.KeyConfig{PKCS12: p12Path, PasswordEnv: "KOPIR_TEST_UNSET_P12_PASSWORD"}).PKCS12Material(); err == nil || !strings.Contains(err.Error(), "KOPIR_TEST_UNSET_P12_PASSWORD") {
		t.Fatalf("unset password variable: %v", err)
	}
	if _, _, err := (xmlsig.KeyConfig{Cert: "c.pem", Key: "k.pem"}).PKCS12Material(); err == nil {
		t.Fatal("material without a container")
	}
}
