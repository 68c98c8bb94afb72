package console

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxShown bounds a body rendered on a page; a statement of megabytes is
// cut there, saying so, rather than sent whole to the browser.
const maxShown = 256 << 10

// body is a stored body as the exchange view shows it.
type body struct {
	Kind      string // "JSON", "XML" or "text"
	Text      string
	Size      int
	Truncated bool
}

// summary heads the body: "Request: JSON, 812 bytes".
func (b *body) summary(name string) string {
	s := fmt.Sprintf("%s, %d bytes", b.Kind, b.Size)
	if name != "" {
		s = name + ": " + s
	}
	if b.Truncated {
		s += " (the first 256 KiB shown)"
	}
	return s
}

// formatBody indents JSON and XML for reading. Bodies are shown as stored:
// masked where the route masks personal data, so nothing here unmasks.
func formatBody(b []byte) *body {
	if len(b) == 0 {
		return nil
	}
	out := &body{Size: len(b), Kind: "text"}
	if len(b) > maxShown {
		b, out.Truncated = b[:maxShown], true
	}
	trimmed := bytes.TrimSpace(b)
	switch {
	case !out.Truncated && len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '['):
		var buf bytes.Buffer
		if json.Indent(&buf, trimmed, "", "  ") == nil {
			out.Kind, out.Text = "JSON", buf.String()
			return out
		}
	case len(trimmed) > 0 && trimmed[0] == '<':
		if s, err := indentXML(trimmed); err == nil || out.Truncated {
			out.Kind, out.Text = "XML", s
			return out
		}
	}
	if !utf8.Valid(b) {
		out.Text = strings.ToValidUTF8(string(b), "\uFFFD")
		return out
	}
	out.Text = string(b)
	return out
}

// indentXML re-emits the document's tokens with one level of indentation
// per element, keeping prefixes and text as written (RawToken does not
// resolve namespaces, so a signed document reads as it was signed). It
// never fetches anything: DTDs and entities are passed through as text.
func indentXML(b []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	var out strings.Builder
	depth := 0
	indent := func() {
		if out.Len() > 0 {
			out.WriteByte('\n')
		}
		out.WriteString(strings.Repeat("  ", depth))
	}
	lastWasStart := false
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return out.String(), nil
		}
		if err != nil {
			return out.String(), err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			indent()
			out.WriteString("<" + qname(t.Name))
			for _, a := range t.Attr {
				out.WriteString(" " + qname(a.Name) + `="`)
				xml.EscapeText(&out, []byte(a.Value))
				out.WriteString(`"`)
			}
			out.WriteString(">")
			depth++
			lastWasStart = true
		case xml.EndElement:
			depth--
			if !lastWasStart {
				indent()
			}
			out.WriteString("</" + qname(t.Name) + ">")
			lastWasStart = false
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				xml.EscapeText(&out, []byte(s))
			}
		case xml.Comment:
			indent()
			out.WriteString("<!--" + string(t) + "-->")
			lastWasStart = false
		case xml.ProcInst:
			indent()
			out.WriteString("<?" + t.Target + " " + string(t.Inst) + "?>")
		case xml.Directive:
			indent()
			out.WriteString("<!" + string(t) + ">")
		}
	}
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}
