// Package kasechannel is the inbound channel "kase": where the Kazakhstan
// Stock Exchange pushes what it tells the issuer about a placement — the
// demand summary after the order window closes and the auction result
// after the cut-off. Each document is checked against Köpir's exchange
// contract (contracts/kase), translated to JSON and handed to the core's
// Intake under its message name (DemandSummary, AuctionResult), which
// stores, de-duplicates by MessageId and delivers it. The announcement it
// refers to, when the bus holds it, gets the event on its audit trail.
// See docs/adapters/kase.md.
package kasechannel

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/contracts/kase"
	"github.com/minfin-kz/kopir/contracts/kase/kasetypes"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// ChannelName is the inbound channel's registered name.
const ChannelName = "kase"

func init() { adapters.RegisterChannel(ChannelName, NewChannel) }

// Keys of the inbound routes: the contract's message names.
const (
	KeyDemandSummary = kase.DemandSummary
	KeyAuctionResult = kase.AuctionResult
)

// Events the channel appends to the announcement's audit trail, with the
// exchange's MessageId and the outcome in the detail.
const (
	ActionDemandSummary = "KASE_DEMAND_SUMMARY"
	ActionAuctionResult = "KASE_AUCTION_RESULT"
)

// Refusal codes, in the problem's "code".
const (
	CodeXMLRefused    = "XML_REFUSED"    // not well-formed, or beyond the parser's limits
	CodeNotAMessage   = "NOT_A_MESSAGE"  // the root is not a message of the contract
	CodeSchemaInvalid = "SCHEMA_INVALID" // a message, not valid against the schema
	CodeUnexpected    = "UNEXPECTED_MESSAGE"
	CodeUnknownKey    = "UNKNOWN_KEY" // no inbound route for the message
	CodeTooLarge      = "TOO_LARGE"
)

// DefaultAnnounceRoutes are the routes whose announcements the exchange's
// documents refer to, as deploy/local.yaml names them.
var DefaultAnnounceRoutes = []string{"securities.announce-placement"}

// ChannelOptions configure the "kase" channel.
type ChannelOptions struct {
	// AnnounceRoutes are searched, in order, for the announcement a
	// document's AnnouncementId names, to record the document on its
	// trail. A document about an announcement the bus does not hold is
	// still taken. Default: securities.announce-placement.
	AnnounceRoutes []string `yaml:"announceRoutes"`
}

// Channel is the "kase" inbound channel.
type Channel struct {
	opts ChannelOptions
	log  *slog.Logger
}

// NewChannel is the adapters.ChannelFactory.
func NewChannel(cfg adapters.ChannelConfig, res adapters.Resources) (adapters.Channel, error) {
	var o ChannelOptions
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("kase channel: options: %w", err)
	}
	if o.AnnounceRoutes == nil {
		o.AnnounceRoutes = DefaultAnnounceRoutes
	}
	if _, err := kase.Schema(); err != nil {
		return nil, fmt.Errorf("kase channel: %w", err)
	}
	return &Channel{opts: o, log: res.Log()}, nil
}

// Routes mounts the receiver at the channel's path, with and without a
// trailing slash.
func (c *Channel) Routes(in adapters.Intake) map[string]http.Handler {
	h := &receiver{c: c, in: in}
	return map[string]http.Handler{"POST ": h, "POST /{$}": h}
}

type receiver struct {
	c  *Channel
	in adapters.Intake
}

// Refusal is a document the channel would not take: the problem it
// answers (400, or 413) and the reason it records.
type Refusal struct {
	Status     int
	Code       string
	Element    string // the element's path, e.g. /DemandSummary/Volumes/Total/Amount
	Detail     string
	Violations []xsd.Violation
}

func (r *Refusal) Error() string {
	if r.Element != "" {
		return fmt.Sprintf("%s at %s: %s", r.Code, r.Element, r.Detail)
	}
	return r.Code + ": " + r.Detail
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.refuse(w, r, &adapters.Inbound{Channel: ChannelName, Key: "unknown"},
				&Refusal{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Detail: fmt.Sprintf("document is larger than %d bytes", tooBig.Limit)})
			return
		}
		http.Error(w, "reading body: "+err.Error(), http.StatusBadRequest)
		return
	}
	m, err := h.c.Take(r.Context(), h.in, raw, r.Header.Get("X-Correlation-Id"))
	var ref *Refusal
	switch {
	case errors.As(err, &ref):
		h.refuse(w, r, m, ref)
	case err != nil:
		h.c.log.Error("kase inbound document not taken", "err", err)
		w.Header().Set("Retry-After", "1")
		adapters.WriteProblem(w, http.StatusServiceUnavailable, "Temporarily unavailable", "the document could not be stored; send it again", nil)
	default:
		// Taken, or a repeat of one taken: the exchange needs nothing more.
		w.WriteHeader(http.StatusOK)
	}
}

func (h *receiver) refuse(w http.ResponseWriter, r *http.Request, m *adapters.Inbound, ref *Refusal) {
	m.CorrelationID = r.Header.Get("X-Correlation-Id")
	id := h.in.Reject(r.Context(), m, ref)
	p := map[string]any{"code": ref.Code, "messageId": id}
	if ref.Element != "" {
		p["element"] = ref.Element
	}
	if len(ref.Violations) > 0 {
		p["violations"] = ref.Violations
	}
	adapters.WriteProblem(w, ref.Status, "Document refused", ref.Detail, p)
}

// Take parses, checks and hands over one document. It returns the inbound
// message as far as it was read; a *Refusal means the document was
// refused (the caller records it as REJECTED), any other error is the
// bus's and worth a resend.
func (c *Channel) Take(ctx context.Context, in adapters.Intake, raw []byte, correlationID string) (*adapters.Inbound, error) {
	m := &adapters.Inbound{Channel: ChannelName, Key: "unknown", Raw: raw, CorrelationID: correlationID}
	msg, name, err := kase.Parse(raw)
	if err != nil {
		return m, refusal(raw, err)
	}
	var body any
	var announcement string
	switch v := msg.(type) {
	case *kasetypes.DemandSummary:
		m.ExternalID, announcement = text(v.MessageId), text(v.AnnouncementId)
		body = demandSummary(v)
	case *kasetypes.AuctionResult:
		m.ExternalID, announcement = text(v.MessageId), text(v.AnnouncementId)
		body = auctionResult(v)
	default:
		return m, &Refusal{Status: http.StatusBadRequest, Code: CodeUnexpected, Element: "/" + name,
			Detail: fmt.Sprintf("a %s is not a message the exchange sends the bus (only %s and %s)", name, kase.DemandSummary, kase.AuctionResult)}
	}
	m.Key = name
	if ok, _ := in.Known(ChannelName, name); !ok {
		return m, &Refusal{Status: http.StatusBadRequest, Code: CodeUnknownKey, Element: "/" + name, Detail: fmt.Sprintf("no inbound route for %s documents", name)}
	}
	if m.Body, err = json.Marshal(body); err != nil {
		return m, err
	}
	// The exchange names the announcement, not the security: the
	// security is the one the announcement was about.
	ann := c.announcement(ctx, in, announcement)
	if ann != nil {
		m.Subject = ann.Subject
	}
	if _, err := in.Accept(ctx, m); err != nil {
		var re *adapters.RejectError
		if errors.As(err, &re) {
			return m, &Refusal{Status: http.StatusBadRequest, Code: re.Code, Detail: re.Reason}
		}
		return m, err
	}
	c.annotate(ctx, in, name, ann, announcement, m.ExternalID, body)
	return m, nil
}

// announcement is the stored announcement a document refers to, nil when
// the bus holds none (or cannot read it now: the document is taken
// either way).
func (c *Channel) announcement(ctx context.Context, in adapters.Intake, id string) *adapters.Found {
	f, err := adapters.FindOnAny(ctx, in, c.opts.AnnounceRoutes, id)
	if err != nil {
		c.log.Warn("kase: reading the announcement a document refers to", "announcementId", id, "err", err)
		return nil
	}
	return f
}

// annotate records the document on its announcement's trail. A repeat of
// the document finds the event there and adds nothing, so a repeat after a
// crash between storing and annotating completes the trail. The document
// is stored and delivered either way: failing here only thins the trail.
func (c *Channel) annotate(ctx context.Context, in adapters.Intake, name string, ann *adapters.Found, announcement, externalID string, body any) {
	if ann == nil {
		return
	}
	action, detail := ActionDemandSummary, externalID
	if r, ok := body.(*AuctionResult); ok {
		action, detail = ActionAuctionResult, r.Outcome+" "+externalID
	}
	if err := adapters.AnnotateOnce(ctx, in, ann.MessageID, action, detail); err != nil {
		c.log.Warn("kase: document not recorded on its announcement", "document", name, "messageId", externalID, "announcementId", announcement, "err", err)
	}
}

// refusal explains why kase.Parse refused a document, naming the element
// where there is one.
func refusal(raw []byte, err error) *Refusal {
	var xe *xsd.Error
	var se *safexml.Error
	switch {
	case errors.As(err, &xe):
		v := xe.Violations[0]
		return &Refusal{Status: http.StatusBadRequest, Code: CodeSchemaInvalid, Element: v.Path, Detail: xe.Error(), Violations: xe.Violations}
	case errors.As(err, &se):
		return &Refusal{Status: http.StatusBadRequest, Code: CodeXMLRefused, Detail: se.Error()}
	case errors.Is(err, kase.ErrNotAMessage):
		return &Refusal{Status: http.StatusBadRequest, Code: CodeNotAMessage, Element: rootOf(raw),
			Detail: fmt.Sprintf("%v: the exchange's documents are in namespace %s", err, kase.Namespace)}
	}
	return &Refusal{Status: http.StatusBadRequest, Code: CodeXMLRefused, Detail: err.Error()}
}

func rootOf(raw []byte) string {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			return "/" + se.Name.Local
		}
	}
}
