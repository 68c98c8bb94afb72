package shep

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"github.com/minfin-kz/kopir/internal/safexml"
)

// Namespaces the frame check needs to recognise, beside the SOAP ones:
// the WS-Security header and the utility Id attribute a signature refers
// to.
const (
	NSWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	NSWSU  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsXML  = "http://www.w3.org/XML/1998/namespace"
)

// Frame is the shape of an inbound envelope, read once, strictly: the one
// element under the one soap:Body is the operation, and it is this
// element, by position, that the signature must cover, the schema
// validates and the channel processes. Every XML signature wrapping attack
// works by making two of those readers see different elements (a moved or
// second Body, a decoy of the same name elsewhere, an Id carried twice),
// and each such shape is refused here before any of them runs.
type Frame struct {
	// Op is the name of soap:Body's one element.
	Op xml.Name
	// BodyID is soap:Body's wsu:Id, "" when it has none.
	BodyID string
	// Signed reports a wsse:Security header.
	Signed bool
}

// Frame refusal reasons.
const (
	// FrameStructure: not exactly Envelope(Header?, Body(operation)), or
	// an operation element somewhere else.
	FrameStructure = "structure"
	// FrameDuplicateID: an Id value carried twice, or two Id attributes on
	// one element.
	FrameDuplicateID = "duplicate-id"
	// FrameDisplacedBody: a soap:Body (or Envelope, Header) element other
	// than the Envelope's own children, the copy a wrapping attack keeps
	// for a verifier to find.
	FrameDisplacedBody = "displaced-body"
)

// FrameError is an envelope refused for its shape. Detail names the line
// where the reader stopped.
type FrameError struct {
	Reason string // FrameStructure, FrameDuplicateID or FrameDisplacedBody
	Detail string
}

func (e *FrameError) Error() string { return "envelope refused (" + e.Reason + "): " + e.Detail }

// operationNS are the namespaces of SHEP operation elements; one of them
// anywhere in soap:Header can only be a decoy for a reader that looks an
// operation up by name.
var operationNS = map[string]bool{NSTypes: true, NSAsync: true, NSAsyncClient: true}

// idAttribute reports an attribute that some XML signature resolver takes
// for an element's Id: wsu:Id, ds Id, xml:id, and the unqualified Id, ID
// and id that generic resolvers register.
func idAttribute(n xml.Name) bool {
	return n.Space != "xmlns" && (n.Local == "Id" || n.Local == "ID" || n.Local == "id")
}

// ParseInbound is ParseOp for an envelope from outside, where a signature
// or the schema will be relied on: it also reads the Frame and refuses an
// envelope whose shape lets readers disagree on the operation element. The
// frame is returned with ParseOp's error when only the decoding failed, so
// a caller still knows which operation was meant.
func ParseInbound(body []byte, lim safexml.Limits, pick func(xml.Name) any) (*Frame, error) {
	name, err := ParseOp(body, lim, pick)
	var se *safexml.Error
	if errors.As(err, &se) && se.Reason != "decode" {
		// Not safe, well-formed XML within the limits: nothing more to read.
		return nil, err
	}
	f, ferr := ReadFrame(body)
	if ferr != nil {
		return nil, ferr
	}
	if err == nil && name != f.Op {
		// Two readings of one document disagree: refuse rather than pick.
		return nil, &FrameError{Reason: FrameStructure, Detail: fmt.Sprintf("the operation was read as {%s}%s and as {%s}%s", name.Space, name.Local, f.Op.Space, f.Op.Local)}
	}
	return f, err
}

// ReadFrame reads the structure of an envelope that safexml's limits have
// already admitted (ParseInbound does both). It uses encoding/xml's own
// namespace resolution, the one the decoding uses.
func ReadFrame(body []byte) (*Frame, error) {
	r := frameReader{d: xml.NewDecoder(bytes.NewReader(body)), ids: map[string]bool{}}
	if err := r.read(); err != nil {
		return nil, err
	}
	return &r.f, nil
}

type frameLevel struct {
	name xml.Name
	// uris are the namespace names declared on this element.
	uris []string
}

type frameReader struct {
	d      *xml.Decoder
	f      Frame
	stack  []frameLevel
	ids    map[string]bool
	header bool // soap:Header seen
	body   bool // soap:Body seen
	op     bool // soap:Body's element seen
	// inHeader is the depth of soap:Header while inside it, else 0.
	inHeader int
}

func (r *frameReader) fail(reason, format string, args ...any) error {
	line, _ := r.d.InputPos()
	return &FrameError{Reason: reason, Detail: fmt.Sprintf("line %d: ", line) + fmt.Sprintf(format, args...)}
}

func (r *frameReader) read() error {
	for {
		tok, err := r.d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return r.fail(FrameStructure, "%v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := r.start(t); err != nil {
				return err
			}
		case xml.EndElement:
			if len(r.stack) == r.inHeader {
				r.inHeader = 0
			}
			r.stack = r.stack[:len(r.stack)-1]
		case xml.CharData:
			if err := r.text(t); err != nil {
				return err
			}
		case xml.Directive:
			return r.fail(FrameStructure, "declarations are not allowed")
		}
	}
	switch {
	case !r.body:
		return r.fail(FrameStructure, "soap:Envelope has no soap:Body")
	case !r.op:
		return r.fail(FrameStructure, "soap:Body holds no operation element")
	}
	return nil
}

func (r *frameReader) inScope(uri string) bool {
	if uri == "" || uri == nsXML {
		return true
	}
	for i := len(r.stack) - 1; i >= 0; i-- {
		for _, u := range r.stack[i].uris {
			if u == uri {
				return true
			}
		}
	}
	return false
}

func (r *frameReader) start(t xml.StartElement) error {
	lv := frameLevel{name: t.Name}
	for _, a := range t.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			if a.Name.Space == "xmlns" && a.Value == "" {
				return r.fail(FrameStructure, "xmlns:%s=\"\" undeclares a prefix, which XML 1.0 namespaces do not allow", a.Name.Local)
			}
			lv.uris = append(lv.uris, a.Value)
		}
	}
	r.stack = append(r.stack, lv)
	// encoding/xml leaves an undeclared prefix in place of the namespace
	// name; other parsers drop or reject it, so such a name means different
	// things to different readers.
	if !r.inScope(t.Name.Space) {
		return r.fail(FrameStructure, "element <%s:%s> uses an undeclared namespace prefix", t.Name.Space, t.Name.Local)
	}
	idAttrs := 0
	for i, a := range t.Attr {
		if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		if !r.inScope(a.Name.Space) {
			return r.fail(FrameStructure, "attribute %s:%s of <%s> uses an undeclared namespace prefix", a.Name.Space, a.Name.Local, t.Name.Local)
		}
		for _, b := range t.Attr[:i] {
			if b.Name == a.Name {
				return r.fail(FrameStructure, "attribute %s is repeated on <%s>", a.Name.Local, t.Name.Local)
			}
		}
		if !idAttribute(a.Name) {
			continue
		}
		if idAttrs++; idAttrs > 1 {
			return r.fail(FrameDuplicateID, "<%s> carries more than one Id attribute", t.Name.Local)
		}
		if r.ids[a.Value] {
			return r.fail(FrameDuplicateID, "Id %q is carried by more than one element; an Id must name one element", a.Value)
		}
		r.ids[a.Value] = true
	}
	depth := len(r.stack)
	soapName := t.Name.Space == NSSOAP && (t.Name.Local == "Envelope" || t.Name.Local == "Header" || t.Name.Local == "Body")
	switch {
	case depth == 1:
		if t.Name != (xml.Name{Space: NSSOAP, Local: "Envelope"}) {
			return r.fail(FrameStructure, "the root element is {%s}%s, not a SOAP 1.1 soap:Envelope", t.Name.Space, t.Name.Local)
		}
	case depth == 2:
		return r.envelopeChild(t)
	case soapName && t.Name.Local == "Body":
		return r.fail(FrameDisplacedBody, "soap:Body inside <%s>: the one Body signed and processed is the Envelope's child", r.stack[depth-2].name.Local)
	case soapName:
		return r.fail(FrameStructure, "soap:%s inside <%s>: it belongs only at the top of the envelope", t.Name.Local, r.stack[depth-2].name.Local)
	case depth == 3 && r.stack[1].name.Local == "Body":
		if r.op {
			return r.fail(FrameStructure, "soap:Body holds more than one element (second: <%s>); only one operation is processed", t.Name.Local)
		}
		r.op, r.f.Op = true, t.Name
	case r.inHeader > 0:
		if operationNS[t.Name.Space] {
			return r.fail(FrameStructure, "operation element <%s> inside soap:Header: only the element under soap:Body is processed", t.Name.Local)
		}
		if depth == 3 && t.Name == (xml.Name{Space: NSWSSE, Local: "Security"}) {
			r.f.Signed = true
		}
	}
	return nil
}

// envelopeChild admits the one Header, before the one Body.
func (r *frameReader) envelopeChild(t xml.StartElement) error {
	switch {
	case t.Name.Space != NSSOAP:
		return r.fail(FrameStructure, "unexpected element {%s}%s in soap:Envelope: only soap:Header and soap:Body belong there", t.Name.Space, t.Name.Local)
	case t.Name.Local == "Header" && !r.header && !r.body:
		r.header, r.inHeader = true, 2
	case t.Name.Local == "Body" && !r.body:
		r.body = true
		for _, a := range t.Attr {
			if a.Name == (xml.Name{Space: NSWSU, Local: "Id"}) {
				r.f.BodyID = a.Value
			}
		}
	case t.Name.Local == "Body":
		return r.fail(FrameStructure, "a second soap:Body: only one Body is signed and processed")
	default:
		return r.fail(FrameStructure, "unexpected or misplaced soap:%s in soap:Envelope", t.Name.Local)
	}
	return nil
}

// text refuses content where SOAP allows only elements: a reader that
// takes text for the Body's content would see something else.
func (r *frameReader) text(t xml.CharData) error {
	depth := len(r.stack)
	if len(bytes.TrimSpace(t)) == 0 {
		return nil
	}
	switch {
	case depth == 1:
		return r.fail(FrameStructure, "text directly inside soap:Envelope")
	case depth == 2 && r.stack[1].name.Local == "Body":
		return r.fail(FrameStructure, "text directly inside soap:Body")
	}
	return nil
}
