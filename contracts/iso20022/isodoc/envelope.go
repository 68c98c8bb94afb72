package isodoc

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/head001"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/head001v03"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// P returns a pointer to s converted to one of the generated string types;
// the generated structs hold every element as a pointer.
func P[T ~string](s string) *T {
	v := T(s)
	return &v
}

// S reads a generated optional string element, "" when absent.
func S[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

// NewHeader builds a head.001.001.02 business application header: from and
// to are the BICs of the sending and receiving participants, bizMsgIdr the
// document's message id (the BAH's and the document's ids are the same
// for a single-document message), msgDefIdr e.g. "pacs.008.001.08".
func NewHeader(from, to, bizMsgIdr, msgDefIdr, bizSvc string, created time.Time) *head001.AppHdr {
	h := &head001.AppHdr{
		Fr:        headerParty(from),
		To:        headerParty(to),
		BizMsgIdr: P[components.Max35Text](bizMsgIdr),
		MsgDefIdr: P[components.Max35Text](msgDefIdr),
		CreDt:     headerTime(created),
	}
	if bizSvc != "" {
		h.BizSvc = P[components.Max35Text](bizSvc)
	}
	return h
}

// NewHeaderV03 is NewHeader for the messages that travel with a
// head.001.001.03 header (see HeaderOf): the securities messages and
// pacs.009.001.11. Its parties are the same Party44Choice, by BIC.
func NewHeaderV03(from, to, bizMsgIdr, msgDefIdr, bizSvc string, created time.Time) *head001v03.AppHdr {
	h := &head001v03.AppHdr{
		Fr:        headerParty(from),
		To:        headerParty(to),
		BizMsgIdr: P[components.Max35Text](bizMsgIdr),
		MsgDefIdr: P[components.Max35Text](msgDefIdr),
		CreDt:     headerTime(created),
	}
	if bizSvc != "" {
		h.BizSvc = P[components.Max35Text](bizSvc)
	}
	return h
}

func headerParty(bic string) *components.Party44Choice {
	return &components.Party44Choice{FIId: &components.BranchAndFinancialInstitutionIdentification6{
		FinInstnId: &components.FinancialInstitutionIdentification18{BICFI: P[components.BICFIDec2014Identifier](bic)}}}
}

func headerTime(t time.Time) *components.ISODateTime {
	return P[components.ISODateTime](t.UTC().Format("2006-01-02T15:04:05Z"))
}

// PartyBIC is the BIC a header party (Fr, To) is identified by, as
// NewHeader writes it; "" when the party is absent or named otherwise.
func PartyBIC(p *components.Party44Choice) string {
	if p == nil || p.FIId == nil || p.FIId.FinInstnId == nil {
		return ""
	}
	return S(p.FIId.FinInstnId.BICFI)
}

// Marshal writes a message: the header (if any) and the Document of
// message definition docID inside the envelope element env, or the bare
// Document when env.Local is empty. The result is validated against the
// official schemas before it is returned; a violation comes back as
// *xsd.Error, and no bytes, so an invalid message cannot be sent by
// mistake. The header must be the one the message travels with (HeaderOf):
// for head.001.001.03, use MarshalV03.
func Marshal(env xml.Name, hdr *head001.AppHdr, docID string, doc any) ([]byte, error) {
	if hdr == nil {
		return marshal(env, "", nil, docID, doc)
	}
	return marshal(env, Head001, hdr, docID, doc)
}

// MarshalV03 is Marshal for the messages whose header is head.001.001.03
// (the securities messages and pacs.009.001.11, see HeaderOf).
func MarshalV03(env xml.Name, hdr *head001v03.AppHdr, docID string, doc any) ([]byte, error) {
	if hdr == nil {
		return marshal(env, "", nil, docID, doc)
	}
	return marshal(env, Head001v03, hdr, docID, doc)
}

// marshal takes hdr as any so both header versions share one encoder; the
// callers pass a nil interface, never a nil pointer, when there is none.
func marshal(env xml.Name, hdrID string, hdr any, docID string, doc any) ([]byte, error) {
	if hdr != nil && env.Local == "" {
		return nil, errors.New("isodoc: a business application header needs an envelope element")
	}
	if hdr != nil && hdrID != HeaderOf(docID) {
		return nil, fmt.Errorf("isodoc: %s travels with a %s header, not %s", docID, HeaderOf(docID), hdrID)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	// Indented: the message is kept in the audit trail, where a person
	// reads it, and schema errors then point at a line of their own.
	enc.Indent("", " ")
	if env.Local != "" {
		if err := enc.EncodeToken(xml.StartElement{Name: env}); err != nil {
			return nil, err
		}
	}
	var parts []xsd.Part
	if hdr != nil {
		hs, err := Schema(hdrID)
		if err != nil {
			return nil, err
		}
		if err := enc.EncodeElement(hdr, xml.StartElement{Name: xml.Name{Space: NS(hdrID), Local: "AppHdr"}}); err != nil {
			return nil, fmt.Errorf("isodoc: encoding AppHdr: %w", err)
		}
		parts = append(parts, xsd.Part{Schema: hs, Space: NS(hdrID), Local: "AppHdr"})
	}
	ds, err := Schema(docID)
	if err != nil {
		return nil, err
	}
	if err := enc.EncodeElement(doc, xml.StartElement{Name: xml.Name{Space: NS(docID), Local: "Document"}}); err != nil {
		return nil, fmt.Errorf("isodoc: encoding %s: %w", docID, err)
	}
	parts = append(parts, xsd.Part{Schema: ds, Space: NS(docID), Local: "Document"})
	if env.Local != "" {
		if err := enc.EncodeToken(xml.EndElement{Name: env}); err != nil {
			return nil, err
		}
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if vs := xsd.ValidateParts(out, parts...); vs != nil {
		return nil, &xsd.Error{Violations: vs}
	}
	return out, nil
}

// Inbound refusal codes, as the channel reports them.
const (
	CodeXMLRefused     = "XML_REFUSED"     // not well-formed, DOCTYPE, over limits
	CodeUnknownMessage = "UNKNOWN_MESSAGE" // not an ISO 20022 document this side accepts
	CodeBadEnvelope    = "BAD_ENVELOPE"    // header without document, stray elements…
	CodeSchemaInvalid  = "SCHEMA_INVALID"  // fails the official XSD
	CodeHeaderMismatch = "HEADER_MISMATCH" // header names another message than the document
)

// ParseError is why an inbound message was refused.
type ParseError struct {
	Code       string
	Reason     string
	Violations []xsd.Violation
}

func (e *ParseError) Error() string {
	if len(e.Violations) == 0 {
		return e.Code + ": " + e.Reason
	}
	return e.Code + ": " + e.Reason + ": " + (&xsd.Error{Violations: e.Violations}).Error()
}

// Message is an inbound ISO 20022 message that passed its schemas.
type Message struct {
	// MsgDefIdr is the Document's message definition, from its namespace.
	MsgDefIdr string
	// Header is the head.001.001.02 business application header, nil when
	// the Document came alone or travels with head.001.001.03.
	Header *head001.AppHdr
	// HeaderV03 is the head.001.001.03 header of the messages that travel
	// with it (HeaderOf), nil otherwise.
	HeaderV03 *head001v03.AppHdr
	// Form says how the message was framed: "document", "envelope" (a
	// wrapper element holding AppHdr and Document) or "concatenated"
	// (AppHdr and Document as two top-level elements, as some payment
	// systems frame them).
	Form string
	raw  []byte // the document as validated (wrapped if it was concatenated)
}

// Key is the message type, e.g. "pacs.002".
func (m *Message) Key() string { return Key(m.MsgDefIdr) }

// SenderBIC is the BIC of the header's sending party (Fr), whichever header
// version the message carries; "" without a header or a BIC.
func (m *Message) SenderBIC() string {
	switch {
	case m.Header != nil:
		return PartyBIC(m.Header.Fr)
	case m.HeaderV03 != nil:
		return PartyBIC(m.HeaderV03.Fr)
	}
	return ""
}

// concatWrapper frames a concatenated AppHdr + Document so that it is one
// XML document; it has no namespace, so it cannot collide with either.
const concatWrapper = "KopirConcatenatedMessage"

// Parse checks raw against the limits (no DTD, bounded size and depth),
// finds the Document and the optional header by namespace, refuses message
// types not in accept (message definition ids), and validates both against
// the official schemas.
func Parse(raw []byte, accept []string, lim safexml.Limits) (*Message, error) {
	m := &Message{raw: raw}
	if err := safexml.Check(bytes.NewReader(raw), lim); err != nil {
		var se *safexml.Error
		if !errors.As(err, &se) || se.Detail != "more than one root element" {
			return nil, &ParseError{Code: CodeXMLRefused, Reason: err.Error()}
		}
		m.raw = wrapConcatenated(raw)
		m.Form = "concatenated"
		if err := safexml.Check(bytes.NewReader(m.raw), lim); err != nil {
			return nil, &ParseError{Code: CodeXMLRefused, Reason: err.Error()}
		}
	}
	hdrNS, docNS, err := m.frame()
	if err != nil {
		return nil, err
	}
	id, ok := IDFromNS(docNS)
	if !ok {
		return nil, &ParseError{Code: CodeUnknownMessage, Reason: fmt.Sprintf("Document namespace %q is not an ISO 20022 message", docNS)}
	}
	if !contains(accept, id) {
		return nil, &ParseError{Code: CodeUnknownMessage, Reason: fmt.Sprintf("%s is not accepted here (accepted: %s)", id, strings.Join(accept, ", "))}
	}
	m.MsgDefIdr = id
	ds, err := Schema(id)
	if err != nil {
		return nil, err
	}
	parts := []xsd.Part{{Schema: ds, Space: docNS, Local: "Document"}}
	hdrID := HeaderOf(id)
	if hdrNS != "" {
		if hdrNS != NS(hdrID) {
			return nil, &ParseError{Code: CodeUnknownMessage, Reason: fmt.Sprintf("business application header %q is not supported with %s (only %s)", hdrNS, id, hdrID)}
		}
		hs, err := Schema(hdrID)
		if err != nil {
			return nil, err
		}
		parts = append([]xsd.Part{{Schema: hs, Space: hdrNS, Local: "AppHdr"}}, parts...)
	}
	if vs := xsd.ValidateParts(m.raw, parts...); vs != nil {
		return nil, &ParseError{Code: CodeSchemaInvalid, Reason: "message does not conform to " + schemaNames(parts), Violations: vs}
	}
	if hdrNS != "" {
		name := xml.Name{Space: hdrNS, Local: "AppHdr"}
		var named *components.Max35Text
		var err error
		if hdrID == Head001v03 {
			m.HeaderV03 = &head001v03.AppHdr{}
			err = m.decodeElement(name, m.HeaderV03)
			named = m.HeaderV03.MsgDefIdr
		} else {
			m.Header = &head001.AppHdr{}
			err = m.decodeElement(name, m.Header)
			named = m.Header.MsgDefIdr
		}
		if err != nil {
			return nil, &ParseError{Code: CodeSchemaInvalid, Reason: err.Error()}
		}
		if got := S(named); got != id {
			return nil, &ParseError{Code: CodeHeaderMismatch, Reason: fmt.Sprintf("AppHdr/MsgDefIdr is %q but the Document is %s", got, id)}
		}
	}
	return m, nil
}

// Decode fills v (a generated Document type of m's message) from the
// Document element.
func (m *Message) Decode(v any) error {
	return m.decodeElement(xml.Name{Space: NS(m.MsgDefIdr), Local: "Document"}, v)
}

func (m *Message) decodeElement(name xml.Name, v any) error {
	d := xml.NewDecoder(bytes.NewReader(m.raw))
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return fmt.Errorf("element {%s}%s not found", name.Space, name.Local)
			}
			return err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name == name {
			return d.DecodeElement(v, &se)
		}
	}
}

// frame finds the namespaces of the header and the Document: the root
// element itself, or the children of an envelope.
func (m *Message) frame() (hdrNS, docNS string, err error) {
	d := xml.NewDecoder(bytes.NewReader(m.raw))
	root, err := nextStart(d)
	if err != nil {
		return "", "", &ParseError{Code: CodeXMLRefused, Reason: err.Error()}
	}
	switch root.Name.Local {
	case "Document":
		if m.Form == "" {
			m.Form = "document"
		}
		return "", root.Name.Space, nil
	case "AppHdr":
		return "", "", &ParseError{Code: CodeBadEnvelope, Reason: "business application header without a Document"}
	}
	if m.Form == "" {
		m.Form = "envelope"
	}
	for {
		tok, err := d.Token()
		if err != nil {
			return "", "", &ParseError{Code: CodeXMLRefused, Reason: err.Error()}
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if docNS == "" {
				return "", "", &ParseError{Code: CodeBadEnvelope, Reason: fmt.Sprintf("envelope <%s> holds no Document", root.Name.Local)}
			}
			return hdrNS, docNS, nil
		case xml.StartElement:
			switch {
			case t.Name.Local == "AppHdr" && hdrNS == "" && docNS == "":
				hdrNS = t.Name.Space
			case t.Name.Local == "Document" && docNS == "":
				docNS = t.Name.Space
			case t.Name.Local == "AppHdr" && docNS != "":
				return "", "", &ParseError{Code: CodeBadEnvelope, Reason: "AppHdr must come before the Document"}
			default:
				return "", "", &ParseError{Code: CodeBadEnvelope, Reason: fmt.Sprintf("unexpected element <%s> in envelope <%s> (expected AppHdr then Document)", t.Name.Local, root.Name.Local)}
			}
			if err := d.Skip(); err != nil {
				return "", "", &ParseError{Code: CodeXMLRefused, Reason: err.Error()}
			}
		}
	}
}

func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// wrapConcatenated puts a wrapper element around the top-level elements,
// after the XML declaration, on the same lines, so the line numbers of
// schema errors stay those of the message as received.
func wrapConcatenated(raw []byte) []byte {
	at := 0
	if bytes.HasPrefix(raw, []byte("<?xml")) {
		if end := bytes.Index(raw, []byte("?>")); end > 0 {
			at = end + 2
		}
	}
	out := make([]byte, 0, len(raw)+2*len(concatWrapper)+5)
	out = append(out, raw[:at]...)
	out = append(out, "<"+concatWrapper+">"...)
	out = append(out, raw[at:]...)
	out = append(out, "</"+concatWrapper+">"...)
	return out
}

func schemaNames(parts []xsd.Part) string {
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = p.Schema.Name()
	}
	return strings.Join(names, " and ")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
