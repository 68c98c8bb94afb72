// Package kase is the wire format Köpir uses with the Kazakhstan Stock
// Exchange for placing government securities: the embedded schema
// kase-1.0.xsd, its compiled form, and the encoding of the generated types
// (package kasetypes) into documents and back, validated both ways.
//
// The exchange publishes no machine interface for issuers; the schema is
// Köpir's own (README.md says what it rests on). Like the other contract
// packages it knows nothing of the bus: only internal/xsd and
// internal/safexml are imported.
package kase

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"
	"reflect"

	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// Namespace is the schema's target namespace; it carries the version, so a
// reader never has to guess which terms a document was written under.
const Namespace = "urn:kopir:kase:placement:1.0"

// SchemaFile is the name of the embedded schema.
const SchemaFile = "kase-1.0.xsd"

//go:embed kase-1.0.xsd
var schemaSource []byte

// SchemaSource returns the schema as embedded, e.g. to publish it to the
// exchange. The slice is a copy.
func SchemaSource() []byte { return bytes.Clone(schemaSource) }

// Message names: the root elements of the schema.
const (
	PlacementAnnouncement = "PlacementAnnouncement" // ministry → exchange
	PlacementAck          = "PlacementAck"          // exchange → ministry
	DemandSummary         = "DemandSummary"         // exchange → ministry
	CutoffDecision        = "CutoffDecision"        // ministry → exchange
	CutoffAck             = "CutoffAck"             // exchange → ministry
	AuctionResult         = "AuctionResult"         // exchange → ministry
)

// Messages lists the message names in the order they travel.
var Messages = []string{PlacementAnnouncement, PlacementAck, DemandSummary, CutoffDecision, CutoffAck, AuctionResult}

var schema = &xsd.Lazy{Source: schemaSource, Name: SchemaFile}

// Schema returns the compiled schema, compiled on first use and shared.
func Schema() (*xsd.Schema, error) {
	return schema.Schema()
}

// Validate checks a whole document against the schema; a violation comes
// back as *xsd.Error, naming the element (its path) and why.
func Validate(doc []byte) error {
	return schema.Validate(doc)
}

// NameOf returns the message name of a value of one of the six generated
// message types (pointer or not), "" for anything else.
func NameOf(v any) string {
	switch v.(type) {
	case *kasetypes.PlacementAnnouncement, kasetypes.PlacementAnnouncement:
		return PlacementAnnouncement
	case *kasetypes.PlacementAck, kasetypes.PlacementAck:
		return PlacementAck
	case *kasetypes.DemandSummary, kasetypes.DemandSummary:
		return DemandSummary
	case *kasetypes.CutoffDecision, kasetypes.CutoffDecision:
		return CutoffDecision
	case *kasetypes.CutoffAck, kasetypes.CutoffAck:
		return CutoffAck
	case *kasetypes.AuctionResult, kasetypes.AuctionResult:
		return AuctionResult
	}
	return ""
}

// newMessage returns a pointer to a zero value of the type of message name.
func newMessage(name string) any {
	switch name {
	case PlacementAnnouncement:
		return new(kasetypes.PlacementAnnouncement)
	case PlacementAck:
		return new(kasetypes.PlacementAck)
	case DemandSummary:
		return new(kasetypes.DemandSummary)
	case CutoffDecision:
		return new(kasetypes.CutoffDecision)
	case CutoffAck:
		return new(kasetypes.CutoffAck)
	case AuctionResult:
		return new(kasetypes.AuctionResult)
	}
	return nil
}

// ErrNotAMessage is returned for a value or document that is none of the
// six messages.
var ErrNotAMessage = errors.New("kase: not a KASE placement message")

// Marshal writes msg (one of the kasetypes message types) as a document:
// its root element in Namespace, as the default namespace. The result is
// validated against the schema before it is returned; a violation comes
// back as *xsd.Error and no bytes, so an invalid message cannot be sent by
// mistake.
func Marshal(msg any) ([]byte, error) {
	name := NameOf(msg)
	if name == "" {
		return nil, fmt.Errorf("%w: %T", ErrNotAMessage, msg)
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	// Indented: the document is kept in the audit trail, where a person
	// reads it, and a schema error then points at a line of its own.
	enc.Indent("", " ")
	if err := enc.EncodeElement(msg, xml.StartElement{Name: xml.Name{Space: Namespace, Local: name}}); err != nil {
		return nil, fmt.Errorf("kase: encoding %s: %w", name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if err := Validate(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Root returns the message name of a document's root element. A document
// that is refused by safexml's default limits (a DOCTYPE, too deep, too
// large) comes back as *safexml.Error; a root outside Namespace or not a
// message of the schema as ErrNotAMessage.
func Root(doc []byte) (string, error) {
	if err := safexml.Check(bytes.NewReader(doc), safexml.Default); err != nil {
		return "", err
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("kase: no root element: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Space != Namespace || newMessage(se.Name.Local) == nil {
				return "", fmt.Errorf("%w: root element {%s}%s", ErrNotAMessage, se.Name.Space, se.Name.Local)
			}
			return se.Name.Local, nil
		}
	}
}

// Unmarshal reads a document into msg, a pointer to the kasetypes type of
// the document's root element. The document is checked against safexml's
// default limits and validated against the schema first; it is refused,
// with *xsd.Error naming the element, unless it is valid.
func Unmarshal(doc []byte, msg any) error {
	want := NameOf(msg)
	if want == "" {
		return fmt.Errorf("%w: %T", ErrNotAMessage, msg)
	}
	if rv := reflect.ValueOf(msg); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("kase: Unmarshal needs a non-nil pointer, got %T", msg)
	}
	got, err := Root(doc)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("kase: document is a %s, not a %s", got, want)
	}
	return decode(doc, msg)
}

// Parse reads a document of any of the six messages and returns a pointer
// to its kasetypes value (*kasetypes.AuctionResult…) and its name, after
// the same checks as Unmarshal.
func Parse(doc []byte) (any, string, error) {
	name, err := Root(doc)
	if err != nil {
		return nil, "", err
	}
	msg := newMessage(name)
	if err := decode(doc, msg); err != nil {
		return nil, "", err
	}
	return msg, name, nil
}

func decode(doc []byte, msg any) error {
	if err := Validate(doc); err != nil {
		return err
	}
	if err := xml.Unmarshal(doc, msg); err != nil {
		return fmt.Errorf("kase: decoding: %w", err)
	}
	return nil
}
