package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Channel is an inbound edge: the place on the agency listener where an
// agency pushes messages to the ministry (SHEP SyncChannel, SHEP push
// delivery, ISO 20022). A channel speaks the agency's contract — parse,
// authenticate, validate, answer in kind — and hands each message to the
// core's Intake, which stores, de-duplicates and delivers it.
type Channel interface {
	// Routes lists the handlers to mount on the agency listener, by
	// ServeMux pattern relative to the channel's mount path (e.g. "POST /sync").
	Routes(in Intake) map[string]http.Handler
}

// InternalAPI is implemented by channels that also answer internal
// callers about what they received (e.g. a payment's status history). The
// core mounts the handlers on the internal API and lets a caller in only
// if it may call at least one of the routes named by Guard.
type InternalAPI interface {
	InternalRoutes(in Intake) (handlers map[string]http.Handler, guard []string)
}

// ChannelRunner is implemented by channels with background work (e.g. a
// poller that fetches messages from a gateway instead of being pushed to).
// The core runs it after mounting the channel, until shutdown, on one node
// of a cluster at a time: ctx ends when this node loses that turn, and Run
// is called again when it gets it back.
type ChannelRunner interface {
	Run(ctx context.Context, in Intake) error
}

// NodeRunner is implemented by channels with background work that keeps
// the process's own state fresh (e.g. its copy of the revocation lists a
// signature is checked against), which every node of a cluster needs and
// so runs: the core runs it on every node, until shutdown.
type NodeRunner interface {
	RunOnNode(ctx context.Context) error
}

// Inbound is one message an agency pushed in.
type Inbound struct {
	Channel string // the channel's name, e.g. "shep"
	// Key selects the inbound route within the channel, e.g. the SHEP
	// serviceId or the ISO 20022 message type.
	Key string
	// ExternalID is the sender's message id; repeats of it are duplicates.
	ExternalID    string
	Sender        string // authenticated sender (system id, certificate subject)
	CorrelationID string
	// Body is what the internal subscriber receives (JSON).
	Body json.RawMessage
	// Subject is the business object the message is about (a security's
	// ISIN), indexed like Request.Subject; "" when it names none.
	Subject string
	// Raw is the message exactly as received: kept, encrypted and
	// unchanged, as evidence of an accepted message (a signature must
	// still verify), and only as a digest when the message is refused.
	Raw []byte
	// Hold, when not empty, asks the core to hold the message for an
	// operator instead of delivering it: it is well formed and accepted
	// (the agency is told so; it did nothing it could fix), but a business
	// check an operator can judge failed, one reason per finding. Only
	// Accept (an async route) holds; Call delivers at once whatever it says.
	Hold []HoldReason
}

// HoldReason is one business check that failed on a message: the field of
// the delivered body at fault, as a JSON path
// (statements[0].entries[2].endToEndId), and why, in words an operator
// can act on.
type HoldReason struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Rechecker is implemented by a channel that holds messages: the core
// asks it to check a held message's body again, as the operator edits it
// or before resubmitting it. It must not change anything (it runs as the
// operator types), and should be cheap.
type Rechecker interface {
	// Recheck checks body, the JSON the channel's route keyed key
	// delivers, against the contract (Invalid: the body cannot be sent as
	// it is) and the business checks that held it (Hold: what still
	// fails). Body in the answer is what would be delivered: the channel
	// may recompute fields it derives (a match result) from the ones an
	// operator edits.
	Recheck(ctx context.Context, in Intake, key string, body json.RawMessage) (*Recheck, error)
}

// Recheck is what a Rechecker found.
type Recheck struct {
	Body    json.RawMessage
	Invalid []HoldReason
	Hold    []HoldReason
}

// Receipt is what the intake did with an inbound message.
type Receipt struct {
	MessageID string // the bus's id
	Status    string // QUEUED, HELD, DELIVERED, …
	// Duplicate is true when ExternalID was seen before; Ack then holds the
	// acknowledgement the channel answered the first time.
	Duplicate bool
	Ack       []byte
}

// Intake is the core's side of an inbound channel.
type Intake interface {
	// Known reports whether an inbound route exists for channel and key,
	// and whether it answers synchronously.
	Known(channel, key string) (exists, sync bool)
	// Accept stores m durably and queues its delivery to the route's
	// subscriber, or, when m.Hold names reasons, keeps it HELD for an
	// operator (the receipt says HELD). A repeated ExternalID is not
	// stored or delivered again: the first receipt comes back with
	// Duplicate set.
	Accept(ctx context.Context, m *Inbound) (*Receipt, error)
	// Acknowledge records the acknowledgement the channel sent for an
	// accepted message, so a duplicate can be answered with the same one.
	Acknowledge(ctx context.Context, messageID string, ack []byte) error
	// Call delivers m synchronously to the route's subscriber and returns
	// its answer; the exchange is stored like an outbound sync call.
	Call(ctx context.Context, m *Inbound) (*Response, *Receipt, error)
	// Reject records a message refused before acceptance (bad XML, bad
	// signature, unknown key…) with the reason, as REJECTED.
	Reject(ctx context.Context, m *Inbound, reason error) (messageID string)
	// Find returns the message of route whose ExternalID is externalID
	// (e.g. the payment a status report refers to).
	Find(ctx context.Context, route, externalID string) (*Found, error)
	// Annotate appends a business event (e.g. PAYMENT_STATUS with detail
	// "ACSC") to a message's audit trail; it is how a later message from
	// the agency is tied to the one it answers.
	Annotate(ctx context.Context, messageID, action, detail string) error
	// History returns a message's audit trail, oldest first.
	History(ctx context.Context, messageID string) ([]Event, error)
	// About returns the messages about subject (Request.Subject,
	// Inbound.Subject), oldest first, at most MaxAbout of them.
	About(ctx context.Context, subject string) ([]Found, error)
}

// MaxAbout bounds what Intake.About returns: the life of one security
// (registration, placements, settlements, forty coupons) is well within it.
const MaxAbout = 1000

// Found is a stored message as an inbound channel sees it.
type Found struct {
	MessageID  string
	Route      string
	ExternalID string
	Status     string
	Subject    string
	At         time.Time       // when it was received
	Request    json.RawMessage // as stored (personal data masked)
}

// Event is one entry of a message's audit trail.
type Event struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// ErrNotFound is what Intake.Find returns (wrapped) when nothing matches.
var ErrNotFound = errors.New("not found")

// RejectError is a refusal a channel reports to the agency, with the
// reason code the channel's contract uses (a SOAP faultcode, an ISO 20022
// reason…).
type RejectError struct {
	Code   string
	Reason string
}

func (e *RejectError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Reason) }

// AnnotateOnce appends an event to a message's trail unless the trail
// already has it. A channel's detail names the inbound message, so the
// same event twice can only be a repeat: a resend after a crash between
// storing a message and annotating the one it answers completes the trail
// instead of doubling it.
func AnnotateOnce(ctx context.Context, in Intake, id, action, detail string) error {
	hist, err := in.History(ctx, id)
	if err != nil {
		return err
	}
	for _, e := range hist {
		if e.Action == action && e.Detail == detail {
			return nil
		}
	}
	return in.Annotate(ctx, id, action, detail)
}

// Finder is the part of Intake that looks a message up by its external id.
type Finder interface {
	Find(ctx context.Context, route, externalID string) (*Found, error)
}

// FindOnAny returns the message of the first of routes whose ExternalID is
// externalID: how a channel finds what an agency's message answers when
// more than one route may have sent it. Nil and no error when none holds
// it; a store failure is returned naming the route.
func FindOnAny(ctx context.Context, in Finder, routes []string, externalID string) (*Found, error) {
	for _, route := range routes {
		f, err := in.Find(ctx, route, externalID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("looking up %s on %s: %w", externalID, route, err)
		}
		return f, nil
	}
	return nil, nil
}
