package pii

import (
	"strings"
	"testing"
)

func TestJSONMasksAndHashesAtAnyDepth(t *testing.T) {
	p := NewPolicy([]string{"iin", "lastName"}, []string{"phone"}, "k")
	out := string(p.JSON([]byte(`{"iin":"931002451325","person":{"lastName":"Abaev","firstName":"Ali","phone":"+77010000000"},"list":[{"iin":123456789012}]}`)))
	for _, want := range []string{`"iin":"**********25"`, `"lastName":"***ev"`, `"firstName":"Ali"`, `"iin":"**********12"`, `"phone":"sha256:`} {
		if !strings.Contains(out, want) {
			t.Errorf("masked JSON %s lacks %s", out, want)
		}
	}
	if strings.Contains(out, "931002451325") || strings.Contains(out, "77010000000") {
		t.Errorf("personal data left in %s", out)
	}
}

func TestHashIsKeyedAndStable(t *testing.T) {
	a, b := NewPolicy(nil, []string{"x"}, "k1"), NewPolicy(nil, []string{"x"}, "k2")
	if a.Hash("v") != a.Hash("v") || a.Hash("v") == b.Hash("v") {
		t.Fatal("hash must be stable per key and differ across keys")
	}
}

func TestXMLMasksElementTextWithAnyPrefix(t *testing.T) {
	p := NewPolicy([]string{"iin", "surname"}, nil, "")
	out := string(p.XML([]byte(`<a><iin>931002451325</iin><ns2:surname x="1">Abaev</ns2:surname><name>Ali</name></a>`)))
	want := `<a><iin>**********25</iin><ns2:surname x="1">***ev</ns2:surname><name>Ali</name></a>`
	if out != want {
		t.Fatalf("got %s\nwant %s", out, want)
	}
}

func TestNonJSONIsKeptAndZeroPolicyIsNoop(t *testing.T) {
	p := NewPolicy([]string{"iin"}, nil, "")
	if got := string(p.JSON([]byte(`iin=1`))); got != "iin=1" {
		t.Fatalf("got %q", got)
	}
	var zero *Policy
	if !zero.Empty() {
		t.Fatal("nil policy must be empty")
	}
}

func TestParentQualifiedRules(t *testing.T) {
	p := NewPolicy([]string{"person/name", "iin"}, nil, "")
	x := string(p.XML([]byte(`<r><person><name>Nurlan</name><citizenship><name>KAZAKHSTAN</name></citizenship></person><iin/><x><iin>931002451325</iin></x></r>`)))
	if want := `<r><person><name>****an</name><citizenship><name>KAZAKHSTAN</name></citizenship></person><iin/><x><iin>**********25</iin></x></r>`; x != want {
		t.Errorf("XML got %s\nwant %s", x, want)
	}
	j := string(p.JSON([]byte(`{"person":{"name":"Nurlan","citizenship":{"name":"KZ"}}}`)))
	if !strings.Contains(j, `"name":"****an"`) || !strings.Contains(j, `"citizenship":{"name":"KZ"}`) {
		t.Errorf("JSON got %s", j)
	}
}

func TestXMLKeepsMalformedDocuments(t *testing.T) {
	p := NewPolicy([]string{"iin"}, nil, "")
	for _, doc := range []string{`<iin>931002451325`, `<<iin>`, `text only iin`, `<a><iin>12</iin`} {
		if got := p.XML([]byte(doc)); len(got) < len(doc)-2 {
			t.Errorf("%q shrank to %q", doc, got)
		}
	}
}

func TestDigestKeepsOnlySizeAndHash(t *testing.T) {
	d := string(Digest([]byte(`{"iin":"931002451325"}`), map[string]any{"key": "MINFIN_X"}))
	if strings.Contains(d, "931002451325") || !strings.Contains(d, `"bytes":22`) || !strings.Contains(d, `"sha256":"`) || !strings.Contains(d, `"key":"MINFIN_X"`) {
		t.Errorf("digest %s", d)
	}
	if Digest(nil, nil) != nil {
		t.Error("empty body must give no digest")
	}
}

// Mask keeps the last two characters, not bytes, and counts an invalid
// byte as one character, as a conversion to runes does.
func TestMaskKeepsTwoCharacters(t *testing.T) {
	for in, want := range map[string]string{"": "", "a": "*", "ab": "**", "abc": "*bc", "Иванов": "****ов",
		"88050130012€": "**********2€", "ab\xffcd": "***cd", "a\xff\xfe": "*\ufffd\ufffd", "\xff\xfe\xfd": "*\ufffd\ufffd"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzMask: Mask is the rune-slice masking it replaced, for any string.
func FuzzMask(f *testing.F) {
	for _, s := range []string{"", "ab", "Иванов", "ab\xffcd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := []rune(v)
		want := strings.Repeat("*", len(r))
		if len(r) > 2 {
			want = strings.Repeat("*", len(r)-2) + string(r[len(r)-2:])
		}
		if got := Mask(v); got != want {
			t.Fatalf("Mask(%q) = %q, want %q", v, got, want)
		}
	})
}
