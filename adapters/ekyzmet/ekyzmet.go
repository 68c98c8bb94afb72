// Package ekyzmet sends civil-service HR events and reports to e-Kyzmet
// through SHEP (package egov). Internal callers send typed JSON; this
// package builds e-Kyzmet's key/values Request (contracts/ekyzmet) from it,
// so the parallel value lists are equal by construction, and maps the
// status e-Kyzmet answers in responseInfo back to the bus's errors.
package ekyzmet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/ekyzmet"
	"github.com/minfin-kz/kopir/internal/kzid"
)

func init() { adapters.Register("ekyzmet", New) }

// Operations of the "ekyzmet" adapter.
const (
	OpACSEvents          = "acs-events"
	OpDecisionInvitation = "decision-invitation"
	OpPersonnelReport    = "personnel-report"
)

// MaxEvents bounds one acs-events call: an access-control system sends its
// backlog in batches, and one SHEP message should stay well under the
// gateway's size limits.
const MaxEvents = 1000

// Field lengths (characters). e-Kyzmet publishes none; these are Köpir's.
const (
	maxEvent    = 50
	maxRFID     = 64
	maxBuilding = 250
	maxDocUID   = 100
	maxDecision = 50
	maxPosition = 500
	maxGrounds  = 1000
	minFloor    = -10
	maxFloor    = 200
)

// ACSEventsRequest is the internal JSON of acs-events.
type ACSEventsRequest struct {
	Events []ACSEvent `json:"events"`
}

// ACSEvent is one pass through an access-control point. Exactly one of IIN
// and RFID identifies the person.
type ACSEvent struct {
	IIN      string `json:"iin,omitempty"`
	RFID     string `json:"rfid,omitempty"`
	Event    string `json:"event"`
	Time     string `json:"time"` // RFC 3339 with offset
	BIN      string `json:"bin"`  // the organisation whose building it is
	Floor    *int   `json:"floor"`
	Building string `json:"building"`
}

// DecisionInvitationRequest is the internal JSON of decision-invitation.
type DecisionInvitationRequest struct {
	IIN      string `json:"iin"`
	DocUID   string `json:"docUID"`
	Decision string `json:"decision"`
}

// PersonnelReportRequest is the internal JSON of personnel-report: one
// entry of a civil servant's service record.
type PersonnelReportRequest struct {
	IIN       string `json:"iin"`
	Position  string `json:"position"`
	BIN       string `json:"bin"`       // the organisation
	StartDate string `json:"startDate"` // YYYY-MM-DD
	EndDate   string `json:"endDate,omitempty"`
	Grounds   string `json:"grounds"` // the order or reason for the entry
}

// Reply is the internal JSON answer of every operation.
type Reply struct {
	Status string `json:"status"`
}

// StatusHTTP maps e-Kyzmet's error statuses (Köpir's assumption, see
// contracts/ekyzmet) to the caller's HTTP status. A status not listed is a
// 502 carrying e-Kyzmet's code. Add codes here (at init) once e-Kyzmet is
// seen to use others.
var StatusHTTP = map[string]int{
	ekyzmet.StatusInvalidParams: http.StatusUnprocessableEntity,
	ekyzmet.StatusNotFound:      http.StatusNotFound,
}

// Adapter is the "ekyzmet" adapter for one operation.
type Adapter struct {
	Sender *egov.Sender
	build  func(body []byte) (*ekyzmet.Request, error)
}

// New is the adapters.Factory.
func New(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	build, ok := builders[cfg.Operation]
	if !ok {
		return nil, fmt.Errorf("ekyzmet: unknown operation %q (known: %s, %s, %s)", cfg.Operation, OpACSEvents, OpDecisionInvitation, OpPersonnelReport)
	}
	var o egov.Options
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("ekyzmet: options: %w", err)
	}
	if o.ServiceID == "" {
		o.ServiceID = ekyzmet.ServiceID
	}
	s, err := egov.NewSender(o)
	if err == nil {
		err = s.Provision(res)
	}
	if err != nil {
		return nil, fmt.Errorf("ekyzmet: %w", err)
	}
	s.Now = res.Clock
	return &Adapter{Sender: s, build: build}, nil
}

var builders = map[string]func([]byte) (*ekyzmet.Request, error){
	OpACSEvents:          buildACSEvents,
	OpDecisionInvitation: buildDecisionInvitation,
	OpPersonnelReport:    buildPersonnelReport,
}

// Validate refuses what e-Kyzmet would refuse before SHEP is bothered.
func (a *Adapter) Validate(_ context.Context, req *adapters.Request) error {
	_, err := a.build(req.Body)
	return err
}

// Encode builds the SendMessage carrying the Request, validated against
// the schema.
func (a *Adapter) Encode(ctx context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	r, err := a.build(req.Body)
	if err != nil {
		return nil, err
	}
	doc, err := ekyzmet.Marshal(r)
	if err != nil {
		// The request was built from checked fields: a schema violation
		// here is Köpir's fault, not the caller's.
		return nil, fmt.Errorf("ekyzmet: the built request is invalid: %w", err)
	}
	return a.Sender.Wire(ctx, req, shep.Payload{Value: &shepsync.AnyType{InnerXML: string(doc)}})
}

// Decode maps e-Kyzmet's status: SCSS001 with a Response is success; its
// error statuses become errors by StatusHTTP.
func (a *Adapter) Decode(_ context.Context, _ *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	var data shepsync.AnyType
	// egov's Decode turns every status but SCSS001 into a 502; e-Kyzmet
	// says what was wrong in that status, so it is read first.
	if resp.StatusCode/100 == 2 {
		if info, err := shep.ParseResponse(resp.Body, &data); err == nil && info.Status != nil && info.Status.Code != ekyzmet.StatusSuccess && info.Status.Code != "" {
			return nil, StatusError(info.Status.Code, info.Status.Message)
		}
	}
	data = shepsync.AnyType{}
	info, err := a.Sender.Decode(resp, &data)
	if err != nil {
		return nil, err
	}
	if _, err := ekyzmet.ParseResponse([]byte(data.InnerXML)); err != nil {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: "EKYZMET_BAD_RESPONSE",
			Detail: "e-Kyzmet answered SCSS001 without a valid Response: " + err.Error()}
	}
	b, err := json.Marshal(Reply{Status: info.Status.Code})
	if err != nil {
		return nil, err
	}
	return &adapters.Response{Body: b}, nil
}

// StatusError is the bus's error for an e-Kyzmet error status.
func StatusError(code, message string) *adapters.Error {
	status, ok := StatusHTTP[code]
	if !ok {
		status = http.StatusBadGateway
	}
	return &adapters.Error{Status: status, Code: code, Detail: fmt.Sprintf("e-Kyzmet status %s: %s", code, message)}
}

func buildACSEvents(body []byte) (*ekyzmet.Request, error) {
	var in ACSEventsRequest
	if err := adapters.DecodeStrict(body, &in); err != nil {
		return nil, err
	}
	switch {
	case len(in.Events) == 0:
		return nil, adapters.Invalid("events", "needs at least one event")
	case len(in.Events) > MaxEvents:
		return nil, adapters.Invalid("events", "has %d events, at most %d in one call", len(in.Events), MaxEvents)
	}
	n := len(in.Events)
	iins, rfids, events, times := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	bins, floors, buildings := make([]string, n), make([]string, n), make([]string, n)
	anyRFID := false
	for i, e := range in.Events {
		at := func(f string) string { return fmt.Sprintf("events[%d].%s", i, f) }
		switch {
		case e.IIN == "" && e.RFID == "":
			return nil, adapters.Invalid(at("iin"), "is required unless rfid identifies the person")
		case e.IIN != "" && e.RFID != "":
			return nil, adapters.Invalid(at("rfid"), "must not be given with iin: one of them identifies the person")
		case e.IIN != "":
			if err := kzid.ValidateIIN(e.IIN); err != nil {
				return nil, adapters.Invalid(at("iin"), "%s", err)
			}
		default:
			if err := text(e.RFID, maxRFID); err != nil {
				return nil, adapters.Invalid(at("rfid"), "%s", err)
			}
			anyRFID = true
		}
		if err := text(e.Event, maxEvent); err != nil {
			return nil, adapters.Invalid(at("event"), "%s", err)
		}
		t, err := time.Parse(time.RFC3339, e.Time)
		if err != nil {
			return nil, adapters.Invalid(at("time"), "must be an RFC 3339 date-time with offset, e.g. 2025-03-14T09:05:00+05:00")
		}
		if err := bin(e.BIN); err != nil {
			return nil, adapters.Invalid(at("bin"), "%s", err)
		}
		switch {
		case e.Floor == nil:
			return nil, adapters.Invalid(at("floor"), "is required")
		case *e.Floor < minFloor || *e.Floor > maxFloor:
			return nil, adapters.Invalid(at("floor"), "must be within %d..%d", minFloor, maxFloor)
		}
		if err := text(e.Building, maxBuilding); err != nil {
			return nil, adapters.Invalid(at("building"), "%s", err)
		}
		iins[i], rfids[i], events[i], times[i] = e.IIN, e.RFID, e.Event, t.Format(time.RFC3339)
		bins[i], floors[i], buildings[i] = e.BIN, strconv.Itoa(*e.Floor), e.Building
	}
	r := ekyzmet.NewRequest(ekyzmet.ServiceACSEvents)
	r.Add(ekyzmet.KeyACSIIN, iins...)
	r.Add(ekyzmet.KeyACSEvent, events...)
	r.Add(ekyzmet.KeyACSTime, times...)
	r.Add(ekyzmet.KeyACSBIN, bins...)
	r.Add(ekyzmet.KeyACSFloor, floors...)
	r.Add(ekyzmet.KeyACSBuilding, buildings...)
	if anyRFID {
		// Only when used, so that an IIN-only batch is exactly the known form.
		r.Add(ekyzmet.KeyACSRFID, rfids...)
	}
	return r, nil
}

func buildDecisionInvitation(body []byte) (*ekyzmet.Request, error) {
	var in DecisionInvitationRequest
	if err := adapters.DecodeStrict(body, &in); err != nil {
		return nil, err
	}
	if err := iin(in.IIN); err != nil {
		return nil, adapters.Invalid("iin", "%s", err)
	}
	if err := text(in.DocUID, maxDocUID); err != nil {
		return nil, adapters.Invalid("docUID", "%s", err)
	}
	if err := text(in.Decision, maxDecision); err != nil {
		return nil, adapters.Invalid("decision", "%s", err)
	}
	r := ekyzmet.NewRequest(ekyzmet.ServiceDecisionInvitation)
	r.Add(ekyzmet.KeyIIN, in.IIN)
	r.Add(ekyzmet.KeyDocUID, in.DocUID)
	r.Add(ekyzmet.KeyDecision, in.Decision)
	return r, nil
}

func buildPersonnelReport(body []byte) (*ekyzmet.Request, error) {
	var in PersonnelReportRequest
	if err := adapters.DecodeStrict(body, &in); err != nil {
		return nil, err
	}
	if err := iin(in.IIN); err != nil {
		return nil, adapters.Invalid("iin", "%s", err)
	}
	if err := text(in.Position, maxPosition); err != nil {
		return nil, adapters.Invalid("position", "%s", err)
	}
	if err := bin(in.BIN); err != nil {
		return nil, adapters.Invalid("bin", "%s", err)
	}
	start, err := date(in.StartDate)
	if err != nil {
		return nil, adapters.Invalid("startDate", "%s", err)
	}
	if in.EndDate != "" {
		end, err := date(in.EndDate)
		if err != nil {
			return nil, adapters.Invalid("endDate", "%s", err)
		}
		if end.Before(start) {
			return nil, adapters.Invalid("endDate", "is before startDate")
		}
	}
	if err := text(in.Grounds, maxGrounds); err != nil {
		return nil, adapters.Invalid("grounds", "%s", err)
	}
	r := ekyzmet.NewRequest(ekyzmet.ServicePersonnelReport)
	r.Add(ekyzmet.KeyIIN, in.IIN)
	r.Add(ekyzmet.KeyPosition, in.Position)
	r.Add(ekyzmet.KeyBIN, in.BIN)
	r.Add(ekyzmet.KeyStartDate, in.StartDate)
	if in.EndDate != "" {
		r.Add(ekyzmet.KeyEndDate, in.EndDate)
	}
	r.Add(ekyzmet.KeyGrounds, in.Grounds)
	return r, nil
}

func iin(s string) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	return kzid.ValidateIIN(s)
}

func bin(s string) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	return kzid.ValidateBIN(s)
}

// text checks a free-text value: present, not longer than max characters,
// no control characters (they would travel into a value e-Kyzmet shows).
func text(s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return fmt.Errorf("is required")
	case utf8.RuneCountInString(s) > max:
		return fmt.Errorf("is longer than %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return fmt.Errorf("must not contain control characters")
	}
	return nil
}

func date(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		if s == "" {
			return t, fmt.Errorf("is required")
		}
		return t, fmt.Errorf("must be a date YYYY-MM-DD")
	}
	return t, nil
}
