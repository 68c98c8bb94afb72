// Package kase is the adapter "kase": it announces placements of
// government securities to the Kazakhstan Stock Exchange (operation
// announce) and sends the ministry's cut-off decisions (operation cutoff),
// as documents of Köpir's own exchange contract (contracts/kase). Every
// rule of contracts/securities an announcement or a decision must meet is
// checked before anything leaves, each refusal a 422 naming the field.
// What the exchange pushes back (demand summaries, auction results) comes
// in through the channel of adapters/kasechannel. See docs/adapters/kase.md.
package kase

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/xsd"
)

func init() { adapters.Register("kase", New) }

// Operations of the "kase" adapter.
const (
	OpAnnounce = "announce" // PlacementAnnouncement → PlacementAck
	OpCutoff   = "cutoff"   // CutoffDecision → CutoffAck
)

// Paths appended to the route's endpoint (the exchange's base URL).
const (
	PathPlacements = "/placements"
	PathCutoffs    = "/cutoffs"
)

// Options of a "kase" route.
type Options struct {
	// Issuer is the issuer code the exchange knows the ministry by;
	// default MFRK.
	Issuer string `yaml:"issuer"`
	// Holidays are the public holidays (YYYY-MM-DD) on which neither the
	// exchange nor the depository works, besides weekends: trade dates and
	// coupon payment dates must avoid them. The list is the operator's to
	// keep, as the government sets holidays and moved days each year.
	Holidays []string `yaml:"holidays"`
	// Currencies an issue may be denominated in; default KZT only.
	Currencies []string `yaml:"currencies"`
}

var (
	issuerCode   = regexp.MustCompile(`^[A-Z]{4}$`)
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
	// The contract's MessageId type.
	messageID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,34}$`)
)

// Adapter is the "kase" adapter for one operation.
type Adapter struct {
	op         string
	issuer     string
	currencies []string
	cal        *securities.Calendar
	now        func() time.Time
}

// New is the adapters.Factory.
func New(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	switch cfg.Operation {
	case OpAnnounce, OpCutoff:
	default:
		return nil, fmt.Errorf("kase: unknown operation %q (known: %s, %s)", cfg.Operation, OpAnnounce, OpCutoff)
	}
	var o Options
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("kase: options: %w", err)
	}
	if o.Issuer == "" {
		o.Issuer = "MFRK"
	}
	if !issuerCode.MatchString(o.Issuer) {
		return nil, fmt.Errorf("kase: options.issuer %q is not four upper-case letters", o.Issuer)
	}
	if o.Currencies == nil {
		o.Currencies = []string{"KZT"}
	}
	for i, c := range o.Currencies {
		if !currencyCode.MatchString(c) {
			return nil, fmt.Errorf("kase: options.currencies[%d]: %q is not an ISO 4217 code", i, c)
		}
	}
	cal, err := securities.ParseCalendar(o.Holidays)
	if err != nil {
		return nil, fmt.Errorf("kase: options.%w", err)
	}
	// A broken contract fails the start-up, not the first placement.
	if _, err := kase.Schema(); err != nil {
		return nil, fmt.Errorf("kase: %w", err)
	}
	a := &Adapter{op: cfg.Operation, issuer: o.Issuer, currencies: o.Currencies, cal: cal, now: res.Now}
	return a, nil
}

// MsgID is the MessageId of the document Köpir sends for a stored message:
// its id without hyphens, as the contract's MessageId holds 35 characters
// and a UUID has 36. Deriving it means a retry resends the same MessageId,
// which the exchange answers with the same ack, and the caller can name
// an announcement by the id the bus answered it with.
func MsgID(messageID string) string {
	if messageID == "" {
		messageID = uuid.NewString()
	}
	return strings.ReplaceAll(messageID, "-", "")
}

// Validate refuses an announcement or a decision before it is stored or
// sent, naming the field.
func (a *Adapter) Validate(_ context.Context, req *adapters.Request) error {
	_, err := a.build(req)
	return err
}

// Encode builds the document, validated against the contract.
func (a *Adapter) Encode(_ context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	msg, err := a.build(req)
	if err != nil {
		return nil, err
	}
	body, err := kase.Marshal(msg)
	if xe, ok := err.(*xsd.Error); ok {
		// The checks above let through something the schema does not:
		// the caller's 422 on the element, never sent.
		return nil, &adapters.Error{Status: http.StatusUnprocessableEntity, Field: xe.Violations[0].Path, Code: "SCHEMA_INVALID",
			Detail: fmt.Sprintf("the %s built from this request fails the exchange contract: %s", kase.NameOf(msg), xe.Error())}
	}
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/xml; charset=utf-8")
	h.Set("X-Kopir-Message-Id", req.MessageID)
	path := PathPlacements
	if a.op == OpCutoff {
		path = PathCutoffs
	}
	return &adapters.WireRequest{Method: http.MethodPost, Path: path, Header: h, Body: body}, nil
}

func (a *Adapter) build(req *adapters.Request) (any, error) {
	if a.op == OpCutoff {
		return a.buildCutoff(req)
	}
	return a.buildAnnouncement(req)
}

// Decode reads the exchange's ack.
func (a *Adapter) Decode(_ context.Context, req *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	if err := httpFailure(resp); err != nil {
		return nil, err
	}
	if a.op == OpCutoff {
		return a.decodeCutoffAck(req, resp.Body)
	}
	return a.decodePlacementAck(req, resp.Body)
}

// httpFailure is the exchange's transport answer when it is not a 200
// carrying an ack: a 5xx may pass and is retried, anything else is a
// refusal of this document.
func httpFailure(resp *adapters.WireResponse) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return adapters.HTTPFailure("exchange", "the document", resp)
}

// badAck is an answer that is not the ack the contract promises; resending
// the same document would not change it.
func badAck(what string, err error) error {
	return &adapters.Error{Status: http.StatusBadGateway, Code: "INVALID_ACK", Detail: fmt.Sprintf("exchange answered with no valid %s: %v", what, err)}
}

// refused is the exchange's business refusal of a document: the caller's
// to act on (a deadline passed, a trade code in use), never retried.
func refused(what string, rf *kasetypes.Refusal) error {
	c, r := "REFUSED", "no reason given"
	if rf != nil && rf.Code != nil {
		c = string(*rf.Code)
	}
	if rf != nil && rf.Reason != nil {
		r = string(*rf.Reason)
	}
	return &adapters.Error{Status: http.StatusUnprocessableEntity, Code: c, Detail: fmt.Sprintf("the exchange refused the %s: %s", what, r)}
}

func (a *Adapter) timestamp() string {
	return a.now().In(securities.Astana).Format("2006-01-02T15:04:05-07:00")
}

func p[T any](v T) *T { return &v }
