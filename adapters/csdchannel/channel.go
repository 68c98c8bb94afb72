// Package csdchannel is the inbound channel "csd": where the Central
// Securities Depository pushes its messages to the ministry — reda.008
// (an issue registered, with its ISIN, or refused), sese.024 (a
// placement's settlement status), sese.025 (settled delivery versus
// payment), seev.031 (a coupon or redemption announced) and seev.036 (a
// coupon or redemption paid). Each is validated against the official XSDs
// with its head.001.001.03 header, translated into JSON with the business
// fields and handed to the core's Intake under the message type as key. A
// coupon notice's amount per unit is recomputed from the issue's terms and
// a disagreement flagged. See docs/adapters/csd.md.
package csdchannel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/csd"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/securities"
	"github.com/minfin-kz/kopir/internal/iban"
	"github.com/minfin-kz/kopir/internal/safexml"
)

// ChannelName is the inbound channel's registered name.
const ChannelName = "csd"

func init() { adapters.RegisterChannel(ChannelName, NewChannel) }

// Accepted lists the message definitions the channel takes in.
var Accepted = []string{isodoc.Reda008, isodoc.Sese024, isodoc.Sese025, isodoc.Seev031, isodoc.Seev036}

// Business events the channel appends to audit trails.
const (
	// ActionCouponDisagrees is appended to a seev.031's own trail when its
	// amount per unit is not the one the issue's terms give; detail
	// "notice 62.50, computed 62.49 per unit (seev.031 <BizMsgIdr>)".
	ActionCouponDisagrees = "COUPON_AMOUNT_DISAGREES"
	// ActionIssueStatus is appended to the register-issue request a
	// reda.008 answers; detail "COMPLETED KZKD00000345 (reda.008 <BizMsgIdr>)".
	ActionIssueStatus = "ISSUE_STATUS"
	// ActionSettled and ActionSettlementPending are appended to the
	// announcement of the placement an allocation belongs to.
	ActionSettled           = "ALLOCATION_SETTLED"
	ActionSettlementPending = "ALLOCATION_PENDING"
)

// DefaultRegisterRoute is the route whose requests reda.008 answers.
const DefaultRegisterRoute = "securities.register-issue"

// ChannelOptions configure the "csd" channel.
type ChannelOptions struct {
	// Senders, when set, are the only BICs an AppHdr may come from.
	Senders []string `yaml:"senders"`
	// MaxDepth of an inbound document; default 64.
	MaxDepth int `yaml:"maxDepth"`
	// Instruments give the terms a coupon is recomputed from when the
	// notice does not carry them, by ISIN prefix (the longest matching
	// prefix wins: "KZKD" for every MEUKAM, a whole ISIN for one issue).
	Instruments []Instrument `yaml:"instruments"`
	// Holidays (YYYY-MM-DD) for the coupon schedule, as the adapter's.
	Holidays []string `yaml:"holidays"`
	// RegisterRoute is the route whose request a reda.008 answers; the
	// advice is recorded on that request's trail. Default
	// securities.register-issue.
	RegisterRoute string `yaml:"registerRoute"`
	// PlacementRoutes announce placements of an issue at the exchange;
	// GET /v1/securities/{isin} lists their messages as placements.
	// Default securities.announce-placement.
	PlacementRoutes []string `yaml:"placementRoutes"`
}

// Instrument is an issue's terms as far as a coupon needs them. Empty
// fields fall back to the notice, then to the type's face value.
type Instrument struct {
	Prefix    string `yaml:"prefix"`
	FaceValue string `yaml:"faceValue"`
	DayBasis  string `yaml:"dayBasis"`
	Frequency int    `yaml:"frequency"`
}

type instrument struct {
	prefix    string
	face      securities.Amount
	basis     securities.Basis
	frequency int
}

// Channel is the "csd" inbound channel.
type Channel struct {
	opts        ChannelOptions
	instruments []instrument
	cal         *securities.Calendar
	lim         safexml.Limits
	Log         *slog.Logger
}

// NewChannel is the adapters.ChannelFactory.
func NewChannel(cfg adapters.ChannelConfig, res adapters.Resources) (adapters.Channel, error) {
	var o ChannelOptions
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("csd channel: options: %w", err)
	}
	for i, b := range o.Senders {
		if err := iban.ValidateBIC(b); err != nil {
			return nil, fmt.Errorf("csd channel: options.senders[%d]: %w", i, err)
		}
	}
	if o.MaxDepth < 0 || o.MaxDepth > 256 {
		return nil, fmt.Errorf("csd channel: options.maxDepth must be within 0..256")
	}
	if o.RegisterRoute == "" {
		o.RegisterRoute = DefaultRegisterRoute
	}
	if len(o.PlacementRoutes) == 0 {
		o.PlacementRoutes = DefaultPlacementRoutes
	}
	cal, err := securities.ParseCalendar(o.Holidays)
	if err != nil {
		return nil, fmt.Errorf("csd channel: options.%w", err)
	}
	c := &Channel{opts: o, cal: cal, Log: res.Log()}
	for i, in := range o.Instruments {
		ins := instrument{prefix: in.Prefix, frequency: in.Frequency}
		if len(in.Prefix) < 2 || len(in.Prefix) > 12 {
			return nil, fmt.Errorf("csd channel: options.instruments[%d].prefix %q is not an ISIN prefix", i, in.Prefix)
		}
		if in.FaceValue != "" {
			if ins.face, err = securities.ParseAmount(in.FaceValue); err != nil {
				return nil, fmt.Errorf("csd channel: options.instruments[%d].faceValue: %w", i, err)
			}
		}
		if in.DayBasis != "" {
			if ins.basis, err = securities.ParseBasis(in.DayBasis); err != nil {
				return nil, fmt.Errorf("csd channel: options.instruments[%d].dayBasis: %w", i, err)
			}
		}
		switch in.Frequency {
		case 0, 1, 2, 4, 12:
		default:
			return nil, fmt.Errorf("csd channel: options.instruments[%d].frequency %d is not 1, 2, 4 or 12", i, in.Frequency)
		}
		c.instruments = append(c.instruments, ins)
	}
	// The schemas are compiled on first use, not here: the securities
	// messages' compiled schemas take megabytes of C heap, idle until the
	// depository first pushes; they are embedded, and their tests compile
	// them all (contracts/iso20022/isodoc).
	c.lim = safexml.Limits{MaxBytes: 32 << 20, MaxDepth: o.MaxDepth, MaxTokens: 4_000_000}
	return c, nil
}

// InternalRoutes serves an issue's whole life to the callers of the
// securities routes: GET /v1/securities/{isin}.
func (c *Channel) InternalRoutes(in adapters.Intake) (map[string]http.Handler, []string) {
	return map[string]http.Handler{"GET /v1/securities/{isin}": c.lifeHandler(in)}, append([]string{c.opts.RegisterRoute}, c.opts.PlacementRoutes...)
}

// Routes mounts one handler at the channel's path itself and with a
// trailing slash.
func (c *Channel) Routes(in adapters.Intake) map[string]http.Handler {
	h := &receiver{c: c, in: in}
	return map[string]http.Handler{"POST ": h, "POST /{$}": h}
}

type receiver struct {
	c  *Channel
	in adapters.Intake
}

// ServeHTTP answers as the wire contract says: 200 with an empty body
// when the message is taken (again, for a repeat), 400 problem+json
// naming the element when it is refused.
func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, r, &adapters.Inbound{Channel: ChannelName, Key: "unknown"}, http.StatusRequestEntityTooLarge,
				&isodoc.ParseError{Code: isodoc.CodeXMLRefused, Reason: fmt.Sprintf("message is larger than %d bytes", tooBig.Limit)})
			return
		}
		adapters.WriteProblem(w, http.StatusBadRequest, "Unreadable message", "reading body: "+err.Error(), nil)
		return
	}
	res, err := h.c.Process(r.Context(), h.in, raw, r.Header.Get("X-Correlation-Id"))
	if err != nil {
		var pe *isodoc.ParseError
		if errors.As(err, &pe) {
			m := &adapters.Inbound{Channel: ChannelName, Key: "unknown", Raw: raw}
			if res != nil {
				if res.Key != "" {
					m.Key = res.Key
				}
				m.ExternalID, m.Sender = res.BizMsgIdr, res.Sender
			}
			h.refuse(w, r, m, http.StatusBadRequest, pe)
			return
		}
		h.c.Log.Error("csd inbound message not processed", "err", err)
		w.Header().Set("Retry-After", "1")
		adapters.WriteProblem(w, http.StatusServiceUnavailable, "Temporarily unable to process the message", "send it again", nil)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (h *receiver) refuse(w http.ResponseWriter, r *http.Request, m *adapters.Inbound, status int, pe *isodoc.ParseError) {
	m.CorrelationID = r.Header.Get("X-Correlation-Id")
	id := h.in.Reject(r.Context(), m, pe)
	ext := map[string]any{"code": pe.Code, "messageId": id}
	if len(pe.Violations) > 0 {
		ext["element"] = pe.Violations[0].Path
		ext["violations"] = pe.Violations
	} else if el := elementOf(pe); el != "" {
		ext["element"] = el
	}
	adapters.WriteProblem(w, status, "Message refused", pe.Error(), ext)
}

// elementOf names the element a refusal without schema violations is
// about, where the channel knows it.
func elementOf(pe *isodoc.ParseError) string {
	switch pe.Code {
	case codeNoHeader, isodoc.CodeHeaderMismatch, "SENDER_NOT_ALLOWED":
		return "AppHdr"
	case isodoc.CodeUnknownMessage, "UNKNOWN_KEY":
		return "Document"
	}
	return ""
}

const codeNoHeader = "NO_HEADER"

// Result is what processing one inbound message did.
type Result struct {
	Key       string // reda.008, sese.024…
	BizMsgIdr string
	Sender    string
	MessageID string          // the bus's id
	Body      json.RawMessage // what the subscriber receives
	Duplicate bool
}

// Process parses, validates, translates and hands over one message. A
// *isodoc.ParseError means it was refused (the caller records it as
// REJECTED); any other error is the bus's and worth a resend.
func (c *Channel) Process(ctx context.Context, in adapters.Intake, raw []byte, correlationID string) (*Result, error) {
	res := &Result{}
	msg, err := isodoc.Parse(raw, Accepted, c.lim)
	if err != nil {
		return res, err
	}
	res.Key = msg.Key()
	if msg.HeaderV03 == nil {
		return res, &isodoc.ParseError{Code: codeNoHeader, Reason: "the depository's messages carry a head.001.001.03 AppHdr; its BizMsgIdr tells a repeat"}
	}
	res.BizMsgIdr, res.Sender = isodoc.S(msg.HeaderV03.BizMsgIdr), msg.SenderBIC()
	if len(c.opts.Senders) > 0 && !slices.Contains(c.opts.Senders, res.Sender) {
		return res, &isodoc.ParseError{Code: "SENDER_NOT_ALLOWED", Reason: fmt.Sprintf("AppHdr/Fr %q is not an allowed sender", res.Sender)}
	}
	if ok, _ := in.Known(ChannelName, res.Key); !ok {
		return res, &isodoc.ParseError{Code: "UNKNOWN_KEY", Reason: fmt.Sprintf("no inbound route for %s messages", res.Key)}
	}
	var doc csd.Node
	if err := msg.Decode(&doc); err != nil {
		return res, &isodoc.ParseError{Code: isodoc.CodeSchemaInvalid, Reason: err.Error()}
	}
	t := c.translate(msg, &doc)
	switch res.Key {
	case "reda.008":
		if err := c.matchRequest(ctx, in, t); err != nil {
			return res, err
		}
	case "sese.024", "sese.025":
		if err := c.matchAllocation(ctx, in, res.Key, t); err != nil {
			return res, err
		}
	}
	if res.Body, err = json.Marshal(t.body); err != nil {
		return res, err
	}
	isin, _ := t.body["isin"].(string)
	rc, err := in.Accept(ctx, &adapters.Inbound{Channel: ChannelName, Key: res.Key, ExternalID: res.BizMsgIdr, Sender: res.Sender,
		CorrelationID: correlationID, Subject: isin, Body: res.Body, Raw: raw})
	if err != nil {
		var re *adapters.RejectError
		if errors.As(err, &re) {
			return res, &isodoc.ParseError{Code: re.Code, Reason: re.Reason}
		}
		return res, err
	}
	res.MessageID, res.Duplicate = rc.MessageID, rc.Duplicate
	// Annotations come after the message is stored, so a refused message
	// changes no trail; they are idempotent, so a repeat after a crash
	// between the two completes them.
	for _, n := range t.notes {
		id := n.messageID
		if id == "" {
			id = rc.MessageID
		}
		if err := adapters.AnnotateOnce(ctx, in, id, n.action, n.detail); err != nil {
			return res, fmt.Errorf("annotating %s: %w", id, err)
		}
	}
	return res, nil
}

// matchAllocation ties a settlement's status or confirmation to the
// placement it settles: the trade id is "<announcement id>/<participant>"
// (the exchange's allocation), so the announcement's trail shows each
// allocation pending and settled. One for no placement the bus holds is
// still taken, marked "allocation": "UNMATCHED".
func (c *Channel) matchAllocation(ctx context.Context, in adapters.Intake, key string, t *translated) error {
	tradeID, _ := t.body["tradeId"].(string)
	announcement, participant, ok := strings.Cut(tradeID, "/")
	if !ok {
		t.body["allocation"] = "UNMATCHED"
		return nil
	}
	f, err := adapters.FindOnAny(ctx, in, c.opts.PlacementRoutes, announcement)
	if err != nil {
		return err
	}
	if f == nil {
		t.body["allocation"] = "UNMATCHED"
		return nil
	}
	t.body["placementMessageId"] = f.MessageID
	action, what := ActionSettled, fmt.Sprint(t.body["quantity"])
	if key == "sese.024" {
		action, what = ActionSettlementPending, strings.TrimSpace(fmt.Sprint(t.body["settlementStatus"], " ", t.body["settlementReason"]))
	}
	t.notes = append(t.notes, note{messageID: f.MessageID, action: action, detail: fmt.Sprintf("%s %s (%s %s)", participant, what, key, t.body["bizMsgIdr"])})
	return nil
}

// matchRequest ties a reda.008 to the register-issue request it answers
// (by the request's message id, csd.MsgID), so the issue's trail shows
// its registration. An advice for a request the bus does not hold is
// still taken: the subscriber decides what it means.
func (c *Channel) matchRequest(ctx context.Context, in adapters.Intake, t *translated) error {
	ref, _ := t.body["requestMsgId"].(string)
	if ref == "" {
		return nil
	}
	f, err := in.Find(ctx, c.opts.RegisterRoute, ref)
	if errors.Is(err, adapters.ErrNotFound) {
		t.body["request"] = "UNMATCHED"
		return nil
	}
	if err != nil {
		return err
	}
	t.body["requestMessageId"] = f.MessageID
	detail := fmt.Sprint(t.body["status"])
	if isin, ok := t.body["isin"].(string); ok {
		detail += " " + isin
	}
	if reason, ok := t.body["reason"].(string); ok {
		detail += " " + reason
	}
	t.notes = append(t.notes, note{messageID: f.MessageID, action: ActionIssueStatus, detail: fmt.Sprintf("%s (reda.008 %s)", detail, t.body["bizMsgIdr"])})
	return nil
}
