// Package ekyzmet is the payload e-Kyzmet, the civil-service HR system,
// exchanges through SHEP (serviceId EKyzmetUniversalService): a
// <Request serviceName="…"> of key/values params and a <Response/>, the
// embedded schema ekyzmet.xsd (Köpir's assumption, see README.md) and the
// facts about the services that are known or assumed.
//
// The Go types are written by hand rather than generated: the schema has
// no target namespace and three types, and what matters about them (the
// parallel value lists) is a rule XSD 1.0 cannot state, checked by
// RowCount. Marshal and Parse validate against the schema both ways, so a
// hand-written type cannot drift from it unnoticed.
package ekyzmet

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// ServiceID is e-Kyzmet's universal service on the SHEP SyncChannel.
const ServiceID = "EKyzmetUniversalService"

const nsXSI = "http://www.w3.org/2001/XMLSchema-instance"

// SchemaFile is the name of the embedded schema; requests name it in
// xsi:noNamespaceSchemaLocation, as the public sample does.
const SchemaFile = "EKyzmetUniversalService.xsd"

//go:embed ekyzmet.xsd
var schemaSource []byte

// SchemaSource returns the embedded schema. The slice is a copy.
func SchemaSource() []byte { return bytes.Clone(schemaSource) }

// Service names (the Request's serviceName) and their keys.
const (
	// ServiceACSEvents takes access-control events as parallel lists, one
	// value per event under each key.
	ServiceACSEvents = "sendEventFromACSList"
	// ServiceDecisionInvitation takes one invitation decision.
	ServiceDecisionInvitation = "PMKR_decisionInvitation"
	// ServicePersonnelReport is Köpir's assumption: the HR subsystem's
	// service-record report has no published name or keys.
	ServicePersonnelReport = "PMKR_personnelReport"
)

// Keys of sendEventFromACSList, as the sample writes them. KeyRFID is
// Köpir's assumption: an event identified by a pass card rather than an
// IIN carries the card there and an empty ИИН value.
const (
	KeyACSIIN      = "ИИН"
	KeyACSEvent    = "Событие"
	KeyACSTime     = "Время"
	KeyACSBIN      = "БИН"
	KeyACSFloor    = "Номер этажа"
	KeyACSBuilding = "Наименование здания"
	KeyACSRFID     = "RFID"
)

// Keys of PMKR_decisionInvitation (known) and PMKR_personnelReport
// (assumed, in the same style).
const (
	KeyIIN       = "iin"
	KeyDocUID    = "docUID"
	KeyDecision  = "decision"
	KeyPosition  = "position"
	KeyBIN       = "bin"
	KeyStartDate = "startDate"
	KeyEndDate   = "endDate"
	KeyGrounds   = "grounds"
)

// Service describes the keys one service name takes.
type Service struct {
	Required []string
	Optional []string
	// Parallel services take lists of any length (all the same); the
	// others exactly one value per key.
	Parallel bool
}

// Services are the service names Köpir sends, with their keys.
var Services = map[string]Service{
	ServiceACSEvents: {
		Required: []string{KeyACSIIN, KeyACSEvent, KeyACSTime, KeyACSBIN, KeyACSFloor, KeyACSBuilding},
		Optional: []string{KeyACSRFID},
		Parallel: true,
	},
	ServiceDecisionInvitation: {Required: []string{KeyIIN, KeyDocUID, KeyDecision}},
	ServicePersonnelReport: {
		Required: []string{KeyIIN, KeyPosition, KeyBIN, KeyStartDate, KeyGrounds},
		Optional: []string{KeyEndDate},
	},
}

// Reply statuses, in SHEP responseInfo/status/code. SCSS001 is seen in a
// real reply; the error codes are Köpir's assumption (e-Kyzmet publishes
// none) and what the mock answers.
const (
	StatusSuccess        = "SCSS001"
	StatusInvalidParams  = "ERR001" // keys missing or unknown, lists of unequal length, a bad IIN/BIN or date
	StatusUnknownService = "ERR002" // serviceName e-Kyzmet does not serve
	StatusNotFound       = "ERR404" // the civil servant or document is not on record
	StatusInternal       = "ERR500" // e-Kyzmet failed
)

// Request is the content of requestData/data.
type Request struct {
	XMLName     xml.Name `xml:"Request"`
	ServiceName string   `xml:"serviceName,attr"`
	// XSI and SchemaLocation write xsi:noNamespaceSchemaLocation as the
	// sample does; literal prefixes, because encoding/xml would invent its
	// own. NewRequest sets them; parsing leaves them empty.
	XSI            string  `xml:"xmlns:xsi,attr,omitempty"`
	SchemaLocation string  `xml:"xsi:noNamespaceSchemaLocation,attr,omitempty"`
	Params         []Param `xml:"param"`
}

// Response is the content of responseData/data.
type Response struct {
	XMLName     xml.Name `xml:"Response"`
	ServiceName string   `xml:"serviceName,attr,omitempty"`
	Params      []Param  `xml:"param"`
}

// Param is one key with its values.
type Param struct {
	Key    string `xml:"key"`
	Type   string `xml:"type,omitempty"`
	Values Values `xml:"values"`
}

// Values wraps the value list.
type Values struct {
	Value []string `xml:"value"`
}

// TypeString is the only param type seen.
const TypeString = "String"

// NewRequest starts a request for serviceName.
func NewRequest(serviceName string) *Request {
	return &Request{ServiceName: serviceName, XSI: nsXSI, SchemaLocation: SchemaFile}
}

// Add appends a String param.
func (r *Request) Add(key string, values ...string) {
	r.Params = append(r.Params, Param{Key: key, Type: TypeString, Values: Values{Value: values}})
}

// Values returns the values under key.
func (r *Request) Values(key string) ([]string, bool) {
	for _, p := range r.Params {
		if p.Key == key {
			return p.Values.Value, true
		}
	}
	return nil, false
}

// ErrUnequalLists is wrapped by RowCount when the value lists differ in length.
var ErrUnequalLists = errors.New("ekyzmet: value lists of unequal length")

// RowCount checks the request against its service: every required key
// present, no unknown key, and all value lists the same length (exactly one
// value for a service that is not Parallel). It returns that length.
func (r *Request) RowCount() (int, error) {
	svc, ok := Services[r.ServiceName]
	if !ok {
		return 0, fmt.Errorf("ekyzmet: unknown serviceName %q", r.ServiceName)
	}
	known := map[string]bool{}
	for _, k := range svc.Required {
		known[k] = true
		if _, ok := r.Values(k); !ok {
			return 0, fmt.Errorf("ekyzmet: %s: key %q is missing", r.ServiceName, k)
		}
	}
	for _, k := range svc.Optional {
		known[k] = true
	}
	n := -1
	var first string
	for _, p := range r.Params {
		if !known[p.Key] {
			return 0, fmt.Errorf("ekyzmet: %s: unknown key %q", r.ServiceName, p.Key)
		}
		switch l := len(p.Values.Value); {
		case n < 0:
			n, first = l, p.Key
		case l != n:
			return 0, fmt.Errorf("%w: %q has %d values, %q has %d", ErrUnequalLists, first, n, p.Key, l)
		}
	}
	if n <= 0 {
		return 0, fmt.Errorf("ekyzmet: %s: no values", r.ServiceName)
	}
	if !svc.Parallel && n != 1 {
		return 0, fmt.Errorf("ekyzmet: %s takes one value per key, got %d", r.ServiceName, n)
	}
	return n, nil
}

var schema = &xsd.Lazy{Source: schemaSource, Name: SchemaFile}

// Schema returns the compiled schema, compiled on first use and shared.
func Schema() (*xsd.Schema, error) {
	return schema.Schema()
}

// Validate checks a Request or Response document (the one element, as it
// sits inside <data>) against the schema; a violation comes back as
// *xsd.Error naming the element and why.
func Validate(doc []byte) error {
	return schema.Validate(doc)
}

// Marshal writes r as the Request element and validates it: an invalid
// request returns *xsd.Error and no bytes, so it cannot be sent by mistake.
func Marshal(r *Request) ([]byte, error) {
	b, err := xml.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("ekyzmet: encoding Request: %w", err)
	}
	if err := Validate(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ParseRequest reads the content of a requestData/data, checked against
// safexml's limits and the schema.
func ParseRequest(data []byte) (*Request, error) {
	var r Request
	if err := parse(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ParseResponse reads the content of a responseData/data the same way.
func ParseResponse(data []byte) (*Response, error) {
	var r Response
	if err := parse(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func parse(data []byte, v any) error {
	doc := bytes.TrimSpace(data)
	if err := safexml.Check(bytes.NewReader(doc), safexml.Default); err != nil {
		return err
	}
	if err := Validate(doc); err != nil {
		return err
	}
	if err := xml.Unmarshal(doc, v); err != nil {
		return fmt.Errorf("ekyzmet: %w", err)
	}
	return nil
}
