package xmlsig

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// canonicalGoxmldsig is the exclusive C14N the package used before
// canonical, kept as the oracle canonical is held to byte for byte: el is
// copied out with the namespace declarations in scope at its place
// (goxmldsig's canonicalizer sees only the element it is handed),
// goxmldsig's transform keeps the visibly used ones, and etree writes the
// copy.
func canonicalGoxmldsig(el *etree.Element, inclusivePrefixes string) ([]byte, error) {
	cp := detach(el)
	if err := etreeutils.TransformExcC14n(cp, inclusivePrefixes, false); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(cp)
	doc.WriteSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalEndTags: true, CanonicalText: true}
	return doc.WriteToBytes()
}

// detach copies el and declares on the copy every namespace in scope from
// its ancestors that el does not redeclare. It is etreeutils.NSDetatch
// without that function's 1000-element traversal cap, which a large
// registry answer would exceed.
func detach(el *etree.Element) *etree.Element {
	cp := el.Copy()
	declared := map[string]bool{}
	for _, a := range cp.Attr {
		switch {
		case a.Space == "xmlns":
			declared[a.Key] = true
		case a.Space == "" && a.Key == "xmlns":
			declared[""] = true
		}
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			var prefix string
			switch {
			case a.Space == "xmlns":
				prefix = a.Key
			case a.Space == "" && a.Key == "xmlns":
				prefix = ""
			default:
				continue
			}
			if declared[prefix] {
				continue
			}
			declared[prefix] = true
			cp.Attr = append(cp.Attr, a)
		}
	}
	return cp
}

// c14nCases are documents whose every element canonical must write as the
// oracle does, with each of c14nPrefixLists.
var c14nCases = []string{
	`<a/>`,
	`<a></a>`,
	`<a>text</a>`,
	`<p:a xmlns:p="urn:p"><p:b/></p:a>`,
	`<a xmlns="urn:d"><b/><c xmlns=""><d/></c></a>`,
	`<a xmlns=""><b/></a>`,
	`<r xmlns="urn:d"><a xmlns=""><b xmlns="urn:e"/></a></r>`,
	`<r xmlns:p="urn:p" xmlns:q="urn:q" xmlns:unused="urn:u"><p:a q:x="1"><b/></p:a></r>`,
	`<r xmlns:p="urn:p"><p:a><p:b xmlns:p="urn:other"><p:c/></p:b></p:a></r>`,
	`<r xmlns:p="urn:p"><a><p:b xmlns:p="urn:p"/></a></r>`,
	`<r xmlns:p="urn:p"><p:a xmlns:p="urn:p"><p:b xmlns:p="urn:p"/></p:a></r>`,
	`<a xmlns:z="urn:z" xmlns:b="urn:b" z:k="1" b:k="2" c="3" a="4" b:a="5" z:b="6" xmlns="urn:d"/>`,
	`<a xmlns:p="urn:2" xmlns:q="urn:1" p:x="1" q:x="2" q:y="3" p:w="4"/>`,
	`<a xmlns:p="urn:1" xmlns:q="urn:1" p:x="1" q:x="2"/>`,
	`<r xmlns:p="urn:2" xmlns:q="urn:1"><a p:x="1" q:x="2"/></r>`,
	`<a b="&amp;&lt;&gt;&quot;&apos;&#9;&#10;&#13; x">&amp;&lt;&gt;&quot;&apos;&#9;&#10;&#13; x</a>`,
	"<a b=\"l1\nl2\tt\r\n\">l1\r\nl2\rl3\tt</a>",
	"<a><![CDATA[<b>&amp; x]]]]><![CDATA[>y]]>z<b><![CDATA[\r\n]]></b></a>",
	`<a>x<!-- comment -->y<b><!--c--></b></a>`,
	`<a><?pi data?><?empty?><b><?x y ?></b></a>`,
	`<a>ünïcödé ✓ 𝄞 &#xFFFD; &#x10FFFF;</a>`,
	`<a b="ünï ✓ 𝄞"/>`,
	`<x:a xmlns:x="urn:x"><x:b><x:c><x:d><x:e><x:f><x:g><x:h><x:i><x:j>deep</x:j></x:i></x:h></x:g></x:f></x:e></x:d></x:c></x:b></x:a>`,
	`<a xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cs="urn:cs"><b xsi:type="cs:Request"/></a>`,
	`<a xml:lang="kk" xml:space="preserve"><b xml:lang="ru"/></a>`,
	`<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="kk"/>`,
	`<a xmlns:xml="urn:wrong"/>`,
	`<a xmlns:xmlns="urn:x"/>`,
	`<a xmlns="http://www.w3.org/2000/xmlns/"/>`,
	`<a><u:b/></a>`,
	`<a u:x="1"/>`,
	`<a xmlns:p="urn:p" xmlns:p="urn:q"><p:b/></a>`,
	`<r xmlns:p="urn:p" xmlns:p="urn:q"><a><p:b/></a></r>`,
	`<a k="1" k="2" j="0"/>`,
	`<a xmlns:p="urn:p" p:k="1" p:k="2"/>`,
	`<a z="1" y="2" x="3" w="4" v="5" u="6" t="7" s="8" r="9" q="10" o="11" n="12" m="13" l="14" xmlns:p="urn:p" p:z="15" p:a="16"/>`,
	`<a xmlns:p="urn:p" xmlns:q="urn:q" xmlns:r="urn:r" xmlns:s="urn:s" xmlns:t="urn:t" xmlns:u="urn:u" xmlns:v="urn:v" p:k="1" q:k="2" r:k="3" s:k="4" t:k="5" u:k="6" v:k="7"/>`,
	`<r xmlns="urn:d" xmlns:p="urn:p"><p:a><b>t</b></p:a></r>`,
	`<r xmlns="urn:d"><p:a xmlns:p="urn:p" xmlns=""><b/></p:a></r>`,
	`<r xmlns:p="urn:p"><a xmlns:p="urn:p2"><b xmlns:p="urn:p"><p:c/></b></a></r>`,
	"<a>\n  <b>  x  </b>\n\t<c/>\n</a>",
	`<soap:Envelope xmlns:soap="` + NSSOAP + `"><soap:Body xmlns:wsu="` + NSWSU + `" wsu:Id="id-1"><m:X xmlns:m="urn:x">a &amp; b</m:X></soap:Body></soap:Envelope>`,
	`<Envelope xmlns="` + NSSOAP + `"><Body><m:X xmlns:m="urn:x">1</m:X></Body></Envelope>`,
}

// manyPrefixesCase has an element using more prefixes than canonical
// scans for.
func manyPrefixesCase(sameKey bool) string {
	var decls, attrs strings.Builder
	for i := range 40 {
		fmt.Fprintf(&decls, ` xmlns:p%d="urn:%d"`, i, 40-i)
		key := fmt.Sprintf("k%d", i%7)
		if sameKey {
			key = "k"
		}
		fmt.Fprintf(&attrs, ` p%d:%s="%d"`, i, key, i)
	}
	// A second declaration of a prefix after the first 16: the detached
	// copy keeps the first.
	decls.WriteString(` xmlns:p39="urn:dup"`)
	return `<r` + decls.String() + `><a` + attrs.String() + ` xmlns:p3="urn:x3"><p5:b p6:x="" xmlns:p7="urn:7"/></a></r>`
}

func init() { c14nCases = append(c14nCases, manyPrefixesCase(false), manyPrefixesCase(true)) }

var c14nPrefixLists = []string{"", "p", "p q", "xsi soap", "#default", "p  unknown", "xml", "wsu ds", "cs xsi"}

// c14nFiles are XML files of the repository whose every element canonical
// must write as the oracle does: the SHEP samples, signed and unsigned, the
// gateway's and the registries' envelopes, the bench's payloads.
var c14nFiles = []string{
	"testdata/*.xml",
	"../../contracts/*/testdata/*.xml",
	"../../contracts/*/*/testdata/*.xml",
	"../../adapters/*/testdata/*.xml",
	"../../mocks/*/testdata/*.xml",
	"../../internal/*/testdata/*.xml",
	"../../deploy/bench/*.xml",
}

func readForC14N(b []byte) (*etree.Document, error) {
	doc := etree.NewDocument()
	doc.ReadSettings.PreserveDuplicateAttrs = true
	doc.ReadSettings.MaxDepth = 128
	return doc, doc.ReadFromBytes(b)
}

// compareC14N canonicalizes every element of doc with both canonicalizers
// and each prefix list, and reports where they differ. It returns how many
// comparisons it made.
func compareC14N(t *testing.T, name string, doc *etree.Document, prefixLists []string) int {
	t.Helper()
	n := 0
	var walk func(*etree.Element)
	walk = func(el *etree.Element) {
		for _, pl := range prefixLists {
			want, werr := canonicalGoxmldsig(el, pl)
			got, gerr := canonical(el, pl)
			n++
			switch {
			case werr != nil && gerr != nil:
				// The same failure, though not always the same message:
				// where two prefixes are undeclared, the oracle names the
				// one its map iteration meets first.
			case werr != nil || gerr != nil:
				t.Errorf("%s <%s> prefixes %q: error %v, the oracle's %v", name, el.FullTag(), pl, gerr, werr)
			case !bytes.Equal(got, want):
				t.Errorf("%s <%s> prefixes %q:\n got %s\nwant %s", name, el.FullTag(), pl, got, want)
			}
		}
		for _, c := range el.ChildElements() {
			walk(c)
		}
	}
	if r := doc.Root(); r != nil {
		walk(r)
	}
	return n
}

func TestCanonicalMatchesGoxmldsig(t *testing.T) {
	for _, src := range c14nCases {
		doc, err := readForC14N([]byte(src))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		compareC14N(t, src, doc, c14nPrefixLists)
	}
}

// eachFile calls fn with the name and contents of every file the glob
// patterns match.
func eachFile(t *testing.T, patterns []string, fn func(name string, b []byte)) {
	t.Helper()
	for _, pattern := range patterns {
		names, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			fn(name, b)
		}
	}
}

func TestCanonicalMatchesGoxmldsigOnRepositoryXML(t *testing.T) {
	files, compared := 0, 0
	eachFile(t, c14nFiles, func(name string, b []byte) {
		doc, err := readForC14N(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files++
		compared += compareC14N(t, name, doc, []string{"", "xsi cs"})
	})
	if files < 10 {
		t.Fatalf("only %d XML files found: the globs no longer reach the samples", files)
	}
	t.Logf("%d files, %d elements × prefix lists compared", files, compared)
}

// Canonical writes what etree writes for text and attribute values the
// parser cannot produce but a built tree can hold: characters XML does not
// allow, bytes that are not UTF-8, CDATA sections, directives.
func TestCanonicalMatchesGoxmldsigOnBuiltTrees(t *testing.T) {
	for _, s := range []string{"\x00\x01\x1f\x7f", "a\xffb\xc3", "\uFFFE\uFFFF", "\xed\xa0\x80", "]]>", "-- x --", "?>"} {
		doc := etree.NewDocument()
		root := doc.CreateElement("r")
		root.CreateAttr("v", s)
		root.CreateText(s)
		root.CreateCData(s)
		root.CreateComment(s)
		root.CreateProcInst("pi", s)
		root.CreateDirective(s)
		root.CreateDirective("x" + s + "<")
		root.CreateElement("c").CreateAttr("w", "\t"+s)
		compareC14N(t, strings.ToValidUTF8(s, "?"), doc, []string{""})
	}
}

// sortAmbiguous says whether goxmldsig's attribute order for el or an
// element under it depends on more than the attributes themselves: where
// two attributes of equal local name and different prefixes are ordered
// by the value of "the" attribute named like a prefix and an element has
// two such, or where more than 12 attributes include two of equal name,
// which sort.Sort, not stable beyond 12, orders by the position that
// goxmldsig's map iteration gave the namespace declarations.
func sortAmbiguous(el *etree.Element) bool {
	named := func(key string) int {
		n := 0
		for _, a := range el.Attr {
			if a.Key == key {
				n++
			}
		}
		return n
	}
	for i, a := range el.Attr {
		if _, decl := declPrefix(a); decl {
			continue
		}
		for _, b := range el.Attr[i+1:] {
			if _, decl := declPrefix(b); decl || a.Key != b.Key {
				continue
			}
			if len(el.Attr) > 12 {
				return true
			}
			if a.Space != "" && b.Space != "" && a.Space != b.Space && (named(a.Space) > 0 || named(b.Space) > 0) {
				return true
			}
		}
	}
	for _, c := range el.ChildElements() {
		if sortAmbiguous(c) {
			return true
		}
	}
	return false
}

// FuzzCanonical holds canonical to the oracle on whatever etree parses:
// each element of the document, with the prefix list given.
func FuzzCanonical(f *testing.F) {
	for _, src := range c14nCases {
		f.Add(src, "")
		f.Add(src, "p q")
	}
	f.Fuzz(func(t *testing.T, src, prefixes string) {
		doc, err := readForC14N([]byte(src))
		if err != nil || doc.Root() == nil {
			return
		}
		var elements []*etree.Element
		var walk func(*etree.Element)
		walk = func(el *etree.Element) {
			elements = append(elements, el)
			for _, c := range el.ChildElements() {
				walk(c)
			}
		}
		walk(doc.Root())
		if len(elements) > 64 {
			elements = elements[:64]
		}
		for _, el := range elements {
			if sortAmbiguous(el) {
				continue
			}
			want, werr := canonicalGoxmldsig(el, prefixes)
			got, gerr := canonical(el, prefixes)
			if (werr != nil) != (gerr != nil) {
				t.Fatalf("<%s>: error %v, the oracle's %v", el.FullTag(), gerr, werr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("<%s> prefixes %q:\n got %q\nwant %q", el.FullTag(), prefixes, got, want)
			}
		}
	})
}

// appendEscaped escapes every byte, and characters around the edges of
// XML's Char production, as etree's writer does in the mode it stands for.
func TestAppendEscapedMatchesEtree(t *testing.T) {
	var inputs []string
	for c := range 256 {
		inputs = append(inputs, string([]byte{'a', byte(c), 'b'}))
	}
	for _, r := range []rune{0x7f, 0x80, 0xD7FF, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF, 'ü', '✓', '𝄞'} {
		inputs = append(inputs, "x"+string(r)+"y")
	}
	inputs = append(inputs, "\xed\xa0\x80", "\xc3", "\xf4\x90\x80\x80", "&<>'\"\t\n\r")
	text := func(s string, ws etree.WriteSettings) []byte {
		var b bytes.Buffer
		etree.NewText(s).WriteTo(&b, &ws)
		return b.Bytes()
	}
	attr := func(s string, ws etree.WriteSettings) []byte {
		var b bytes.Buffer
		a := etree.NewElement("e").CreateAttr("a", s)
		a.WriteTo(&b, &ws)
		return bytes.TrimSuffix(bytes.TrimPrefix(b.Bytes(), []byte(`a="`)), []byte(`"`))
	}
	for _, s := range inputs {
		for _, c := range []struct {
			mode escMode
			want []byte
		}{
			{escNormal, text(s, etree.WriteSettings{})},
			{escNormal, attr(s, etree.WriteSettings{})},
			{escC14NText, text(s, etree.WriteSettings{CanonicalText: true})},
			{escC14NAttr, attr(s, etree.WriteSettings{CanonicalAttrVal: true})},
		} {
			if got := appendEscaped(nil, s, c.mode); !bytes.Equal(got, c.want) {
				t.Errorf("%q mode %d: got %q, etree writes %q", s, c.mode, got, c.want)
			}
		}
	}
}
