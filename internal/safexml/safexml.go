// Package safexml is the one door every XML document Köpir receives goes
// through before it is unmarshalled.
//
// encoding/xml never expands external entities, but it still reads a DOCTYPE
// with its internal subset, follows arbitrarily deep nesting and accepts any
// size it is handed. An agency response or an inbound call is untrusted, so
// we reject DTDs outright (no SHEP or registry message has one), and bound
// size, element depth and token count before any struct is filled.
//
// The same generated contract types are written out by EncodeElement
// (encode.go), byte for byte as encoding/xml writes them, without its
// reflection over every value: the envelopes the bus sends on every call.
package safexml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits bound one document. A zero field takes the value from Default.
type Limits struct {
	MaxBytes  int64 // size of the whole document
	MaxDepth  int   // element nesting; the root element is depth 1
	MaxTokens int   // tokens of any kind: elements, text, comments
}

// Default fits SOAP envelopes from SHEP with room to spare: a GBD FL answer
// is a few KiB and about ten levels deep.
var Default = Limits{MaxBytes: 4 << 20, MaxDepth: 64, MaxTokens: 200_000}

func (l Limits) orDefault() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = Default.MaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = Default.MaxDepth
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = Default.MaxTokens
	}
	return l
}

// Error says why a document was refused. Reason is one of "doctype",
// "depth", "tokens", "size", "syntax" or "decode" (well-formed and within
// limits, but not the shape v expects).
type Error struct {
	Reason string
	Line   int
	Detail string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("xml refused (%s) at line %d: %s", e.Reason, e.Line, e.Detail)
	}
	return fmt.Sprintf("xml refused (%s): %s", e.Reason, e.Detail)
}

var errSize = errors.New("size limit exceeded")

// Check reads the whole of r and reports the first violation, or nil.
func Check(r io.Reader, lim Limits) error {
	lim = lim.orDefault()
	return scan(xml.NewDecoder(&capped{r: r, left: lim.MaxBytes}), lim)
}

// Decode checks data and then unmarshals it into v.
//
// The check is a byte-level pass over the markup, not a second run of
// encoding/xml's tokenizer: tokenizing costs as much again as unmarshalling
// (measured: 34µs against 65µs for a 2 KiB GBD FL answer), and xml.Unmarshal
// verifies well-formedness itself. Only the policy is enforced up front:
// no <! other than comments and CDATA, bounded depth and token count.
//
// The fast path (fast.go) decodes the documents and types it knows with
// the same result in a fraction of the allocations, and its tokenizer
// takes only documents that pass that check, so the check is run only on
// what it declines: the first pass over the bytes of a SHEP answer is
// then the one that decodes it.
func Decode(data []byte, v any, lim Limits) error {
	lim = lim.orDefault()
	if int64(len(data)) > lim.MaxBytes {
		return &Error{Reason: "size", Detail: fmt.Sprintf("document is %d bytes, limit %d", len(data), lim.MaxBytes)}
	}
	declined, err := fastDecode(data, v, lim)
	if declined {
		if err := prescan(data, lim); err != nil {
			return err
		}
		err = xml.Unmarshal(data, v)
	}
	if err != nil {
		var se *xml.SyntaxError
		switch {
		case errors.As(err, &se):
			return &Error{Reason: "syntax", Line: se.Line, Detail: se.Msg}
		case err == io.EOF:
			return &Error{Reason: "syntax", Detail: "no root element"}
		case strings.HasPrefix(err.Error(), "xml: encoding"):
			return &Error{Reason: "syntax", Detail: err.Error()}
		}
		return &Error{Reason: "decode", Detail: err.Error()}
	}
	return nil
}

// scan walks the raw token stream once. RawToken is used because it does no
// namespace translation (we only count and match names), and because
// start/end matching done here lets one pass serve as the well-formedness
// check too.
func scan(d *xml.Decoder, lim Limits) error {
	var stack []xml.Name
	tokens, roots := 0, 0
	line := func() int { l, _ := d.InputPos(); return l }
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, errSize) {
				return &Error{Reason: "size", Line: line(), Detail: fmt.Sprintf("document is larger than %d bytes", lim.MaxBytes)}
			}
			return syntax(err, line())
		}
		if tokens++; tokens > lim.MaxTokens {
			return &Error{Reason: "tokens", Line: line(), Detail: fmt.Sprintf("more than %d tokens", lim.MaxTokens)}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				if roots++; roots > 1 {
					return &Error{Reason: "syntax", Line: line(), Detail: "more than one root element"}
				}
			}
			if len(stack) >= lim.MaxDepth {
				return &Error{Reason: "depth", Line: line(), Detail: fmt.Sprintf("elements nested deeper than %d", lim.MaxDepth)}
			}
			stack = append(stack, t.Name)
		case xml.EndElement:
			if len(stack) == 0 {
				return &Error{Reason: "syntax", Line: line(), Detail: "unexpected end element </" + qname(t.Name) + ">"}
			}
			if top := stack[len(stack)-1]; top != t.Name {
				return &Error{Reason: "syntax", Line: line(), Detail: "element <" + qname(top) + "> closed by </" + qname(t.Name) + ">"}
			}
			stack = stack[:len(stack)-1]
		case xml.Directive:
			kind, _, _ := strings.Cut(strings.TrimSpace(string(t)), " ")
			if kind == "" {
				kind = "markup"
			}
			return &Error{Reason: "doctype", Line: line(), Detail: "<!" + kind + "> declaration is not allowed (DTDs and entity declarations are refused)"}
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return &Error{Reason: "syntax", Line: line(), Detail: "text outside the root element"}
			}
		}
	}
	if len(stack) > 0 {
		return &Error{Reason: "syntax", Line: line(), Detail: "unexpected end of document inside <" + qname(stack[len(stack)-1]) + ">"}
	}
	if roots == 0 {
		return &Error{Reason: "syntax", Line: line(), Detail: "no root element"}
	}
	return nil
}

var (
	commentOpen = []byte("<!--")
	cdataOpen   = []byte("<![CDATA[")
)

// prescan walks the markup the way encoding/xml delimits it (comments,
// CDATA, processing instructions, quoted attribute values) and counts
// tokens as RawToken would return them. It must never be laxer than the
// tokenizer about where markup starts; it may leave syntax errors to it.
func prescan(data []byte, lim Limits) error {
	depth, tokens, roots := 0, 0, 0
	fail := func(at int, reason, detail string) error {
		return &Error{Reason: reason, Line: 1 + bytes.Count(data[:at], []byte{'\n'}), Detail: detail}
	}
	skipTo := func(at int, end string, what string) (int, error) {
		j := bytes.Index(data[at:], []byte(end))
		if j < 0 {
			return 0, fail(at, "syntax", "unterminated "+what)
		}
		return at + j + len(end), nil
	}
	for i := 0; i < len(data); {
		if tokens++; tokens > lim.MaxTokens {
			return fail(i, "tokens", fmt.Sprintf("more than %d tokens", lim.MaxTokens))
		}
		if data[i] != '<' {
			j := bytes.IndexByte(data[i:], '<')
			if j < 0 {
				j = len(data) - i
			}
			if depth == 0 && len(bytes.TrimSpace(data[i:i+j])) > 0 {
				return fail(i, "syntax", "text outside the root element")
			}
			i += j
			continue
		}
		var err error
		rest := data[i:]
		switch {
		case bytes.HasPrefix(rest, commentOpen):
			i, err = skipTo(i+len(commentOpen), "-->", "comment")
		case bytes.HasPrefix(rest, cdataOpen):
			i, err = skipTo(i+len(cdataOpen), "]]>", "CDATA section")
		case len(rest) > 1 && rest[1] == '!':
			kind := rest[2:]
			if k := bytes.IndexAny(kind, " \t\r\n[>"); k >= 0 {
				kind = kind[:k]
			}
			if len(kind) == 0 || len(kind) > 16 {
				kind = []byte("markup")
			}
			return fail(i, "doctype", "<!"+string(kind)+"> declaration is not allowed (DTDs and entity declarations are refused)")
		case len(rest) > 1 && rest[1] == '?':
			i, err = skipTo(i+2, "?>", "processing instruction")
		case len(rest) > 1 && rest[1] == '/':
			if depth--; depth < 0 {
				return fail(i, "syntax", "end element without a start")
			}
			i, err = skipTo(i+2, ">", "end element")
		default:
			j := tagEnd(data, i+1)
			if j == len(data) {
				return fail(i, "syntax", "unterminated start element")
			}
			if depth == 0 {
				if roots++; roots > 1 {
					return fail(i, "syntax", "more than one root element")
				}
			}
			if depth >= lim.MaxDepth {
				return fail(i, "depth", fmt.Sprintf("elements nested deeper than %d", lim.MaxDepth))
			}
			if data[j-1] == '/' {
				tokens++ // <a/> is a start and an end token
			} else {
				depth++
			}
			i = j + 1
		}
		if err != nil {
			return err
		}
	}
	if depth > 0 {
		return fail(len(data), "syntax", fmt.Sprintf("unexpected end of document with %d elements open", depth))
	}
	return nil
}

// tagEnd is the index of the '>' that ends the tag whose name starts at
// i, the first one outside a quoted attribute value, or len(data).
func tagEnd(data []byte, i int) int {
	for {
		gt := bytes.IndexByte(data[i:], '>')
		if gt < 0 {
			return len(data)
		}
		q := firstQuote(data[i : i+gt])
		if q < 0 {
			return i + gt
		}
		i += q + 1
		closing := bytes.IndexByte(data[i:], data[i-1])
		if closing < 0 {
			return len(data)
		}
		i += closing + 1
	}
}

// firstQuote is the index of the first ' or " in b, or -1.
func firstQuote(b []byte) int {
	d := bytes.IndexByte(b, '"')
	if d >= 0 {
		b = b[:d]
	}
	if s := bytes.IndexByte(b, '\''); s >= 0 {
		return s
	}
	return d
}

func syntax(err error, line int) *Error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return &Error{Reason: "syntax", Line: se.Line, Detail: se.Msg}
	}
	return &Error{Reason: "syntax", Line: line, Detail: err.Error()}
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// capped fails a read that would go past the limit, so an oversize stream
// is refused after MaxBytes+1 bytes instead of being read to the end.
type capped struct {
	r    io.Reader
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errSize
		}
		return 0, err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
