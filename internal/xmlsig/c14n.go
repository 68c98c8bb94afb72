package xmlsig

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Namespaces the C14N context starts with. The default prefix is bound to
// the XML namespace, not to "no namespace", because goxmldsig's context
// starts that way and the bytes here must be goxmldsig's: an element whose
// default namespace is undeclared (xmlns="") on the way down then gets
// xmlns="" rendered even with no output ancestor declaring a default
// namespace, which plain exclusive C14N would omit.
const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

var (
	errReservedNamespace       = errors.New("disallowed declaration of reserved namespace")
	errInvalidDefaultNamespace = errors.New("invalid default namespace declaration")
)

// canonical is the exclusive C14N without comments of el as it stands in its
// document, the bytes canonicalGoxmldsig (goxmldsig's transform of a copy of
// el, written by etree: the test oracle) gives, written in one walk without
// copying the element. inclusivePrefixes is an InclusiveNamespaces
// PrefixList; as in goxmldsig, "#default" names no prefix.
//
// It keeps goxmldsig's deviations from the specification, because a
// signature computed over other bytes would not verify where it did: the
// default-namespace start noted at nsXML, and attribute order (prefixed
// attributes by local name first and by namespace URI only among equal
// local names, see attrLess).
func canonical(el *etree.Element, inclusivePrefixes string) ([]byte, error) {
	c := c14n{
		b:        make([]byte, 0, 4096),
		incl:     strings.Fields(inclusivePrefixes),
		scope:    make([]nsBinding, 0, 16),
		rendered: make([]nsBinding, 0, 16),
		attrs:    make([]c14nAttr, 0, 32),
		used:     make([]string, 0, 16),
	}
	initial := [...]nsBinding{{"", nsXML}, {"xml", nsXML}, {"xmlns", nsXMLNS}}
	c.scope = append(c.scope, initial[:]...)
	c.rendered = append(c.rendered, initial[:]...)
	if err := c.element(el, inherited(el)); err != nil {
		return nil, err
	}
	return c.b, nil
}

// inherited is the namespace declarations of el's ancestors that are in
// scope at el and that el does not redeclare itself, nearest first: what
// goxmldsig's canonicalizer sees declared on el once it is detached from
// its document (the declarations an ancestor makes twice count with their
// first value, as the detached copy gets them).
func inherited(el *etree.Element) []etree.Attr {
	if el.Parent() == nil {
		return nil
	}
	var out []etree.Attr
	// A scan of what is declared already is cheapest for the few
	// declarations an envelope has; past manyPrefixes a set, so that
	// ancestors declaring thousands stay linear.
	var seen map[string]bool
	declared := func(prefix string) bool {
		if seen != nil {
			return seen[prefix]
		}
		for _, a := range el.Attr {
			if p, ok := declPrefix(a); ok && p == prefix {
				return true
			}
		}
		for _, a := range out {
			if p, _ := declPrefix(a); p == prefix {
				return true
			}
		}
		return false
	}
	for p := el.Parent(); p != nil; p = p.Parent() {
		for _, a := range p.Attr {
			prefix, ok := declPrefix(a)
			if !ok || declared(prefix) {
				continue
			}
			out = append(out, a)
			switch {
			case seen != nil:
				seen[prefix] = true
			case len(out) > manyPrefixes:
				seen = make(map[string]bool)
				for _, list := range [2][]etree.Attr{el.Attr, out} {
					for _, d := range list {
						if p, ok := declPrefix(d); ok {
							seen[p] = true
						}
					}
				}
			}
		}
	}
	return out
}

// declPrefix says whether a is a namespace declaration and of which prefix
// ("" for the default namespace).
func declPrefix(a etree.Attr) (string, bool) {
	switch {
	case a.Space == "xmlns":
		return a.Key, true
	case a.Space == "" && a.Key == "xmlns":
		return "", true
	}
	return "", false
}

type nsBinding struct{ prefix, uri string }

type c14nAttr struct{ space, key, value string }

// c14n holds one canonicalization's output and its namespace stacks. The
// stacks and scratch slices grow with depth and shrink back as each
// element ends, so a walk allocates nothing per element once they are
// warm; lookups scan from the innermost binding, and an envelope binds a
// handful of prefixes.
type c14n struct {
	b    []byte
	incl []string
	// scope is every declaration in scope in the document; rendered the
	// ones rendered by output ancestors (goxmldsig's "declared" context).
	scope, rendered []nsBinding
	attrs           []c14nAttr
	used            []string
	usedSet         map[string]struct{}
}

func lookupNS(stack []nsBinding, prefix string) (string, bool) {
	for i := len(stack) - 1; i >= 0; i-- {
		if stack[i].prefix == prefix {
			return stack[i].uri, true
		}
	}
	return "", false
}

// element writes el. extra is the declarations el has in goxmldsig's
// detached copy beyond its own attributes: the inherited ones, for the
// element canonicalized; none below it.
func (c *c14n) element(el *etree.Element, extra []etree.Attr) error {
	// used and attrs serve the start tag only, written before the
	// children; the namespace stacks are the children's too.
	scopeMark, renderedMark := len(c.scope), len(c.rendered)
	c.used, c.attrs = c.used[:0], c.attrs[:0]
	clear(c.usedSet)
	c.use(el.Space)
	for _, list := range [2][]etree.Attr{el.Attr, extra} {
		for _, a := range list {
			switch {
			case a.Space == "xmlns":
				if a.Key == "xml" && a.Value != nsXML || a.Key == "xmlns" {
					return errReservedNamespace
				}
				c.scope = append(c.scope, nsBinding{a.Key, a.Value})
				if slices.Contains(c.incl, a.Key) {
					c.use(a.Key)
				}
			case a.Space == "" && a.Key == "xmlns":
				if a.Value == nsXMLNS {
					return errInvalidDefaultNamespace
				}
				c.scope = append(c.scope, nsBinding{"", a.Value})
			default:
				if a.Space != "" {
					c.use(a.Space)
				}
				c.attrs = append(c.attrs, c14nAttr{a.Space, a.Key, a.Value})
			}
		}
	}
	lookupScope, lookupRendered := func(p string) (string, bool) { return lookupNS(c.scope, p) }, func(p string) (string, bool) { return lookupNS(c.rendered, p) }
	if len(c.used) > manyPrefixes {
		// Scanning the stacks for each of hundreds of prefixes would be
		// quadratic, where goxmldsig's maps are not.
		lookupScope, lookupRendered = indexNS(c.scope), indexNS(c.rendered)
	}
	for _, prefix := range c.used {
		uri, inScope := lookupScope(prefix)
		if r, ok := lookupRendered(prefix); ok && inScope && r == uri {
			continue
		}
		if !inScope {
			return fmt.Errorf("undeclared namespace prefix: '%s'", prefix)
		}
		c.rendered = append(c.rendered, nsBinding{prefix, uri})
		if prefix == "" {
			c.attrs = append(c.attrs, c14nAttr{"", "xmlns", uri})
		} else {
			c.attrs = append(c.attrs, c14nAttr{"xmlns", prefix, uri})
		}
	}
	sortAttrs(c.attrs)

	c.b = append(c.b, '<')
	c.b = appendName(c.b, el.Space, el.Tag)
	for _, a := range c.attrs {
		c.b = append(c.b, ' ')
		c.b = appendName(c.b, a.space, a.key)
		c.b = append(c.b, `="`...)
		c.b = appendC14NAttr(c.b, a.value)
		c.b = append(c.b, '"')
	}
	c.b = append(c.b, '>')
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			if err := c.element(t, nil); err != nil {
				return err
			}
		case *etree.CharData:
			if t.IsCData() {
				t.WriteTo((*byteWriter)(&c.b), &c14nWriteSettings)
			} else {
				c.b = appendC14NText(c.b, t.Data)
			}
		case *etree.Comment:
			// without comments
		default:
			// Processing instructions, and directives etree accepts
			// inside an element: rare, and written exactly as etree
			// writes them.
			t.WriteTo((*byteWriter)(&c.b), &c14nWriteSettings)
		}
	}
	c.b = append(c.b, "</"...)
	c.b = appendName(c.b, el.Space, el.Tag)
	c.b = append(c.b, '>')
	c.scope, c.rendered = c.scope[:scopeMark], c.rendered[:renderedMark]
	return nil
}

// use records prefix as visibly used by the current element, once.
func (c *c14n) use(prefix string) {
	if len(c.used) < manyPrefixes {
		if !slices.Contains(c.used, prefix) {
			c.used = append(c.used, prefix)
		}
		return
	}
	if c.usedSet == nil {
		c.usedSet = make(map[string]struct{})
	}
	if len(c.usedSet) == 0 {
		for _, p := range c.used {
			c.usedSet[p] = struct{}{}
		}
	}
	if _, ok := c.usedSet[prefix]; !ok {
		c.usedSet[prefix] = struct{}{}
		c.used = append(c.used, prefix)
	}
}

// manyPrefixes is where an element's prefixes are looked up through maps
// instead of scans.
const manyPrefixes = 16

// indexNS looks prefixes up in stack through a map of their innermost
// bindings.
func indexNS(stack []nsBinding) func(string) (string, bool) {
	m := make(map[string]string, len(stack))
	for _, b := range stack {
		m[b.prefix] = b.uri
	}
	return func(p string) (string, bool) {
		uri, ok := m[p]
		return uri, ok
	}
}

func appendName(b []byte, space, local string) []byte {
	if space != "" {
		b = append(b, space...)
		b = append(b, ':')
	}
	return append(b, local...)
}

// c14nWriteSettings are the settings the oracle writes its document with.
var c14nWriteSettings = etree.WriteSettings{CanonicalAttrVal: true, CanonicalEndTags: true, CanonicalText: true}

// byteWriter lets etree write a token into a byte slice.
type byteWriter []byte

func (w *byteWriter) Write(p []byte) (int, error) {
	*w = append(*w, p...)
	return len(p), nil
}

func (w *byteWriter) WriteString(s string) (int, error) {
	*w = append(*w, s...)
	return len(s), nil
}

func (w *byteWriter) WriteByte(c byte) error {
	*w = append(*w, c)
	return nil
}

// sortAttrs orders an element's output attributes as goxmldsig's
// SortedAttrs does: the default namespace declaration, prefixed
// declarations by prefix, unprefixed attributes by name, then prefixed
// attributes by local name and, between equal local names, by the value
// of an attribute of the element named like the prefix (the declaration,
// when it is rendered here). Up to 12 attributes this is the insertion
// sort Go's sort.Sort does, with goxmldsig's comparison, so that equal
// attributes (duplicates etree kept) stay in the same order; beyond, a
// stable sort, which sort.Sort is not, and whose comparison looks the
// prefixes up once instead of on every comparison.
func sortAttrs(a []c14nAttr) {
	if len(a) <= 12 {
		for i := 1; i < len(a); i++ {
			for j := i; j > 0 && attrLess(a[j], a[j-1], a, nil); j-- {
				a[j], a[j-1] = a[j-1], a[j]
			}
		}
		return
	}
	values := make(map[string]string, len(a))
	for _, x := range a {
		values[x.key] = x.value
	}
	slices.SortStableFunc(a, func(x, y c14nAttr) int {
		switch {
		case attrLess(x, y, nil, values):
			return -1
		case attrLess(y, x, nil, values):
			return 1
		}
		return 0
	})
}

// attrLess is goxmldsig's SortedAttrs.Less of x and y, which looks their
// prefixes up in the attributes a as they stand, or in values.
func attrLess(x, y c14nAttr, a []c14nAttr, values map[string]string) bool {
	switch {
	case y.space == "" && y.key == "xmlns":
		return false
	case x.space == "" && x.key == "xmlns":
		return true
	case x.space == "xmlns":
		if y.space == "xmlns" {
			return x.key < y.key
		}
		return true
	case y.space == "xmlns":
		return false
	case x.space == "":
		if y.space == "" {
			return x.key < y.key
		}
		return true
	case y.space == "":
		return false
	case x.space == y.space || x.key != y.key:
		return x.key < y.key
	}
	if values != nil {
		return values[x.space] < values[y.space]
	}
	var left, right string
	for _, z := range a {
		if z.key == x.space {
			left = z.value
		}
		if z.key == y.space {
			right = z.value
		}
	}
	return left < right
}

// appendC14NAttr escapes an attribute value as C14N 1.0 does (section
// 2.3), and as etree's canonical attribute mode does: a character XML does
// not allow, or a byte that is not UTF-8, becomes U+FFFD.
func appendC14NAttr(b []byte, v string) []byte { return appendEscaped(b, v, escC14NAttr) }

// appendC14NText escapes character content as C14N 1.0 does, and as
// etree's canonical text mode does (see appendC14NAttr).
func appendC14NText(b []byte, v string) []byte { return appendEscaped(b, v, escC14NText) }

// escMode is one of etree's escaping modes.
type escMode uint8

const (
	escNormal escMode = iota // text and attribute values, etree's default
	escC14NText
	escC14NAttr
)

// appendEscaped escapes v as etree's escapeString does in mode m.
func appendEscaped(b []byte, v string, m escMode) []byte {
	table := &asciiEscapes[m]
	last := 0
	for i := 0; i < len(v); {
		c := v[i]
		var esc string
		width := 1
		if c < utf8.RuneSelf {
			if esc = table[c]; esc == "" {
				i++
				continue
			}
		} else {
			var r rune
			r, width = utf8.DecodeRuneInString(v[i:])
			if (r != utf8.RuneError || width != 1) && inCharRange(r) {
				i += width
				continue
			}
			esc = "\uFFFD"
		}
		b = append(b, v[last:i]...)
		b = append(b, esc...)
		i += width
		last = i
	}
	return append(b, v[last:]...)
}

// asciiEscapes is, for each mode, what etree writes for each ASCII byte
// that it does not write as it is.
var asciiEscapes = func() (t [3][utf8.RuneSelf]string) {
	for m := range t {
		for c := range utf8.RuneSelf {
			switch {
			case c == '&':
				t[m][c] = "&amp;"
			case c == '<':
				t[m][c] = "&lt;"
			case c == '>' && escMode(m) != escC14NAttr:
				t[m][c] = "&gt;"
			case c == '\'' && escMode(m) == escNormal:
				t[m][c] = "&apos;"
			case c == '"' && escMode(m) != escC14NText:
				t[m][c] = "&quot;"
			case c == '\t' && escMode(m) == escC14NAttr:
				t[m][c] = "&#x9;"
			case c == '\n' && escMode(m) == escC14NAttr:
				t[m][c] = "&#xA;"
			case c == '\r' && escMode(m) != escNormal:
				t[m][c] = "&#xD;"
			case c < 0x20 && c != '\t' && c != '\n' && c != '\r':
				t[m][c] = "\uFFFD"
			}
		}
	}
	return t
}()

// inCharRange is XML's Char production above ASCII.
func inCharRange(r rune) bool {
	return r >= 0x80 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}
