// Package gbdfl looks a person up in GBD FL, the state registry of
// individuals, by IIN. The call goes through SHEP (package egov); this
// package only deals with what GBD FL puts inside requestData/responseData.
package gbdfl

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/internal/kzid"
)

func init() { adapters.Register("gbdfl", New) }

// DefaultServiceID is GBD FL's universal synchronous service on SHEP.
const DefaultServiceID = "GBDFL_UniversalServiceSync"

// NSMessage is the namespace of the Request and Response types.
const NSMessage = "http://message.persistence.interactive.nat"

// ResultOK is the messageResult code of a processed request.
const ResultOK = "00000"

// NotFoundCodes are messageResult codes that mean "no such person". GBD FL
// publishes none; the schema's own way to say it is a successful result
// with no persons (persons is minOccurs=0), which is what the adapter maps
// to 404. Add a code here (at init) if the registry is seen to use one.
var NotFoundCodes = map[string]bool{}

// PersonRequest is the internal JSON of operation "person".
type PersonRequest struct {
	IIN string `json:"iin"`
}

// Person is the internal JSON answer: the registry's record, flattened, with
// dictionary values as {code, name} (name in Russian, as GBD FL's nameRu).
type Person struct {
	IIN         string     `json:"iin"`
	LastName    string     `json:"lastName"`
	FirstName   string     `json:"firstName"`
	MiddleName  string     `json:"middleName,omitempty"`
	BirthDate   string     `json:"birthDate"` // YYYY-MM-DD
	DeathDate   string     `json:"deathDate,omitempty"`
	Sex         string     `json:"sex"` // "male", "female", or "" if GBD FL gave another code
	Citizenship *Ref       `json:"citizenship,omitempty"`
	Nationality *Ref       `json:"nationality,omitempty"`
	LifeStatus  *Ref       `json:"lifeStatus,omitempty"`
	Documents   []Document `json:"documents,omitempty"`
}

// Ref is a dictionary value.
type Ref struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Document is an identity document on record.
type Document struct {
	Type      *Ref   `json:"type,omitempty"`
	Number    string `json:"number"`
	Series    string `json:"series,omitempty"`
	IssuedAt  string `json:"issuedAt,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
	Issuer    *Ref   `json:"issuer,omitempty"`
	Status    *Ref   `json:"status,omitempty"`
}

// Adapter is the "gbdfl" adapter.
type Adapter struct {
	Sender *egov.Sender
}

// New is the adapters.Factory.
func New(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	operation := cfg.Operation
	if operation != "person" {
		return nil, fmt.Errorf("gbdfl: unknown operation %q (known: person)", operation)
	}
	var o egov.Options
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("gbdfl: options: %w", err)
	}
	if o.ServiceID == "" {
		o.ServiceID = DefaultServiceID
	}
	s, err := egov.NewSender(o)
	if err == nil {
		err = s.Provision(res)
	}
	if err != nil {
		return nil, fmt.Errorf("gbdfl: %w", err)
	}
	s.Now = res.Clock
	return &Adapter{Sender: s}, nil
}

// Validate refuses a malformed IIN before SHEP is bothered with it.
func (a *Adapter) Validate(_ context.Context, req *adapters.Request) error {
	in, err := parseRequest(req.Body)
	if err == nil {
		req.Parsed = in
	}
	return err
}

// request is req's PersonRequest, as Validate left it or parsed now.
func request(req *adapters.Request) (*PersonRequest, error) {
	if in, ok := req.Parsed.(*PersonRequest); ok {
		return in, nil
	}
	return parseRequest(req.Body)
}

func parseRequest(body []byte) (*PersonRequest, error) {
	var in PersonRequest
	if err := adapters.DecodeStrict(body, &in); err != nil {
		return nil, err
	}
	if in.IIN == "" {
		return nil, adapters.Invalid("iin", "is required")
	}
	if err := kzid.ValidateIIN(in.IIN); err != nil {
		return nil, adapters.Invalid("iin", "%s", err)
	}
	return &in, nil
}

var requestType = xml.Name{Space: NSMessage, Local: "Request"}

// Encode builds the SendMessage carrying a GBD FL Request by IIN.
func (a *Adapter) Encode(ctx context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	in, err := request(req)
	if err != nil {
		return nil, err
	}
	if req.MessageID == "" {
		// GBD FL's messageId is required; give both envelopes the same one.
		r := *req
		r.MessageID = uuid.NewString()
		req = &r
	}
	now := time.Now
	if a.Sender.Now != nil {
		now = a.Sender.Now
	}
	return a.Sender.Wire(ctx, req, shep.Payload{Type: requestType, Value: &fltypes.Request{
		MessageId:   req.MessageID,
		MessageDate: soap.CreateXsdDateTime(now(), true),
		SenderCode:  a.Sender.SenderID,
		Iin:         in.IIN,
	}})
}

// Decode turns GBD FL's Response into Person.
func (a *Adapter) Decode(_ context.Context, req *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	var r fltypes.Response
	if _, err := a.Sender.Decode(resp, &r); err != nil {
		return nil, err
	}
	if r.MessageResult == nil {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: "GBDFL_BAD_RESPONSE", Detail: "GBD FL response without messageResult"}
	}
	code := r.MessageResult.Code
	switch {
	case NotFoundCodes[code]:
		return nil, notFound(code, r.MessageResult.NameRu)
	case code != ResultOK:
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: code,
			Detail: fmt.Sprintf("GBD FL messageResult %s: %s", code, r.MessageResult.NameRu)}
	}
	var want string
	if in, err := request(req); err == nil {
		want = in.IIN
	}
	p := pick(r.Persons.Person, want)
	if p == nil {
		return nil, notFound("PERSON_NOT_FOUND", "GBD FL has no person with this IIN")
	}
	b, err := json.Marshal(convert(p))
	if err != nil {
		return nil, err
	}
	return &adapters.Response{Body: b}, nil
}

func notFound(code, detail string) *adapters.Error {
	return &adapters.Error{Status: http.StatusNotFound, Field: "iin", Code: code, Detail: detail}
}

// pick takes the record for the IIN asked about; a registry answer about
// someone else is treated as no answer rather than passed on.
func pick(ps []*fltypes.Person, iin string) *fltypes.Person {
	for _, p := range ps {
		if p != nil && (iin == "" || p.Iin == iin) {
			return p
		}
	}
	return nil
}

func convert(p *fltypes.Person) *Person {
	out := &Person{
		IIN:        p.Iin,
		LastName:   p.Surname,
		FirstName:  p.Name,
		MiddleName: p.Patronymic,
		BirthDate:  date(p.BirthDate),
		DeathDate:  date(p.DeathDate),
		Sex:        sex(p.Gender),
	}
	if c := p.Citizenship; c != nil {
		out.Citizenship = &Ref{c.Code, c.NameRu}
	}
	if n := p.Nationality; n != nil {
		out.Nationality = &Ref{n.Code, n.NameRu}
	}
	if l := p.LifeStatus; l != nil {
		out.LifeStatus = &Ref{l.Code, l.NameRu}
	}
	for _, d := range p.Documents.Document {
		if d == nil {
			continue
		}
		doc := Document{Number: d.Number, Series: d.Series, IssuedAt: date(d.BeginDate), ExpiresAt: date(d.EndDate)}
		if t := d.Type_; t != nil {
			doc.Type = &Ref{t.Code, t.NameRu}
		}
		if o := d.IssueOrganization; o != nil {
			doc.Issuer = &Ref{o.Code, o.NameRu}
		}
		if s := d.Status; s != nil {
			doc.Status = &Ref{s.Code, s.NameRu}
		}
		out.Documents = append(out.Documents, doc)
	}
	return out
}

func date(d soap.XSDDate) string {
	// An absent date converts to year 1 in time.Local, which IsZero does
	// not recognise outside UTC.
	t := d.ToGoTime()
	if t.Year() <= 1 {
		return ""
	}
	return t.Format(time.DateOnly)
}

// sex reads the gender dictionary: code 1 Мужской, 2 Женский in GBD FL
// answers seen in public integrations; the Russian name is the fallback.
func sex(g *fltypes.Gender) string {
	if g == nil {
		return ""
	}
	switch {
	case g.Code == "1" || strings.EqualFold(g.NameRu, "Мужской"):
		return "male"
	case g.Code == "2" || strings.EqualFold(g.NameRu, "Женский"):
		return "female"
	}
	return ""
}
