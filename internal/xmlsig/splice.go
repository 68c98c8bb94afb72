package xmlsig

import (
	"strings"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// The envelopes the bus signs are its own, written without the variations
// XML allows and etree would normalize away (single quotes, spaces in
// tags, character references, empty elements written open and closed): for
// such an envelope etree's output is its input. parseSimple reads exactly
// that form, without encoding/xml, which costs more than everything else
// Sign does besides the RSA operation, and Sign then writes the signed
// envelope by inserting the header and the Body's Id into the input bytes
// instead of serializing the tree again. Anything outside the form (a
// CDATA section, a processing instruction other than the one XML
// declaration the bus writes, a DOCTYPE, a carriage return, a character
// etree would escape or replace, a duplicate attribute, …) makes
// parseSimple decline, and Sign takes the etree path as before: the result
// is the same bytes either way (TestSignSimpleMatchesEtree, FuzzSignSimple).

// xmlDecl is the one XML declaration parseSimple reads; encoding/xml gives
// it as this processing instruction, and etree writes it back unchanged.
const (
	xmlDecl     = `<?xml version="1.0" encoding="UTF-8"?>`
	xmlDeclInst = `version="1.0" encoding="UTF-8"`
)

// simpleMaxDepth is below parse's MaxDepth, so that parse's depth error
// stays parse's.
const simpleMaxDepth = 100

// simpleDoc is a parsed envelope in the simple form, with the positions
// in its bytes where Sign's additions go.
type simpleDoc struct {
	src string
	// For each child element of the root: where its start tag begins, the
	// offset of the "/>" or ">" ending the start tag, and where its end
	// tag begins (-1 for an empty element).
	spans map[*etree.Element]span
}

type span struct{ start, tagEnd, endTag int }

// parseSimple parses b as parse does when b is in the simple form, with
// the same checks on the root; otherwise it returns ok false.
func parseSimple(b []byte) (doc *etree.Document, env *etree.Element, sd *simpleDoc, ok bool) {
	src := string(b)
	if strings.IndexByte(src, '\r') >= 0 {
		return nil, nil, nil, false
	}
	p := simpleParser{src: src, doc: etree.NewDocument(), spans: make(map[*etree.Element]span, 2)}
	p.doc.ReadSettings.PreserveDuplicateAttrs = true
	p.doc.ReadSettings.MaxDepth = 128
	if strings.HasPrefix(src, xmlDecl) {
		p.doc.CreateProcInst("xml", xmlDeclInst)
		p.i = len(xmlDecl)
	}
	if !p.misc(&p.doc.Element) || p.i >= len(src) || src[p.i] != '<' || !p.element(&p.doc.Element, 1) ||
		!p.misc(&p.doc.Element) || p.i != len(src) {
		return nil, nil, nil, false
	}
	env = p.doc.Root()
	if env.Tag != "Envelope" || env.NamespaceURI() != NSSOAP {
		return nil, nil, nil, false
	}
	return p.doc, env, &simpleDoc{src: src, spans: p.spans}, true
}

type simpleParser struct {
	src   string
	i     int
	doc   *etree.Document
	spans map[*etree.Element]span
}

// misc reads the whitespace and comments outside the root element.
func (p *simpleParser) misc(parent *etree.Element) bool {
	for {
		start := p.i
		for p.i < len(p.src) && (p.src[p.i] == ' ' || p.src[p.i] == '\n' || p.src[p.i] == '\t') {
			p.i++
		}
		if p.i > start {
			// SetData, as the parser does, marks the text as whitespace.
			parent.CreateText("").SetData(p.src[start:p.i])
		}
		if !strings.HasPrefix(p.src[p.i:], "<!--") {
			return true
		}
		if !p.comment(parent) {
			return false
		}
	}
}

// comment reads the comment starting at p.i.
func (p *simpleParser) comment(parent *etree.Element) bool {
	rest := p.src[p.i:]
	end := strings.Index(rest[4:], "-->")
	if end < 0 {
		return false
	}
	data := rest[4 : 4+end]
	if strings.Contains(data, "--") || strings.HasSuffix(data, "-") || !plainChars(data) {
		return false
	}
	parent.CreateComment(data)
	p.i += 4 + end + 3
	return true
}

// element reads the element starting at p.i ('<') into parent.
func (p *simpleParser) element(parent *etree.Element, depth int) bool {
	if depth > simpleMaxDepth {
		return false
	}
	start := p.i
	p.i++
	name, ok := p.name()
	if !ok {
		return false
	}
	el := parent.CreateElement(name)
	for p.i < len(p.src) && p.src[p.i] == ' ' {
		p.i++
		key, ok := p.name()
		if !ok || !strings.HasPrefix(p.src[p.i:], `="`) {
			return false
		}
		p.i += 2
		value, ok := p.text('"')
		if !ok {
			return false
		}
		p.i++
		n := len(el.Attr)
		if el.CreateAttr(key, value); len(el.Attr) == n || n >= 64 {
			// A duplicate: CreateAttr replaced the first where the parser
			// keeps both.
			return false
		}
	}
	sp := span{start: start, tagEnd: p.i, endTag: -1}
	switch {
	case strings.HasPrefix(p.src[p.i:], "/>"):
		p.i += 2
		if depth == 2 {
			p.spans[el] = sp
		}
		return true
	case p.i < len(p.src) && p.src[p.i] == '>':
		p.i++
	default:
		return false
	}
	for {
		if p.i >= len(p.src) {
			return false
		}
		if p.src[p.i] != '<' {
			text, ok := p.text('<')
			if !ok {
				return false
			}
			el.CreateText("").SetData(text)
			continue
		}
		rest := p.src[p.i:]
		switch {
		case strings.HasPrefix(rest, "</"):
			if len(el.Child) == 0 {
				// <x></x>: etree writes <x/>.
				return false
			}
			sp.endTag = p.i
			p.i += 2
			if !strings.HasPrefix(p.src[p.i:], name) || !strings.HasPrefix(p.src[p.i+len(name):], ">") {
				return false
			}
			p.i += len(name) + 1
			if depth == 2 {
				p.spans[el] = sp
			}
			return true
		case strings.HasPrefix(rest, "<!--"):
			if !p.comment(el) {
				return false
			}
		case strings.HasPrefix(rest, "<!") || strings.HasPrefix(rest, "<?"):
			return false
		default:
			if !p.element(el, depth+1) {
				return false
			}
		}
	}
}

// name reads an ASCII name with at most one colon, not at either end.
func (p *simpleParser) name() (string, bool) {
	start, colon := p.i, -1
	for ; p.i < len(p.src); p.i++ {
		c := p.src[p.i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '-', c == '.':
			if p.i == start || p.i == colon+1 {
				return "", false
			}
		case c == ':':
			if colon >= 0 || p.i == start {
				return "", false
			}
			colon = p.i
		default:
			if p.i == start || p.i == colon+1 {
				return "", false
			}
			return p.src[start:p.i], true
		}
	}
	return "", false
}

// text reads character data up to the byte end ('<' for content, '"' for
// an attribute value) and decodes it. It declines what etree would not
// write back as it stands: a character etree escapes when writing ('>',
// '\”, '"', a lone '&'), a reference other than the five it writes, a
// control character, a byte that is not UTF-8 or a character XML does
// not allow. In an attribute value whitespace other than the space is
// declined too.
func (p *simpleParser) text(end byte) (string, bool) {
	start := p.i
	var decoded []byte
	last := p.i
	for p.i < len(p.src) {
		c := p.src[p.i]
		switch {
		case c == end:
			if decoded == nil {
				return p.src[start:p.i], true
			}
			return string(append(decoded, p.src[last:p.i]...)), true
		case c == '&':
			var r byte
			rest := p.src[p.i:]
			var n int
			switch {
			case strings.HasPrefix(rest, "&amp;"):
				r, n = '&', 5
			case strings.HasPrefix(rest, "&lt;"):
				r, n = '<', 4
			case strings.HasPrefix(rest, "&gt;"):
				r, n = '>', 4
			case strings.HasPrefix(rest, "&quot;"):
				r, n = '"', 6
			case strings.HasPrefix(rest, "&apos;"):
				r, n = '\'', 6
			default:
				return "", false
			}
			decoded = append(append(decoded, p.src[last:p.i]...), r)
			p.i += n
			last = p.i
		case c == '<', c == '>', c == '\'', c == '"':
			return "", false
		case c == '\n' || c == '\t':
			if end == '"' {
				return "", false
			}
			p.i++
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			p.i++
		default:
			r, w := utf8.DecodeRuneInString(p.src[p.i:])
			if r == utf8.RuneError && w == 1 || !inCharRange(r) {
				return "", false
			}
			p.i += w
		}
	}
	return "", false
}

// plainChars says whether s holds only characters that a comment keeps as
// they are through parse and write.
func plainChars(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n' || c == '\t':
			i++
		case c < 0x20:
			return false
		case c < utf8.RuneSelf:
			i++
		default:
			r, w := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && w == 1 || !inCharRange(r) {
				return false
			}
			i += w
		}
	}
	return true
}

// write returns the signed envelope: the input with header (when Sign
// created it) or sec (added to the Header that was there) and the Body's
// attributes past bodyAttrs (when Sign added the Id) inserted where etree
// would write them. ok is false when the tree changed in a way this does
// not know (an attribute replaced rather than added), and then the caller
// writes the tree.
func (sd *simpleDoc) write(header, sec, body *etree.Element, headerCreated bool, bodyAttrs, added, grow int) ([]byte, bool) {
	bs, ok := sd.spans[body]
	if !ok || len(body.Attr) != bodyAttrs+added {
		return nil, false
	}
	out := make([]byte, 0, len(sd.src)+grow)
	pos := 0
	if headerCreated {
		out = append(out, sd.src[:bs.start]...)
		out = appendElement(out, header)
		pos = bs.start
	} else {
		hs, ok := sd.spans[header]
		if !ok || len(header.Child) == 0 || header.Child[len(header.Child)-1] != etree.Token(sec) {
			return nil, false
		}
		if hs.endTag < 0 {
			// <H/> becomes <H>sec</H>.
			out = append(out, sd.src[:hs.tagEnd]...)
			out = append(out, '>')
			out = appendElement(out, sec)
			out = append(out, "</"...)
			out = append(out, header.FullTag()...)
			out = append(out, '>')
			pos = hs.tagEnd + 2
		} else {
			out = append(out, sd.src[:hs.endTag]...)
			out = appendElement(out, sec)
			pos = hs.endTag
		}
	}
	if added > 0 {
		out = append(out, sd.src[pos:bs.tagEnd]...)
		for _, a := range body.Attr[bodyAttrs:] {
			out = appendAttr(out, a)
		}
		pos = bs.tagEnd
	}
	return append(out, sd.src[pos:]...), true
}

// appendElement writes el as etree does with the settings Sign's document
// has (etree's defaults): the header Sign adds, without etree's writer
// interface and rune-by-rune escaping of the certificate's base64.
func appendElement(b []byte, el *etree.Element) []byte {
	b = append(b, '<')
	b = appendName(b, el.Space, el.Tag)
	for _, a := range el.Attr {
		b = appendAttr(b, a)
	}
	if len(el.Child) == 0 {
		return append(b, "/>"...)
	}
	b = append(b, '>')
	for _, t := range el.Child {
		switch t := t.(type) {
		case *etree.Element:
			b = appendElement(b, t)
		case *etree.CharData:
			if !t.IsCData() {
				b = appendEscaped(b, t.Data, escNormal)
				break
			}
			t.WriteTo((*byteWriter)(&b), &etree.WriteSettings{})
		default:
			t.WriteTo((*byteWriter)(&b), &etree.WriteSettings{})
		}
	}
	b = append(b, "</"...)
	b = appendName(b, el.Space, el.Tag)
	return append(b, '>')
}

func appendAttr(b []byte, a etree.Attr) []byte {
	b = append(b, ' ')
	b = appendName(b, a.Space, a.Key)
	b = append(b, `="`...)
	b = appendEscaped(b, a.Value, escNormal)
	return append(b, '"')
}
