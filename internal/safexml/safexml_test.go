package safexml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

type doc struct {
	Name  string   `xml:"name"`
	Items []string `xml:"items>item"`
	Count int      `xml:"count"`
}

func reason(t *testing.T, err error) string {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *safexml.Error", err, err)
	}
	return e.Reason
}

func TestDecodeOK(t *testing.T) {
	var d doc
	in := `<?xml version="1.0" encoding="UTF-8"?>
<!-- comment --><doc><name>a &amp; b</name><items><item>1</item><item>2</item></items></doc>
`
	if err := Decode([]byte(in), &d, Limits{}); err != nil {
		t.Fatal(err)
	}
	if d.Name != "a & b" || len(d.Items) != 2 {
		t.Fatalf("%+v", d)
	}
}

const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<lolz>&lol3;</lolz>`

func TestRefused(t *testing.T) {
	cases := []struct {
		name, in, reason, detail string
		lim                      Limits
	}{
		{"billion laughs", billionLaughs, "doctype", "<!DOCTYPE>", Limits{}},
		{"external entity", `<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`, "doctype", "<!DOCTYPE>", Limits{}},
		{"external dtd", `<!DOCTYPE foo SYSTEM "http://attacker.example/x.dtd"><foo/>`, "doctype", "<!DOCTYPE>", Limits{}},
		{"bare entity decl", `<!ENTITY x "y"><foo/>`, "doctype", "<!ENTITY>", Limits{}},
		{"undeclared entity", `<foo>&xxe;</foo>`, "syntax", "entity", Limits{}},
		{"deep", strings.Repeat("<a>", 65) + strings.Repeat("</a>", 65), "depth", "deeper than 64", Limits{}},
		{"deep custom", "<a><b><c/></b></a>", "depth", "deeper than 2", Limits{MaxDepth: 2}},
		{"tokens", "<a>" + strings.Repeat("<b/>", 100) + "</a>", "tokens", "more than 50", Limits{MaxTokens: 50}},
		{"size", "<a>" + strings.Repeat("x", 100) + "</a>", "size", "limit 64", Limits{MaxBytes: 64}},
		{"mismatch", "<a><b></a></b>", "syntax", "<b> closed by </a>", Limits{}},
		{"unclosed", "<a><b></b>", "syntax", "unexpected end of document", Limits{}},
		{"two roots", "<a/><b/>", "syntax", "more than one root", Limits{}},
		{"text outside", "<a/>junk", "syntax", "outside the root", Limits{}},
		{"empty", "", "syntax", "no root element", Limits{}},
		{"garbage", "<a <<", "syntax", "", Limits{}},
		{"charset", `<?xml version="1.0" encoding="windows-1251"?><a/>`, "syntax", "windows-1251", Limits{}},
		{"shape", "<doc><count>many</count></doc>", "decode", "many", Limits{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d doc
			err := Decode([]byte(c.in), &d, c.lim)
			if err == nil {
				t.Fatal("accepted")
			}
			if r := reason(t, err); r != c.reason {
				t.Fatalf("reason %q, want %q (%v)", r, c.reason, err)
			}
			if !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("error %q does not mention %q", err, c.detail)
			}
			if c.reason != "decode" {
				// Check on a stream agrees with Decode on bytes.
				if err := Check(strings.NewReader(c.in), c.lim); err == nil || reason(t, err) != c.reason {
					t.Fatalf("Check = %v", err)
				}
			}
		})
	}
}

func TestErrorLine(t *testing.T) {
	err := Decode([]byte("<a>\n<b>\n<!DOCTYPE x>\n</b></a>"), new(doc), Limits{})
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 {
		t.Fatalf("%#v", err)
	}
	if !strings.Contains(err.Error(), "line 3") {
		t.Fatal(err)
	}
}

func TestCheckStreamStopsEarly(t *testing.T) {
	// A huge stream must be refused after about MaxBytes, not read in full.
	r := &countingReader{r: strings.NewReader("<a>" + strings.Repeat("x", 10<<20) + "</a>")}
	err := Check(r, Limits{MaxBytes: 1 << 10})
	if err == nil || reason(t, err) != "size" {
		t.Fatal(err)
	}
	if r.n > 64<<10 {
		t.Fatalf("read %d bytes", r.n)
	}
	// Exactly at the limit is fine.
	ok := "<a>" + strings.Repeat("x", 1<<10-7) + "</a>"
	if err := Check(strings.NewReader(ok), Limits{MaxBytes: int64(len(ok))}); err != nil {
		t.Fatal(err)
	}
}

type countingReader struct {
	r *strings.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func BenchmarkDecode(b *testing.B) {
	in := []byte("<doc><name>x</name><items>" + strings.Repeat("<item>value</item>", 30) + "</items></doc>")
	b.ReportAllocs()
	for b.Loop() {
		var d doc
		if err := Decode(in, &d, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzDecode checks that the fast pre-scan in Decode is never laxer than
// encoding/xml's own tokenizer about the policy: whatever Decode accepts
// contains no directive where encoding/xml would see one, and stays within
// the limits as Check (the tokenizer-based pass) measures them.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`<doc><name>n</name><items><item>1</item></items></doc>`))
	f.Add([]byte(billionLaughs))
	f.Add([]byte(`<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>`))
	f.Add([]byte(`<a xmlns:x="u"><x:b x:c="1"><![CDATA[<!DOCTYPE]]></x:b><?pi <!DOCTYPE?><!-- <!DOCTYPE --></a>`))
	f.Add([]byte(`<a b='>'><c d=">"/></a>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxBytes: 1 << 12, MaxDepth: 8, MaxTokens: 256}
		var d doc
		err := Decode(data, &d, lim)
		cerr := Check(bytes.NewReader(data), lim)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("untyped error %T %v", err, err)
		}
		if err != nil {
			switch e.Reason {
			case "doctype", "depth", "tokens", "size":
				if cerr == nil {
					t.Fatalf("Decode refused (%v) what Check accepts", err)
				}
			}
			return
		}
		// Accepted: replay encoding/xml's tokenizer up to where Unmarshal
		// stopped (the root's end) and look for what the policy forbids.
		dec := xml.NewDecoder(bytes.NewReader(data))
		depth, tokens := 0, 0
		for {
			tok, terr := dec.RawToken()
			if terr != nil {
				break
			}
			tokens++
			switch tok.(type) {
			case xml.Directive:
				t.Fatalf("accepted a directive: %q", data)
			case xml.StartElement:
				if depth++; depth > lim.MaxDepth {
					t.Fatalf("accepted depth %d: %q", depth, data)
				}
			case xml.EndElement:
				depth--
			}
			if tokens > lim.MaxTokens {
				t.Fatalf("accepted %d tokens", tokens)
			}
		}
	})
}

// open is a type the fast path takes (doc's "items>item" is left to
// encoding/xml), so that Decode's skipping of prescan is what is tested.
type open struct {
	Name  string   `xml:"name"`
	Items []string `xml:"item"`
	Child *open    `xml:"child"`
	Other []string `xml:",any"`
}

// refusedAsPrescan fails t unless Decode refuses data under lim exactly
// as prescan does, when prescan does.
func refusedAsPrescan(t *testing.T, data []byte, lim Limits) (prescanErr error) {
	t.Helper()
	lim = lim.orDefault()
	if int64(len(data)) > lim.MaxBytes {
		return nil
	}
	want := prescan(data, lim)
	got := Decode(data, new(open), lim)
	if want != nil && (got == nil || got.Error() != want.Error()) {
		t.Fatalf("%q under %+v: Decode says %v, prescan %v", data, lim, got, want)
	}
	return want
}

// The fast path's tokenizer takes only documents prescan accepts, so
// Decode, which runs prescan only on what the fast path declines, refuses
// the rest as before: after the root, at the depth and token limits.
func TestDecodeRefusesWhatPrescanRefuses(t *testing.T) {
	cases := []struct {
		in        string
		lim       Limits
		fast, bad bool // the fast path takes it; prescan refuses it
	}{
		{in: "<a><name>n</name></a>\n<!-- after -->\n", fast: true},
		{in: "<a/><!DOCTYPE x>", bad: true},
		{in: "<a/><!-- fine --><!ENTITY x 'y'>", bad: true},
		{in: "<a></a><b/>", bad: true},
		{in: "<a/>junk", bad: true},
		{in: "<a/></a>", bad: true},
		{in: "<a/><!-- unterminated", bad: true},
		{in: "<a/><?pi after?>"},
		{in: "<a><child><child/></child></a>", lim: Limits{MaxDepth: 3}, fast: true},
		{in: "<a><child><child/></child></a>", lim: Limits{MaxDepth: 2}, bad: true},
		{in: "<a><item>1</item><item>2</item></a>", lim: Limits{MaxTokens: 35}, fast: true},
		{in: "<a><item>1</item><item>2</item></a>", lim: Limits{MaxTokens: 34}},
		{in: "<a><item>1</item><item>2</item></a>", lim: Limits{MaxTokens: 8}},
		{in: "<a><item>1</item><item>2</item></a>", lim: Limits{MaxTokens: 7}, bad: true},
	}
	for _, c := range cases {
		lim := c.lim.orDefault()
		if bad := refusedAsPrescan(t, []byte(c.in), c.lim) != nil; bad != c.bad {
			t.Errorf("%q under %+v: prescan refuses it: %v, want %v", c.in, lim, bad, c.bad)
		}
		declined, _ := fastDecode([]byte(c.in), new(open), lim)
		if declined == c.fast {
			t.Errorf("%q under %+v: fast path declined: %v, want %v", c.in, lim, declined, !c.fast)
		}
	}
}

func FuzzDecodeRefusesWhatPrescanRefuses(f *testing.F) {
	f.Add([]byte("<a><name>n</name><item>1</item></a>"), uint8(3), uint8(40))
	f.Add([]byte("<a/><!DOCTYPE x>"), uint8(3), uint8(40))
	f.Add([]byte("<?xml version=\"1.0\"?><!-- c --><a><child><child/></child></a>\n<!-- d -->"), uint8(2), uint8(200))
	f.Add([]byte("<a><b x='>'/></a><c/>"), uint8(8), uint8(8))
	f.Fuzz(func(t *testing.T, data []byte, depth, tokens uint8) {
		refusedAsPrescan(t, data, Limits{MaxBytes: 1 << 16, MaxDepth: int(depth%8) + 1, MaxTokens: int(tokens) + 1})
	})
}
