// Package iso20022channel is the inbound channel "iso20022": where the
// payment system's status reports (pacs.002), returns (pacs.004),
// statements (camt.053) and notifications (camt.054) come in. Each message
// is validated against the official XSDs, matched to the payments the
// "iso20022" adapter (adapters/iso20022) sent, recorded on those payments'
// trails and handed to the core's Intake; GET /v1/payments/{endToEndId}
// serves a payment's status history from those trails. See
// docs/adapters/iso20022.md.
package iso20022channel

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
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/internal/iban"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// ChannelName is the inbound channel's registered name.
const ChannelName = "iso20022"

func init() { adapters.RegisterChannel(ChannelName, NewChannel) }

// Business events the channel appends to a payment's audit trail; together
// with the bus's own events they are the payment's status history.
const (
	// ActionStatus: detail "ACSC", "PDNG - <text>", "RJCT AC01 - <text>",
	// "RETURNED AC04 150000.00 KZT - <text>", each followed by the inbound
	// message it came in, e.g. "(pacs.002 NBKpacs00220250310140000000001)".
	ActionStatus = "PAYMENT_STATUS"
	// ActionBooked: a statement or notification entry booked the payment.
	ActionBooked = "PAYMENT_BOOKED"
)

// Accepted lists the message definitions the channel takes in.
var Accepted = []string{isodoc.Pacs002, isodoc.Pacs004, isodoc.Camt054, isodoc.Camt053}

// ChannelOptions configure the "iso20022" channel.
type ChannelOptions struct {
	// PaymentRoutes are the outbound routes whose payments the payment
	// system's messages refer to, searched in order by end-to-end id (and
	// payment information id). Default: payments.credit-transfer,
	// payments.customer-transfer.
	PaymentRoutes []string `yaml:"paymentRoutes"`
	// Senders, when set, are the only BICs a business application header
	// may come from; a message without a header is then refused too.
	Senders []string `yaml:"senders"`
	// MaxDepth of an inbound document; default 64 (a camt.053 is about 12
	// levels deep).
	MaxDepth int `yaml:"maxDepth"`
	// PageEntries is the most statement or notification entries one
	// delivered message carries; a larger camt.053/054 reaches the
	// subscriber as pages (body.page). Default 1000, about 350 KB of JSON.
	PageEntries int `yaml:"pageEntries"`
	// HoldUnmatched lists the message definitions (pacs.002, pacs.004,
	// camt.053, camt.054) whose messages are held for an operator instead
	// of delivered when an item matches no payment Köpir sent: one hold
	// reason per such item, naming it. The payment system is answered
	// ACCEPTED all the same. Default: none.
	HoldUnmatched []string `yaml:"holdUnmatched"`
}

// DefaultPageEntries keeps a page well under a subscriber's usual 1 MiB.
const DefaultPageEntries = 1000

// DefaultPaymentRoutes are the route names deploy/local.yaml uses.
var DefaultPaymentRoutes = []string{"payments.credit-transfer", "payments.customer-transfer"}

// Channel is the "iso20022" inbound channel.
type Channel struct {
	opts ChannelOptions
	lim  safexml.Limits
	Log  *slog.Logger
}

// NewChannel is the adapters.ChannelFactory.
func NewChannel(cfg adapters.ChannelConfig, res adapters.Resources) (adapters.Channel, error) {
	var o ChannelOptions
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("iso20022 channel: options: %w", err)
	}
	if len(o.PaymentRoutes) == 0 {
		o.PaymentRoutes = DefaultPaymentRoutes
	}
	for i, b := range o.Senders {
		if err := iban.ValidateBIC(b); err != nil {
			return nil, fmt.Errorf("iso20022 channel: options.senders[%d]: %w", i, err)
		}
	}
	if o.PageEntries == 0 {
		o.PageEntries = DefaultPageEntries
	}
	if o.PageEntries < 1 || o.PageEntries > 100_000 {
		return nil, fmt.Errorf("iso20022 channel: options.pageEntries must be within 1..100000")
	}
	keys := make([]string, len(Accepted))
	for i, id := range Accepted {
		keys[i] = isodoc.Key(id)
	}
	for i, k := range o.HoldUnmatched {
		if !slices.Contains(keys, k) {
			return nil, fmt.Errorf("iso20022 channel: options.holdUnmatched[%d]: %q is not one of %s", i, k, strings.Join(keys, ", "))
		}
	}
	if o.MaxDepth < 0 || o.MaxDepth > 256 {
		return nil, fmt.Errorf("iso20022 channel: options.maxDepth must be within 0..256")
	}
	// The schemas are compiled on first use, not here: the five take
	// about 5 MB of C heap, idle until the payment system first pushes;
	// they are embedded, and their tests compile them all
	// (contracts/iso20022/isodoc).
	// The channel's maxBody (set by the core) bounds what is read; this
	// bounds what the parser accepts even if that is set higher.
	lim := safexml.Limits{MaxBytes: 32 << 20, MaxDepth: o.MaxDepth, MaxTokens: 4_000_000}
	return &Channel{opts: o, lim: lim, Log: res.Log()}, nil
}

// InternalRoutes serves a payment's status history to the callers of the
// payment routes.
func (c *Channel) InternalRoutes(in adapters.Intake) (map[string]http.Handler, []string) {
	return map[string]http.Handler{"GET /v1/payments/{endToEndId}": NewHistoryHandler(in, c.opts.PaymentRoutes...)}, c.opts.PaymentRoutes
}

// Routes mounts one handler at the channel's path itself ("POST " becomes
// "POST /iso20022") and with a trailing slash.
func (c *Channel) Routes(in adapters.Intake) map[string]http.Handler {
	h := &receiver{c: c, in: in}
	return map[string]http.Handler{"POST ": h, "POST /{$}": h}
}

type receiver struct {
	c  *Channel
	in adapters.Intake
}

// Ack is the channel's answer to the payment system.
type Ack struct {
	Status     string          `json:"status"` // ACCEPTED, DUPLICATE, REJECTED
	MessageID  string          `json:"messageId,omitempty"`
	MsgID      string          `json:"msgId,omitempty"`
	Type       string          `json:"messageDefinition,omitempty"`
	Matched    int             `json:"matched"`
	Unmatched  int             `json:"unmatched"`
	Code       string          `json:"code,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	Violations []xsd.Violation `json:"violations,omitempty"`
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.reject(w, r, &adapters.Inbound{Channel: ChannelName, Key: "unknown"}, http.StatusRequestEntityTooLarge,
				&isodoc.ParseError{Code: isodoc.CodeXMLRefused, Reason: fmt.Sprintf("message is larger than %d bytes", tooBig.Limit)})
			return
		}
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	res, err := h.c.Process(r.Context(), h.in, raw, r.Header.Get("X-Correlation-Id"))
	if err != nil {
		var pe *isodoc.ParseError
		if errors.As(err, &pe) {
			h.reject(w, r, res.inbound(raw), http.StatusBadRequest, pe)
			return
		}
		h.c.Log.Error("iso20022 inbound message not processed", "err", err)
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, Ack{Status: "ERROR", Reason: "temporarily unable to process the message; send it again"})
		return
	}
	if res.Duplicate && len(res.PrevAck) > 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(res.PrevAck)
		return
	}
	writeJSON(w, http.StatusOK, res.Ack)
}

func (h *receiver) reject(w http.ResponseWriter, r *http.Request, m *adapters.Inbound, status int, pe *isodoc.ParseError) {
	m.CorrelationID = r.Header.Get("X-Correlation-Id")
	id := h.in.Reject(r.Context(), m, pe)
	writeJSON(w, status, Ack{Status: "REJECTED", MessageID: id, Code: pe.Code, Reason: pe.Reason, Violations: pe.Violations})
}

func writeJSON(w http.ResponseWriter, status int, v any) { write(w, status, "application/json", v) }

func write(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Result is what processing one inbound message did.
type Result struct {
	Key       string
	MsgID     string
	Sender    string
	Body      json.RawMessage // what the internal subscriber receives
	Ack       Ack
	Duplicate bool
	PrevAck   []byte
}

func (r *Result) inbound(raw []byte) *adapters.Inbound {
	m := &adapters.Inbound{Channel: ChannelName, Key: "unknown", Raw: raw}
	if r != nil {
		if r.Key != "" {
			m.Key = r.Key
		}
		m.ExternalID, m.Sender = r.MsgID, r.Sender
	}
	return m
}

// Process parses, validates, matches and hands over one inbound message.
// A *isodoc.ParseError means the message was refused (the caller records
// it as REJECTED); any other error is the bus's and worth a resend.
func (c *Channel) Process(ctx context.Context, in adapters.Intake, raw []byte, correlationID string) (*Result, error) {
	res := &Result{}
	msg, err := isodoc.Parse(raw, Accepted, c.lim)
	if err != nil {
		return res, err
	}
	res.Key = msg.Key()
	if msg.Header != nil {
		res.Sender = isodoc.PartyBIC(msg.Header.Fr)
	}
	if len(c.opts.Senders) > 0 && !slices.Contains(c.opts.Senders, res.Sender) {
		return res, &isodoc.ParseError{Code: "SENDER_NOT_ALLOWED", Reason: fmt.Sprintf("business application header from %q is not an allowed sender", res.Sender)}
	}
	if ok, _ := in.Known(ChannelName, res.Key); !ok {
		return res, &isodoc.ParseError{Code: "UNKNOWN_KEY", Reason: fmt.Sprintf("no inbound route for %s messages", res.Key)}
	}
	m := &matcher{in: in, routes: c.opts.PaymentRoutes}
	var rep *report
	switch msg.MsgDefIdr {
	case isodoc.Pacs002:
		rep, err = m.statusReport(ctx, msg)
	case isodoc.Pacs004:
		rep, err = m.paymentReturn(ctx, msg)
	case isodoc.Camt053:
		rep, err = m.statement(ctx, msg)
	case isodoc.Camt054:
		rep, err = m.notification(ctx, msg)
	}
	if err != nil {
		return res, err
	}
	res.MsgID = rep.MsgID
	if res.MsgID == "" {
		return res, &isodoc.ParseError{Code: isodoc.CodeSchemaInvalid, Reason: "GrpHdr/MsgId is empty"}
	}
	rep.MessageDefinition, rep.From = msg.MsgDefIdr, res.Sender
	// Every page is handed over even on a repeat: each is de-duplicated on
	// its own, so a repeat after a crash between pages completes them.
	var rc *adapters.Receipt
	for i, page := range rep.pages(c.opts.PageEntries) {
		m := &adapters.Inbound{Channel: ChannelName, Key: res.Key, ExternalID: res.MsgID, Sender: res.Sender, CorrelationID: correlationID}
		if page.Page != nil && page.Page.Number > 1 {
			m.ExternalID = fmt.Sprintf("%s/page-%d", res.MsgID, page.Page.Number)
		}
		if m.Body, err = json.Marshal(page); err != nil {
			return res, err
		}
		if i == 0 {
			res.Body, m.Raw = m.Body, raw // the document is kept once, with its first page
		}
		if c.holds(res.Key) {
			m.Hold = holdReasons(page)
		}
		prc, err := in.Accept(ctx, m)
		if err != nil {
			var re *adapters.RejectError
			if errors.As(err, &re) {
				return res, &isodoc.ParseError{Code: re.Code, Reason: re.Reason}
			}
			return res, err
		}
		if i == 0 {
			rc = prc
		}
	}
	// Annotations come after the message is stored so a refused message
	// never changes a payment; they are idempotent, so a repeat of a
	// message whose annotations were cut short by a crash completes them.
	for _, a := range rep.notes {
		if err := adapters.AnnotateOnce(ctx, in, a.messageID, a.action, a.detail); err != nil {
			return res, fmt.Errorf("annotating payment %s: %w", a.messageID, err)
		}
	}
	res.Duplicate, res.PrevAck = rc.Duplicate, rc.Ack
	res.Ack = Ack{Status: "ACCEPTED", MessageID: rc.MessageID, MsgID: res.MsgID, Type: msg.MsgDefIdr, Matched: rep.matched, Unmatched: rep.unmatched}
	if rc.Duplicate {
		res.Ack.Status = "DUPLICATE"
		return res, nil
	}
	if b, err := json.Marshal(res.Ack); err == nil {
		if err := in.Acknowledge(ctx, rc.MessageID, b); err != nil {
			c.Log.Warn("iso20022: acknowledgement not recorded", "messageId", rc.MessageID, "err", err)
		}
	}
	return res, nil
}

func trimDetail(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
