// Package gbdul asks GBD UL, the state registry of legal entities, through
// SHEP (package egov). Its one published contract in contracts/gbdul is
// report 30.05, "all registration actions of a legal entity, branch or
// representative office", so both operations send a 30.05 request by BIN:
//
//   - report3005 returns the report: the organisation and its registration
//     actions;
//   - organization returns only the organisation card from it.
//
// GBD UL's by-BIN service (GbdulInfoByBin_v2) has no contract in the
// shared collection, so it is not spoken here; when its XSD arrives,
// organization can move to it without its JSON changing.
package gbdul

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/gbdul/ultypes"
	"github.com/minfin-kz/kopir/internal/kzid"
)

func init() { adapters.Register("gbdul", New) }

// Namespace of report 30.05 (elementFormDefault qualified).
const NS3005 = "http://3005_kdp.reports.egp.gbdul.tamur.kz"

// DefaultServiceID is report 30.05's service on SHEP (contracts/README).
const DefaultServiceID = "GbdulReport3005_KDP"

// DefaultSuccessCodes are response status codes meaning "processed". GBD
// UL publishes none for 30.05; 002 "Запрос обработан успешно" is what its
// by-BIN service answers in public integrations. Routes can override it.
var DefaultSuccessCodes = []string{"002"}

// Options is a gbdul route's options block.
type Options struct {
	egov.Options `yaml:",inline"`
	// DeclarantID is the IIN/BIN the report is requested for (declarantId),
	// normally the ministry's BIN; a request may give its own.
	DeclarantID  string   `yaml:"declarantId"`
	SuccessCodes []string `yaml:"successCodes"`
}

// Request is the internal JSON of both operations.
type Request struct {
	BIN         string `json:"bin"`
	DeclarantID string `json:"declarantId,omitempty"`
}

// Organization is the organisation card, flattened; names in Russian and
// Kazakh as the registry keeps them.
type Organization struct {
	BIN                    string     `json:"bin"`
	Form                   string     `json:"form"` // legalEntity, branch, representativeOffice
	NameRu                 string     `json:"nameRu"`
	NameKz                 string     `json:"nameKz"`
	RegistrationDate       string     `json:"registrationDate,omitempty"`
	LastRegistrationDate   string     `json:"lastRegistrationDate,omitempty"`
	RegistrationDepartment *Ref       `json:"registrationDepartment,omitempty"`
	Leader                 *Leader    `json:"leader,omitempty"`
	FoundersCount          int        `json:"foundersCount,omitempty"`
	FoundersOrganizations  []OrgShort `json:"foundersOrganizations,omitempty"`
	FoundersPersons        []Person   `json:"foundersPersons,omitempty"`
	ActivityRu             string     `json:"activityRu,omitempty"`
	ActivityKz             string     `json:"activityKz,omitempty"`
	HeadOrganization       *OrgShort  `json:"headOrganization,omitempty"`
	Address                *Address   `json:"address,omitempty"`
}

// Report is report 30.05.
type Report struct {
	ReportNumber      string       `json:"reportNumber"`
	Organization      Organization `json:"organization"`
	RegistrationDeals []Deal       `json:"registrationDeals"`
}

// Ref is a dictionary value.
type Ref struct {
	Code   string `json:"code"`
	NameRu string `json:"nameRu"`
	NameKz string `json:"nameKz,omitempty"`
}

// Leader is the head of the organisation.
type Leader struct {
	Person
	PositionRu  string `json:"positionRu,omitempty"`
	PositionKz  string `json:"positionKz,omitempty"`
	AppointedAt string `json:"appointedAt,omitempty"`
}

// Person is a founder or leader.
type Person struct {
	IIN        string `json:"iin,omitempty"`
	LastName   string `json:"lastName,omitempty"`
	FirstName  string `json:"firstName,omitempty"`
	MiddleName string `json:"middleName,omitempty"`
}

// OrgShort is a founding or head organisation.
type OrgShort struct {
	BIN    string `json:"bin,omitempty"`
	NameRu string `json:"nameRu"`
	NameKz string `json:"nameKz,omitempty"`
}

// Address is the registered address.
type Address struct {
	RKA    string `json:"rka,omitempty"`
	NameRu string `json:"nameRu"`
	NameKz string `json:"nameKz,omitempty"`
}

// Deal is one registration action.
type Deal struct {
	Code     string `json:"code"`
	NameRu   string `json:"nameRu"`
	NameKz   string `json:"nameKz,omitempty"`
	Date     string `json:"date"`
	NoticeRu string `json:"noticeRu,omitempty"`
	NoticeKz string `json:"noticeKz,omitempty"`
}

// Adapter is the "gbdul" adapter.
type Adapter struct {
	Sender    *egov.Sender
	op        string
	declarant string
	success   map[string]bool
}

// New is the adapters.Factory.
func New(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	operation := cfg.Operation
	if operation != "organization" && operation != "report3005" {
		return nil, fmt.Errorf("gbdul: unknown operation %q (known: organization, report3005)", operation)
	}
	var o Options
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("gbdul: options: %w", err)
	}
	if o.ServiceID == "" {
		o.ServiceID = DefaultServiceID
	}
	if o.DeclarantID != "" && kzid.ValidateBIN(o.DeclarantID) != nil && kzid.ValidateIIN(o.DeclarantID) != nil {
		return nil, fmt.Errorf("gbdul: options.declarantId %q is neither a valid BIN nor a valid IIN", o.DeclarantID)
	}
	s, err := egov.NewSender(o.Options)
	if err == nil {
		err = s.Provision(res)
	}
	if err != nil {
		return nil, fmt.Errorf("gbdul: %w", err)
	}
	s.Now = res.Clock
	a := &Adapter{Sender: s, op: operation, declarant: o.DeclarantID, success: map[string]bool{}}
	codes := o.SuccessCodes
	if len(codes) == 0 {
		codes = DefaultSuccessCodes
	}
	for _, c := range codes {
		a.success[c] = true
	}
	return a, nil
}

// Validate refuses a malformed BIN before SHEP is bothered with it.
func (a *Adapter) Validate(_ context.Context, req *adapters.Request) error {
	_, err := a.parse(req.Body)
	return err
}

func (a *Adapter) parse(body []byte) (*Request, error) {
	var in Request
	if err := adapters.DecodeStrict(body, &in); err != nil {
		return nil, err
	}
	if in.BIN == "" {
		return nil, adapters.Invalid("bin", "is required")
	}
	if err := kzid.ValidateBIN(in.BIN); err != nil {
		return nil, adapters.Invalid("bin", "%s", err)
	}
	if in.DeclarantID == "" {
		in.DeclarantID = a.declarant
	}
	switch {
	case in.DeclarantID == "":
		return nil, adapters.Invalid("declarantId", "is required (the route has no default declarantId)")
	case kzid.ValidateBIN(in.DeclarantID) != nil && kzid.ValidateIIN(in.DeclarantID) != nil:
		return nil, adapters.Invalid("declarantId", "is neither a valid BIN nor a valid IIN")
	}
	return &in, nil
}

var requestName = xml.Name{Space: NS3005, Local: "request"}

// Encode builds the SendMessage carrying a 30.05 request.
func (a *Adapter) Encode(ctx context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	in, err := a.parse(req.Body)
	if err != nil {
		return nil, err
	}
	if req.MessageID == "" {
		r := *req
		r.MessageID = uuid.NewString()
		req = &r
	}
	now := time.Now()
	if a.Sender.Now != nil {
		now = a.Sender.Now()
	}
	msg := &ultypes.RequestMessage{
		BaseRequestMessage: &ultypes.BaseRequestMessage{
			RequestNumber: req.MessageID, DeclarantId: in.DeclarantID,
			RequestDate: soap.CreateXsdDateTime(now, true), RequestSystemId: a.Sender.SenderID,
		},
		BusinessData: &ultypes.RequestType{BIN: in.BIN},
	}
	return a.Sender.Wire(ctx, req, shep.Payload{Value: &inData{msg}})
}

// inData puts the 30.05 request element inside <data>. It is written as
// <request xmlns="…3005_kdp…">: the schema's elements are qualified, and
// the generated fields, unqualified, inherit that default namespace.
type inData struct{ req *ultypes.RequestMessage }

// MarshalXML implements xml.Marshaler.
func (d *inData) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := e.EncodeElement(d.req, xml.StartElement{Name: requestName}); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

// responseData is <data> holding <response> of the 30.05 schema.
type responseData struct {
	Response *ultypes.ResponseMessage `xml:"response"`
}

// Decode maps the 30.05 response.
func (a *Adapter) Decode(_ context.Context, req *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	var d responseData
	if _, err := a.Sender.Decode(resp, &d); err != nil {
		return nil, err
	}
	r := d.Response
	if r == nil || r.BaseResponseMessage == nil || r.Status == nil {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: "GBDUL_BAD_RESPONSE", Detail: "GBD UL response without response/status"}
	}
	if !a.success[r.Status.Code] {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: r.Status.Code,
			Detail: fmt.Sprintf("GBD UL status %s: %s", r.Status.Code, r.Status.NameRu)}
	}
	bd := r.BusinessData
	var want string
	if in, err := a.parse(req.Body); err == nil {
		want = in.BIN
	}
	// An answer about another organisation is no answer.
	if bd == nil || bd.Organization == nil || (want != "" && bd.Organization.BIN != want) {
		return nil, &adapters.Error{Status: http.StatusNotFound, Field: "bin", Code: "ORGANIZATION_NOT_FOUND", Detail: "GBD UL has no legal entity with this BIN"}
	}
	org := convertOrg(bd.Organization)
	var out any = org
	if a.op == "report3005" {
		rep := &Report{ReportNumber: bd.ReportNumber, Organization: *org, RegistrationDeals: []Deal{}}
		for _, d := range bd.RegisterDeals {
			if d == nil {
				continue
			}
			rep.RegistrationDeals = append(rep.RegistrationDeals, Deal{Code: d.RegisterDealTypeId, NameRu: d.RegisterDealTypeNameRu,
				NameKz: d.RegisterDealTypeNameKz, Date: date(d.RegisterDealTypeDate), NoticeRu: d.NoticeRu, NoticeKz: d.NoticeKz})
		}
		out = rep
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &adapters.Response{Body: b}, nil
}

func convertOrg(o *ultypes.OrganizationType) *Organization {
	out := &Organization{
		BIN: o.BIN, Form: form(o.OrgFormCode), NameRu: o.OrganizationNameRu, NameKz: o.OrganizationNameKz,
		RegistrationDate: date(o.RegistrationDate), LastRegistrationDate: date(o.RegistrationLastDate),
		FoundersCount: int(o.FoundersCount), ActivityRu: o.ActivityTypeNameRu, ActivityKz: o.ActivityTypeNameKz,
	}
	if d := o.RegistrationDepartment; d != nil {
		out.RegistrationDepartment = &Ref{d.Code, d.NameRu, d.NameKz}
	}
	if l := o.OrganizationLeader; l != nil {
		ld := &Leader{Person: person(l.IIN, l.FIO)}
		if p := l.PositionInfo; p != nil {
			ld.PositionRu, ld.PositionKz, ld.AppointedAt = p.NameRu, p.NameKz, date(p.AppointmentDate)
		}
		out.Leader = ld
	}
	for _, f := range o.FoundersUL {
		if f != nil {
			out.FoundersOrganizations = append(out.FoundersOrganizations, OrgShort{f.BIN, f.OrganizationNameRu, f.OrganizationNameKz})
		}
	}
	for _, f := range o.FoundersFL {
		if f != nil {
			out.FoundersPersons = append(out.FoundersPersons, person(f.IIN, f.FIO))
		}
	}
	if h := o.HeaderOrganization; h != nil {
		out.HeadOrganization = &OrgShort{h.BIN, h.OrganizationNameRu, h.OrganizationNameKz}
	}
	if ad := o.LegalAddress; ad != nil {
		out.Address = &Address{ad.RKA, ad.NameRu, ad.NameKz}
	}
	return out
}

func person(iin string, f *ultypes.FIOType) Person {
	p := Person{IIN: iin}
	if f != nil {
		p.LastName, p.FirstName, p.MiddleName = f.SurName, f.Name, f.MiddleName
	}
	return p
}

// form reads OrgFormCode: 1 legal entity, 2 branch, 3 representative office.
func form(code int32) string {
	switch code {
	case 1:
		return "legalEntity"
	case 2:
		return "branch"
	case 3:
		return "representativeOffice"
	}
	return ""
}

func date(d soap.XSDDate) string {
	t := d.ToGoTime()
	if t.Year() <= 1 {
		return ""
	}
	return t.Format(time.DateOnly)
}
