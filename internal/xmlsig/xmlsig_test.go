package xmlsig_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/minfin-kz/kopir/internal/testenv"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	ca       *testpki.CA
	signer   xmlsig.Signer
	cert     *x509.Certificate
	trust    *xmlsig.Trust
	other    *testpki.CA
	unsigned []byte
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
)

// pki builds one CA and signer for the whole package: RSA key generation
// is the slow part of these tests.
func pki(t testing.TB) *fixture {
	t.Helper()
	fixOnce.Do(func() {
		f := &fix
		if f.ca, fixErr = testpki.NewCA("Test root", now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0)); fixErr != nil {
			return
		}
		if f.signer, f.cert, fixErr = f.ca.Signer(testpki.Leaf{CommonName: "Test sender", NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), Policies: []string{xmlsig.PolicySigning}}); fixErr != nil {
			return
		}
		if f.trust, fixErr = xmlsig.NewTrust([]*x509.Certificate{f.ca.Cert}, nil, nil, ""); fixErr != nil {
			return
		}
		if f.other, fixErr = testpki.NewCA("Other root", now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0)); fixErr != nil {
			return
		}
		f.unsigned, fixErr = os.ReadFile("testdata/shep_sync_sendmessage_gbdfl_request.xml")
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return &fix
}

func reason(t *testing.T, err error) xmlsig.Reason {
	t.Helper()
	var e *xmlsig.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *xmlsig.Error, got %T %v", err, err)
	}
	return e.Reason
}

func TestSignProducesGatewayLayoutAndVerifies(t *testing.T) {
	f := pki(t)
	signed, err := xmlsig.Sign(f.unsigned, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	s := string(signed)
	for _, want := range []string{
		`SOAP-ENV:mustUnderstand="1"`,
		`<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"`,
		`<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"`,
		`<ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"`,
		`ValueType="` + xmlsig.ValueTypeX509v3 + `"`,
		`EncodingType="` + xmlsig.EncodingBase64 + `"`,
		`wsu:Id="id-`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("signed envelope lacks %s\n%s", want, s)
		}
	}
	if n := strings.Count(s, "<ds:Signature "); n != 1 {
		t.Errorf("%d ds:Signature elements, want 1", n)
	}
	if strings.Index(s, "wsse:Security") > strings.Index(s, "SOAP-ENV:Body") {
		t.Error("wsse:Security must be in the Header, before the Body")
	}
	v, err := xmlsig.Verify(signed)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Certificate.Equal(f.cert) || v.SignatureMethod != xmlsig.RSASHA256 {
		t.Fatalf("verified %+v", v)
	}
	if err := f.trust.Check(t.Context(), v.Certificate, now); err != nil {
		t.Fatal(err)
	}
}

func TestSignKeepsExistingBodyIDAndAddsHeader(t *testing.T) {
	f := pki(t)
	env := []byte(`<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body xmlns:wsu="` + xmlsig.NSWSU + `" wsu:Id="id-0002"><m:X xmlns:m="urn:x">a &amp; b</m:X></soap:Body></soap:Envelope>`)
	signed, err := xmlsig.Sign(env, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(signed, []byte(`URI="#id-0002"`)) || !bytes.Contains(signed, []byte("<soap:Header>")) {
		t.Fatalf("%s", signed)
	}
	if _, err := xmlsig.Verify(signed); err != nil {
		t.Fatal(err)
	}
	if _, err := xmlsig.Sign(signed, f.signer); err == nil {
		t.Fatal("signing twice must be refused: the gateway accepts one signature")
	}
}

// The public NCANode sample was signed by Kalkan (Java) with an NCA RSA
// test certificate: verifying it checks our canonicalization against an
// independent implementation. Its certificate is long expired and not
// ours to trust, which the trust check must say.
func TestVerifiesIndependentlySignedSample(t *testing.T) {
	f := pki(t)
	b, err := os.ReadFile("testdata/shep_sync_sendmessage_gbdfl_request_signed_rsa.xml")
	if err != nil {
		t.Fatal(err)
	}
	v, err := xmlsig.Verify(b)
	if err != nil {
		t.Fatal(err)
	}
	if v.BodyID != "id-0ace83d4-0477-4890-90b2-50b3bd434949" {
		t.Fatalf("body id %q", v.BodyID)
	}
	if got := reason(t, f.trust.Check(t.Context(), v.Certificate, now)); got != xmlsig.ReasonExpired {
		t.Fatalf("reason %s", got)
	}
	nca := v.Certificate
	if got := reason(t, f.trust.Check(t.Context(), nca, nca.NotBefore.Add(time.Hour))); got != xmlsig.ReasonUntrusted {
		t.Fatalf("reason %s", got)
	}
	tampered := bytes.Replace(b, []byte("<iin>931002451325</iin>"), []byte("<iin>931002451326</iin>"), 1)
	if got := reason(t, verifyErr(tampered)); got != xmlsig.ReasonInvalid {
		t.Fatalf("reason %s", got)
	}
}

func verifyErr(b []byte) error {
	_, err := xmlsig.Verify(b)
	return err
}

func TestTamperingIsCaught(t *testing.T) {
	f := pki(t)
	signed, err := xmlsig.Sign(f.unsigned, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := f.other.Signer(testpki.Leaf{CommonName: "Intruder", NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	otherSigned, err := xmlsig.Sign(f.unsigned, other)
	if err != nil {
		t.Fatal(err)
	}
	certOf := func(b []byte) string {
		s := string(b)
		i := strings.Index(s, `#X509v3">`) + len(`#X509v3">`)
		return s[i : i+strings.Index(s[i:], "<")]
	}
	digestOf := func(b []byte) string {
		s := string(b)
		i := strings.Index(s, "<ds:DigestValue>") + len("<ds:DigestValue>")
		return s[i : i+strings.Index(s[i:], "<")]
	}
	s := string(signed)
	bodyStart := strings.Index(s, "<SOAP-ENV:Body")
	cases := []struct {
		name string
		env  string
		want xmlsig.Reason
	}{
		{"body value changed", strings.Replace(s, "931002451325", "931002451326", 1), xmlsig.ReasonInvalid},
		{"body element added", strings.Replace(s, "<iin>", "<extra/><iin>", 1), xmlsig.ReasonInvalid},
		{"digest replaced", strings.Replace(s, digestOf(signed), digestOf(otherSigned), 1), xmlsig.ReasonInvalid},
		{"certificate swapped", strings.Replace(s, certOf(signed), certOf(otherSigned), 1), xmlsig.ReasonInvalid},
		{"signature removed", s[:strings.Index(s, "<wsse:Security")] + s[strings.Index(s, "</wsse:Security>")+len("</wsse:Security>"):], xmlsig.ReasonMissing},
		{"no header", string(f.unsigned), xmlsig.ReasonMissing},
		{"second body (wrapping)", strings.Replace(s, "</SOAP-ENV:Envelope>", `<SOAP-ENV:Body><x/></SOAP-ENV:Body></SOAP-ENV:Envelope>`, 1), xmlsig.ReasonWrapping},
		{"duplicate id", strings.Replace(s, "<iin>", `<iin wsu:Id="`+idOf(s)+`">`, 1), xmlsig.ReasonWrapping},
		{"duplicate id in another attribute", strings.Replace(s, "<iin>", `<iin ID="`+idOf(s)+`">`, 1), xmlsig.ReasonWrapping},
		{"reference elsewhere", strings.Replace(s, `URI="#`, `URI="#x`, 1), xmlsig.ReasonWrapping},
		{"reference to the whole document", strings.Replace(s, `URI="#`+idOf(s)+`"`, `URI=""`, 1), xmlsig.ReasonWrapping},
		{"body without its id", strings.Replace(s, ` wsu:Id="`+idOf(s)+`"`, ``, 1), xmlsig.ReasonWrapping},
		{"signed body moved into the header, a new one processed", movedBody(s), xmlsig.ReasonWrapping},
		{"signed body copied into the header", copiedBody(s), xmlsig.ReasonWrapping},
		{"unsupported algorithm", strings.Replace(s, xmlsig.RSASHA256, xmlsig.GOST2015_256, 1), xmlsig.ReasonUnsupported},
		{"inclusive c14n", strings.Replace(s, `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"`, `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315"`, 1), xmlsig.ReasonUnsupported},
		{"two signatures", strings.Replace(s, "</wsse:Security>", s[strings.Index(s, "<ds:Signature "):strings.Index(s, "</ds:Signature>")+len("</ds:Signature>")]+"</wsse:Security>", 1), xmlsig.ReasonMalformed},
		{"not xml", s[:bodyStart], xmlsig.ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := reason(t, verifyErr([]byte(c.env))); got != c.want {
				t.Fatalf("reason %s, want %s", got, c.want)
			}
		})
	}
	if _, err := xmlsig.Verify(otherSigned); err != nil {
		t.Fatalf("the intruder's own envelope is validly signed (just not trusted): %v", err)
	}
}

// movedBody is the classic wrapping attack: the signed Body goes into the
// Header, where a verifier that resolves the Reference by Id still finds
// it, and a Body without an Id takes its place for the application.
func movedBody(s string) string {
	i, j := strings.Index(s, "<SOAP-ENV:Body"), strings.Index(s, "</SOAP-ENV:Body>")+len("</SOAP-ENV:Body>")
	signed := s[i:j]
	out := s[:i] + `<SOAP-ENV:Body><evil/></SOAP-ENV:Body>` + s[j:]
	return strings.Replace(out, "</SOAP-ENV:Header>", "<Wrapper>"+signed+"</Wrapper></SOAP-ENV:Header>", 1)
}

// copiedBody keeps the Body where it is but without its Id, and a copy
// of the signed Body, renamed, carries the Id the Reference names.
func copiedBody(s string) string {
	i, j := strings.Index(s, "<SOAP-ENV:Body"), strings.Index(s, "</SOAP-ENV:Body>")+len("</SOAP-ENV:Body>")
	signed := s[i:j]
	decoy := strings.Replace(strings.Replace(signed, "<SOAP-ENV:Body", "<Decoy", 1), "</SOAP-ENV:Body>", "</Decoy>", 1)
	out := s[:i] + strings.Replace(signed, ` wsu:Id="`+idOf(s)+`"`, "", 1) + s[j:]
	return strings.Replace(out, "</SOAP-ENV:Header>", decoy+"</SOAP-ENV:Header>", 1)
}

func TestIdentityOfNCACertificates(t *testing.T) {
	f := pki(t)
	issue := func(l testpki.Leaf) *x509.Certificate {
		l.NotBefore, l.NotAfter = now.AddDate(0, -1, 0), now.AddDate(1, 0, 0)
		c, _, err := f.ca.Issue(l)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for name, c := range map[string]struct {
		leaf testpki.Leaf
		want xmlsig.Identity
	}{
		"organisation":          {testpki.Leaf{CommonName: "org", SerialNumber: "BIN000740000728"}, xmlsig.Identity{BIN: "000740000728"}},
		"employee":              {testpki.Leaf{CommonName: "emp", SerialNumber: "IIN880501300124", OrganizationalUnit: "BIN151240001235"}, xmlsig.Identity{BIN: "151240001235", IIN: "880501300124"}},
		"person":                {testpki.Leaf{CommonName: "p", SerialNumber: "IIN880501300124"}, xmlsig.Identity{IIN: "880501300124"}},
		"no serial":             {testpki.Leaf{CommonName: "none"}, xmlsig.Identity{}},
		"digits without prefix": {testpki.Leaf{CommonName: "x", SerialNumber: "000740000728"}, xmlsig.Identity{}},
		"too short":             {testpki.Leaf{CommonName: "x", SerialNumber: "BIN00074000072"}, xmlsig.Identity{}},
		"letters":               {testpki.Leaf{CommonName: "x", SerialNumber: "BIN00074000072X"}, xmlsig.Identity{}},
	} {
		if got := xmlsig.IdentityOf(issue(c.leaf)); got != c.want {
			t.Errorf("%s: %+v, want %+v", name, got, c.want)
		}
	}
}

func idOf(s string) string {
	i := strings.Index(s, `wsu:Id="`) + len(`wsu:Id="`)
	return s[i : i+strings.Index(s[i:], `"`)]
}

func TestTrust(t *testing.T) {
	f := pki(t)
	valid := testpki.Leaf{CommonName: "ok", NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), Policies: []string{xmlsig.PolicySigning}}
	issue := func(ca *testpki.CA, l testpki.Leaf) *x509.Certificate {
		c, _, err := ca.Issue(l)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	expired := valid
	expired.NotBefore, expired.NotAfter = now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 0)
	future := valid
	future.NotBefore = now.Add(time.Hour)
	encOnly := valid
	encOnly.KeyUsage = x509.KeyUsageKeyEncipherment
	authOnly := valid
	authOnly.Policies = []string{xmlsig.PolicyAuth}

	revokedCert := issue(f.ca, valid)
	crl, _, err := f.ca.CRL([]*x509.Certificate{revokedCert}, now.Add(-time.Hour), now.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	withCRL, err := xmlsig.NewTrust([]*x509.Certificate{f.ca.Cert}, nil, []*x509.RevocationList{crl}, xmlsig.PolicySigning)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cert *x509.Certificate
		at   time.Time
		want xmlsig.Reason // "" = trusted
	}{
		{"valid", issue(f.ca, valid), now, ""},
		{"other root", issue(f.other, valid), now, xmlsig.ReasonUntrusted},
		{"expired", issue(f.ca, expired), now, xmlsig.ReasonExpired},
		{"not yet valid", issue(f.ca, future), now, xmlsig.ReasonExpired},
		{"encryption key", issue(f.ca, encOnly), now, xmlsig.ReasonKeyUsage},
		{"auth policy where signing is required", issue(f.ca, authOnly), now, xmlsig.ReasonPolicy},
		{"revoked", revokedCert, now, xmlsig.ReasonRevoked},
		{"crl stale", issue(f.ca, valid), now.AddDate(0, 0, 8), xmlsig.ReasonCRL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := withCRL.Check(t.Context(), c.cert, c.at)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if got := reason(t, err); got != c.want {
				t.Fatalf("reason %s, want %s (%v)", got, c.want, err)
			}
		})
	}
	if err := f.trust.Check(t.Context(), revokedCert, now); err != nil {
		t.Fatalf("without the CRL the certificate is trusted: %v", err)
	}
	forged, _, err := f.other.CRL(nil, now, now.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := xmlsig.NewTrust([]*x509.Certificate{f.ca.Cert}, nil, []*x509.RevocationList{forged}, ""); err == nil {
		t.Fatal("a CRL signed by an unconfigured CA must be refused")
	}
}

func TestLoadSignerAndTrustFromFiles(t *testing.T) {
	f := pki(t)
	dir := t.TempDir()
	cert, key, err := f.ca.Issue(testpki.Leaf{CommonName: "file", NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPath := write("c.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	keyPath := write("k.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	rootPath := write("root.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ca.Cert.Raw}))
	p12, err := pkcs12.Modern.Encode(key, cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	p12Path := write("k.p12", p12)
	t.Setenv("TEST_P12_PASS", "s3cret")

	trust, err := xmlsig.LoadTrust(xmlsig.TrustConfig{Roots: []string{rootPath}})
	if err != nil {
		t.Fatal(err)
	}
	for _, kc := range []xmlsig.KeyConfig{
		{Cert: certPath, Key: keyPath},
		{PKCS12: p12Path, PasswordEnv: "TEST_P12_PASS"},
	} {
		s, err := xmlsig.LoadSigner(kc)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := xmlsig.Sign(f.unsigned, s)
		if err != nil {
			t.Fatal(err)
		}
		v, err := xmlsig.Verify(signed)
		if err != nil {
			t.Fatal(err)
		}
		if err := trust.Check(t.Context(), v.Certificate, now); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := xmlsig.LoadSigner(xmlsig.KeyConfig{PKCS12: p12Path, DemoPassword: "wrong"}); err == nil {
		t.Fatal("wrong PKCS#12 password accepted")
	}
	if _, err := xmlsig.LoadSigner(xmlsig.KeyConfig{Cert: rootPath, Key: keyPath}); err == nil {
		t.Fatal("a certificate that does not match the key must be refused")
	}
}

func TestDemoPKIIsUsable(t *testing.T) {
	dir := t.TempDir()
	if err := testpki.WriteDemo(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	trust, err := xmlsig.LoadTrust(xmlsig.TrustConfig{Roots: []string{p(testpki.DemoCA)}, CRLs: []string{p(testpki.DemoCRL)}, Policy: xmlsig.PolicySigning})
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range [][2]string{{testpki.DemoKopirCert, testpki.DemoKopirKey}, {testpki.DemoGatewayCrt, testpki.DemoGatewayKey}} {
		s, err := xmlsig.LoadSigner(xmlsig.KeyConfig{Cert: p(who[0]), Key: p(who[1])})
		if err != nil {
			t.Fatal(err)
		}
		if err := trust.Check(t.Context(), s.Certificate(), time.Now()); err != nil {
			t.Fatal(err)
		}
		if xmlsig.IdentityOf(s.Certificate()).BIN == "" {
			t.Fatalf("%s carries no BIN: the sender binding of the demo config needs one", who[0])
		}
	}
	s, err := xmlsig.LoadSigner(xmlsig.KeyConfig{PKCS12: p(testpki.DemoKopirP12), PasswordFile: p(testpki.DemoKopirP12Pass)})
	if err != nil {
		t.Fatal(err)
	}
	if err := trust.Check(t.Context(), s.Certificate(), time.Now()); err != nil || s.Certificate().Subject.CommonName != "Köpir DEMO sender" {
		t.Fatalf("the demo PKCS#12 holds %q: %v", s.Certificate().Subject, err)
	}
}

// BenchmarkSign is the whole signing of one envelope: parse, C14N and
// digest of the Body, the RSA signature, the envelope written out. Beside
// ns/op it reports cpu-ns/op, the process's user+system time per envelope
// (collector included), which is what `openssl speed` divides by: make
// bench sets it against one RSA-2048 signature.
func BenchmarkSign(b *testing.B) {
	f := pki(b)
	report := testenv.CPUPerOp(b)
	for b.Loop() {
		if _, err := xmlsig.Sign(f.unsigned, f.signer); err != nil {
			b.Fatal(err)
		}
	}
	report()
}

func BenchmarkVerify(b *testing.B) {
	f := pki(b)
	signed, err := xmlsig.Sign(f.unsigned, f.signer)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := xmlsig.Verify(signed); err != nil {
			b.Fatal(err)
		}
	}
}

// An envelope in the default namespace has no prefix for mustUnderstand;
// the signer declares one on the Security header.
func TestSignDefaultNamespaceEnvelope(t *testing.T) {
	f := pki(t)
	env := []byte(`<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body><m:X xmlns:m="urn:x">1</m:X></Body></Envelope>`)
	signed, err := xmlsig.Sign(env, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(signed, []byte(`xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" soapenv:mustUnderstand="1"`)) {
		t.Fatalf("%s", signed)
	}
	if _, err := xmlsig.Verify(signed); err != nil {
		t.Fatal(err)
	}
}
