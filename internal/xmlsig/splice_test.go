package xmlsig

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	mathrand "math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
)

// hashSigner "signs" with the SHA-256 of the data: deterministic and
// cheap, so that the fuzz target compares many envelopes and two
// signings of one envelope compare byte for byte.
type hashSigner struct{ cert *x509.Certificate }

func (hashSigner) Algorithm() Algorithm             { return RSA256 }
func (h hashSigner) Certificate() *x509.Certificate { return h.cert }
func (hashSigner) Sign(data []byte) ([]byte, error) {
	s := sha256.Sum256(data)
	return s[:], nil
}

var (
	testCertOnce sync.Once
	testCert     *x509.Certificate
)

func testSigner(t testing.TB) Signer {
	testCertOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "splice"}, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		if testCert, err = x509.ParseCertificate(der); err != nil {
			panic(err)
		}
	})
	return hashSigner{testCert}
}

func fixedID() string { return "id-fixed" }

// compareSign signs env on both paths and reports a difference in bytes or
// in error. It says whether parseSimple took the envelope.
func compareSign(t *testing.T, s Signer, env []byte) bool {
	t.Helper()
	want, werr := sign(env, s, fixedID, false)
	got, gerr := sign(env, s, fixedID, true)
	switch {
	case (werr != nil) != (gerr != nil) || werr != nil && werr.Error() != gerr.Error():
		t.Fatalf("%q: error %v, the etree path's %v", env, gerr, werr)
	case !bytes.Equal(got, want):
		t.Fatalf("%q:\n got %s\nwant %s", env, got, want)
	}
	_, _, _, simple := parseSimple(env)
	return simple
}

// signCases are envelopes both paths must sign to the same bytes; the
// simple ones must take parseSimple's path, the others must not.
var signCases = []struct {
	env    string
	simple bool
}{
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><m:X xmlns:m="urn:x">1</m:X></soap:Body></soap:Envelope>`, true},
	{xmlDecl + `<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Header/><soap:Body><m:X xmlns:m="urn:x">a &amp; b &lt; c &gt; d &apos;&quot;</m:X></soap:Body></soap:Envelope>`, true},
	{xmlDecl + "\n<!-- c -->\n" + `<soap:Envelope xmlns:soap="` + NSSOAP + `">` + "\n\t" + `<soap:Header><x:h xmlns:x="urn:h" a="1"/><!-- k --></soap:Header>` + "\n" + `<soap:Body a="v"><m:X xmlns:m="urn:x" m:k="ünï ✓ 𝄞">t` + "\n\t" + `<y/></m:X></soap:Body>` + "\n</soap:Envelope>\n<!-- end -->\n", true},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Header>text</soap:Header><soap:Body/></soap:Envelope>`, true},
	{`<Envelope xmlns="` + NSSOAP + `"><Body><m:X xmlns:m="urn:x">1</m:X></Body></Envelope>`, true},
	{`<Envelope xmlns="` + NSSOAP + `"><Header/><Body xmlns=""/></Envelope>`, true},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body xmlns:wsu="` + NSWSU + `" wsu:Id="id-0002"><m:X xmlns:m="urn:x">a</m:X></soap:Body></soap:Envelope>`, true},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body xmlns:wsu="urn:other"><m:X xmlns:m="urn:x">a</m:X></soap:Body></soap:Envelope>`, true},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body xmlns:wsu="urn:other" wsu:Id="x"/></soap:Envelope>`, true},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body xmlns:wsu="` + NSWSU + `"/></soap:Envelope>`, true},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Header><wsse:Security xmlns:wsse="` + NSWSSE + `"/></soap:Header><soap:Body/></soap:Envelope>`, true},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body/><soap:Body/></soap:Envelope>`, true},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body/><x/></soap:Envelope>`, true},
	{`<soap:Envelope xmlns:soap="urn:not-soap"><soap:Body/></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><u:x/></soap:Body></soap:Envelope>`, true},
	// Outside the simple form: each is written differently by etree.
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><m:X xmlns:m="urn:x"></m:X></soap:Body></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap='` + NSSOAP + `'><soap:Body/></soap:Envelope>`, false},
	{`<soap:Envelope  xmlns:soap="` + NSSOAP + `"><soap:Body /></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body>a > b ' "</soap:Body></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body>&#65;&#x42;</soap:Body></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><![CDATA[<x>]]></soap:Body></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><?pi x?></soap:Body></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body a="x` + "\t" + `y"/></soap:Envelope>`, false},
	{"<soap:Envelope xmlns:soap=\"" + NSSOAP + "\"><soap:Body>a\r\nb</soap:Body></soap:Envelope>", false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body a="1" a="2"/></soap:Envelope>`, false},
	{`<?xml version="1.0"?><soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body/></soap:Envelope>`, false},
	{`<!DOCTYPE x><soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body/></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body/></soap:Envelope><x/>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body></soap:Bod></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><a:b:c/></soap:Body></soap:Envelope>`, false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body><!-- a--b --></soap:Body></soap:Envelope>`, false},
	{"\ufeff<soap:Envelope xmlns:soap=\"" + NSSOAP + "\"><soap:Body/></soap:Envelope>", false},
	{`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body>` + strings.Repeat("<a>", 120) + strings.Repeat("</a>", 120) + `</soap:Body></soap:Envelope>`, false},
}

// signFiles are the repository's SOAP samples.
var signFiles = []string{
	"testdata/*.xml",
	"../../contracts/*/testdata/*.xml",
	"../../contracts/*/*/testdata/*.xml",
	"../../adapters/*/testdata/*.xml",
	"../../mocks/*/testdata/*.xml",
	"../../deploy/bench/shep-gbdfl.xml",
}

func TestSignSimpleMatchesEtree(t *testing.T) {
	s := testSigner(t)
	for _, c := range signCases {
		if simple := compareSign(t, s, []byte(c.env)); simple != c.simple {
			t.Errorf("%s: parseSimple took it: %v, want %v", c.env, simple, c.simple)
		}
	}
	simple := 0
	eachFile(t, signFiles, func(_ string, b []byte) {
		if compareSign(t, s, b) {
			simple++
		}
	})
	// The unsigned gbdfl request (in several packages' testdata) and the
	// bench's envelope are in the simple form.
	if simple < 3 {
		t.Fatalf("parseSimple took %d of the repository's envelopes", simple)
	}
}

// Signing through the simple path still makes a signature Verify accepts.
func TestSignSimpleVerifies(t *testing.T) {
	s := testSigner(t)
	for _, c := range signCases {
		if !c.simple {
			continue
		}
		signed, err := sign([]byte(c.env), s, newBodyID, true)
		if err != nil {
			continue
		}
		if _, err := Inspect(signed); err != nil {
			t.Errorf("%s: %v", signed, err)
		}
		if _, err := Verify(signed); err == nil || reasonOf(err) != ReasonInvalid {
			// hashSigner's value is no RSA signature: everything up to the
			// signature value must pass, the value itself must not.
			t.Errorf("%s: %v", signed, err)
		}
	}
}

func reasonOf(err error) Reason {
	if e, ok := err.(*Error); ok {
		return e.Reason
	}
	return ""
}

// FuzzSignSimple holds the simple path to the etree path on whatever the
// fuzzer makes of the cases.
func FuzzSignSimple(f *testing.F) {
	for _, c := range signCases {
		f.Add(c.env)
	}
	s := testSigner(f)
	f.Fuzz(func(t *testing.T, env string) {
		compareSign(t, s, []byte(env))
	})
}

// appendElement writes what etree writes with its default settings, for
// the repository's XML and for trees holding what the parser cannot
// produce.
func TestAppendElementMatchesEtree(t *testing.T) {
	check := func(name string, el *etree.Element) {
		t.Helper()
		var want bytes.Buffer
		el.WriteTo(&want, &etree.WriteSettings{})
		if got := appendElement(nil, el); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want.Bytes())
		}
	}
	eachFile(t, c14nFiles, func(name string, b []byte) {
		doc, err := readForC14N(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		check(name, doc.Root())
	})
	for _, s := range []string{"&<>'\"\t\n\r x", "\x00\x01\x1f\x7f", "a\xffb\xc3", "\uFFFE\uFFFF\uFFFD", "ünï ✓ 𝄞", "]]>", "-- x --", "?>"} {
		el := etree.NewElement("p:r")
		el.CreateAttr("v", s)
		el.CreateAttr("q:w", s)
		el.CreateText(s)
		el.CreateCData(s)
		el.CreateComment(s)
		el.CreateProcInst("pi", s)
		el.CreateDirective(s)
		el.CreateElement("c").CreateAttr("w", s)
		check(strings.ToValidUTF8(s, "?"), el)
	}
}

// Random envelopes in the simple form, which the fuzzer's mutations mostly
// leave: each must take parseSimple's path and sign to the etree path's
// bytes.
func TestSignSimpleRandomEnvelopes(t *testing.T) {
	s := testSigner(t)
	r := mathrand.New(mathrand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	text := func() string {
		var b strings.Builder
		for range r.IntN(6) {
			b.WriteString(pick("a", "Z9", " ", "\n", "\t", "&amp;", "&lt;", "&gt;", "&apos;", "&quot;", "ü", "𝄞", "="))
		}
		return b.String()
	}
	attrs := func() string {
		var b strings.Builder
		seen := map[string]bool{}
		for range r.IntN(4) {
			name := pick("k", "p:k", "q:k", "p:j", "xmlns:p", "xmlns:q", "xmlns", "wsu:Id", "xmlns:wsu")
			if seen[name] {
				continue
			}
			seen[name] = true
			value := text()
			switch name {
			case "xmlns:p", "xmlns:q":
				value = pick("urn:p", "urn:q", "urn:"+value)
			case "xmlns":
				value = pick("", "urn:d", NSSOAP)
			case "xmlns:wsu":
				value = pick(NSWSU, "urn:w")
			}
			if strings.ContainsAny(value, "\n\t") {
				continue
			}
			b.WriteString(" " + name + `="` + value + `"`)
		}
		return b.String()
	}
	var element func(name string, depth int) string
	content := func(depth int) string {
		var b strings.Builder
		for range r.IntN(4) {
			switch r.IntN(4) {
			case 0:
				b.WriteString(text())
			case 1:
				b.WriteString("<!--" + pick("", " c ", "ü", "a-b") + "-->")
			default:
				if depth < 5 {
					b.WriteString(element(pick("a", "p:b", "q:c", "x-y.z", "soap:Body"), depth+1))
				}
			}
		}
		return b.String()
	}
	element = func(name string, depth int) string {
		c := content(depth)
		if c == "" {
			return "<" + name + attrs() + "/>"
		}
		return "<" + name + attrs() + ">" + c + "</" + name + ">"
	}
	signed := 0
	for range 3000 {
		prefix, decl := "soap:", ` xmlns:soap="`+NSSOAP+`"`
		if r.IntN(4) == 0 {
			prefix, decl = "", ` xmlns="`+NSSOAP+`"`
		}
		var env strings.Builder
		if r.IntN(2) == 0 {
			env.WriteString(xmlDecl)
		}
		env.WriteString(pick("", "\n", "<!-- x -->\n"))
		env.WriteString("<" + prefix + "Envelope" + decl + pick("", ` xmlns:p="urn:p"`) + ">" + pick("", "\n"))
		switch r.IntN(3) {
		case 0:
			env.WriteString("<" + prefix + "Header/>")
		case 1:
			env.WriteString(element(prefix+"Header", 3) + pick("", "\n"))
		}
		env.WriteString(element(prefix+"Body", 1))
		env.WriteString(pick("", "\n") + "</" + prefix + "Envelope>" + pick("", "\n", "\n<!-- end -->"))
		if !compareSign(t, s, []byte(env.String())) {
			t.Fatalf("parseSimple declined %s", env.String())
		}
		if _, err := sign([]byte(env.String()), s, fixedID, true); err == nil {
			signed++
		}
	}
	// The rest are refused alike on both paths (an undeclared prefix, a
	// Body that is not the Envelope's child, …); most must sign.
	if signed < 1000 {
		t.Fatalf("only %d of 3000 envelopes signed", signed)
	}
}
