// Package csd is the adapter "csd": the ministry's calls to the Central
// Securities Depository. Operation register-issue asks the depository, as
// the national numbering agency, to register a new issue of government
// securities (reda.006.001.01 SecurityCreationRequest behind a
// head.001.001.03 header, checked against the issue's rules and the
// official XSDs before it leaves); operation holders asks for the holders
// of an issue at a record date and reads the semt.002.001.11 statement that
// comes back. What the depository pushes later (reda.008, sese.024,
// sese.025, seev.031, seev.036) comes in through adapters/csdchannel. See
// docs/adapters/csd.md.
package csd

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/iban"
)

func init() { adapters.Register("csd", New) }

// Operations of the "csd" adapter.
const (
	OpRegisterIssue = "register-issue" // reda.006.001.01 out, async
	OpHolders       = "holders"        // GET holdings → semt.002.001.11, sync
)

var elementName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*$`)

// Options of a "csd" route.
type Options struct {
	// MinistryBIC is the AppHdr's Fr: the ministry as a depository
	// participant. Required.
	MinistryBIC string `yaml:"ministryBIC"`
	// DepositoryBIC is the AppHdr's To. Required.
	DepositoryBIC string `yaml:"depositoryBIC"`
	// BusinessService goes into the AppHdr's BizSvc when set.
	BusinessService string `yaml:"businessService"`
	// Holidays are the public holidays (YYYY-MM-DD) on which neither the
	// depository nor the exchange works; weekends are always days off.
	// They move coupon payments and decide whether a record date is a
	// business day.
	Holidays []string `yaml:"holidays"`
	// Envelope is the element holding AppHdr and Document; default
	// "message", as the depository link's wire contract has it.
	Envelope string `yaml:"envelope"`
}

// Adapter is the "csd" adapter for one operation.
type Adapter struct {
	op   string
	opts Options
	env  xml.Name
	cal  *securities.Calendar
	// Now stamps messages; nil means time.Now.
	Now func() time.Time
}

// New is the adapters.Factory.
func New(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	if cfg.Operation != OpRegisterIssue && cfg.Operation != OpHolders {
		return nil, fmt.Errorf("csd: unknown operation %q (known: %s, %s)", cfg.Operation, OpRegisterIssue, OpHolders)
	}
	var o Options
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("csd: options: %w", err)
	}
	for name, bic := range map[string]string{"ministryBIC": o.MinistryBIC, "depositoryBIC": o.DepositoryBIC} {
		if bic == "" {
			return nil, fmt.Errorf("csd: options.%s is required", name)
		}
		if err := iban.ValidateBIC(bic); err != nil {
			return nil, fmt.Errorf("csd: options.%s: %w", name, err)
		}
	}
	if len(o.BusinessService) > 35 {
		return nil, fmt.Errorf("csd: options.businessService must be at most 35 characters")
	}
	if o.Envelope == "" {
		o.Envelope = "message"
	}
	if !elementName.MatchString(o.Envelope) {
		return nil, fmt.Errorf("csd: options.envelope %q is not an XML element name", o.Envelope)
	}
	cal, err := securities.ParseCalendar(o.Holidays)
	if err != nil {
		return nil, fmt.Errorf("csd: options.%w", err)
	}
	// A broken contract fails the start-up, not the first issue.
	docID := isodoc.Reda006
	if cfg.Operation == OpHolders {
		docID = isodoc.Semt002
	}
	// docID's schema is compiled on its first use (see csdchannel).
	_ = docID
	return &Adapter{op: cfg.Operation, opts: o, env: xml.Name{Local: o.Envelope}, cal: cal, Now: res.Clock}, nil
}

func (a *Adapter) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// MsgID is the reda.006 MsgHdr/MsgId and AppHdr/BizMsgIdr Köpir sends for
// a stored message: its id without hyphens (Max35Text cannot hold a UUID's
// 36 characters). Derived, not stored, so a retry resends the same id and
// the depository's reda.008, which refers to it, finds the request by it.
func MsgID(messageID string) string { return strings.ReplaceAll(messageID, "-", "") }

// Validate refuses a request that breaks a rule before it is stored or
// sent, naming the field.
func (a *Adapter) Validate(_ context.Context, req *adapters.Request) error {
	if a.op == OpHolders {
		_, err := a.holdersQuery(req)
		return err
	}
	_, err := a.checkIssue(req)
	if err == nil {
		req.ExternalID = MsgID(req.MessageID)
	}
	return err
}

// Encode builds what goes to the depository.
func (a *Adapter) Encode(_ context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	if a.op == OpHolders {
		q, err := a.holdersQuery(req)
		if err != nil {
			return nil, err
		}
		h := http.Header{}
		h.Set("Accept", "application/xml")
		return &adapters.WireRequest{Method: http.MethodGet, Path: "/holdings?" + q.Encode(), Header: h}, nil
	}
	body, err := a.registerIssue(req)
	if err != nil {
		return nil, err
	}
	req.ExternalID = MsgID(req.MessageID)
	h := http.Header{}
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("X-Kopir-Message-Id", req.MessageID)
	return &adapters.WireRequest{Method: http.MethodPost, Header: h, Body: body}, nil
}

// Decode reads the depository's answer.
func (a *Adapter) Decode(_ context.Context, req *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	if a.op == OpHolders {
		return a.decodeHolders(req, resp)
	}
	if err := transportError(resp); err != nil {
		return nil, err
	}
	return jsonResponse(Registered{Status: "SENT", MsgID: MsgID(req.MessageID), MessageDefinition: isodoc.Reda006})
}

// Registered is the internal answer once the depository holds the
// request; the ISIN (or the refusal) comes later as reda.008.
type Registered struct {
	Status            string `json:"status"` // SENT
	MsgID             string `json:"msgId"`
	MessageDefinition string `json:"messageDefinition"`
}

// transportError turns a status other than 2xx into the caller's error: a
// 4xx is the depository refusing this message (not retried), a 5xx may
// pass.
func transportError(resp *adapters.WireResponse) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	return adapters.HTTPFailure("depository", "the message", resp)
}
