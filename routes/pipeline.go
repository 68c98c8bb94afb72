package routes

import (
	"context"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/adapters"
)

// Outcome is how a call ended, as counted in metrics and recorded.
type Outcome string

const (
	OutcomeDelivered   Outcome = "delivered"
	OutcomeQueued      Outcome = "queued"
	OutcomeFailed      Outcome = "failed"
	OutcomeRejected    Outcome = "rejected"
	OutcomeDuplicate   Outcome = "duplicate"
	OutcomeCached      Outcome = "cached"
	OutcomeUnavailable Outcome = "unavailable"
)

// Message is a recorded message as the pipeline needs to see it again: to
// answer an idempotent repeat, or to queue an async call.
type Message struct {
	ID            string
	Route         string
	CorrelationID string
	Status        string // as recorded, e.g. DELIVERED
	Delivered     bool
	Error         string
	Attempts      int // attempts recorded so far
	// Fingerprint is the request fingerprint kept with its Idempotency-Key
	// ("" for messages stored before fingerprints were kept).
	Fingerprint string
}

// Attempt is one physical try, numbered within its exchange.
type Attempt struct {
	adapters.AttemptInfo
	N int
}

// Exchange is one call travelling through a route's layers. Layers read and
// fill it; the innermost one talks to the agency.
type Exchange struct {
	Route  *Route
	Caller string
	// Inbound is set when an agency pushed the message in.
	Inbound  bool
	Request  adapters.Request
	Response *adapters.Response
	// Message is set when the call is answered from an earlier message
	// (idempotent repeat) or once an async call is recorded.
	Message *Message
	Outcome Outcome
	Started time.Time
	// TraceID is the W3C trace the exchange's span belongs to ("" when
	// none), set by Traced for the log lines written after the call.
	TraceID string
	// Fingerprint identifies the request body for its Idempotency-Key
	// (see Fingerprint); set by the Idempotent layer.
	Fingerprint string

	mu       sync.Mutex
	attempts []Attempt
}

// AddAttempt is safe to call from the transport while a call is in flight.
func (x *Exchange) AddAttempt(a adapters.AttemptInfo) {
	x.mu.Lock()
	x.attempts = append(x.attempts, Attempt{AttemptInfo: a, N: len(x.attempts) + 1})
	x.mu.Unlock()
}

// Attempts made so far.
func (x *Exchange) Attempts() []Attempt {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Attempt(nil), x.attempts...)
}

// Handler carries an exchange one layer further in.
type Handler func(ctx context.Context, x *Exchange) error

// Middleware wraps a handler with one concern (record, dedup, limits…), the
// way watermill's router middlewares do.
type Middleware func(Handler) Handler

// Chain wraps h so that mws[0] is the outermost layer.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// Route is a compiled route-table entry.
type Route struct {
	Spec
	Adapter   adapters.Adapter
	Transport adapters.Transport

	// Call answers an internal caller: for a sync route it reaches the
	// agency; for an async route it records and enqueues.
	Call Handler
	// Deliver makes one delivery attempt of a recorded async message; the
	// delivery worker decides about retries and DEAD.
	Deliver Handler
}

// Invoke is the innermost layer: translate, call through the layered
// transport, translate back.
func Invoke(ctx context.Context, x *Exchange) error {
	r := x.Route
	if conv, ok := r.Adapter.(adapters.Conversation); ok {
		resp, err := conv.Converse(ctx, &x.Request, r.Transport)
		if err != nil {
			return err
		}
		x.Response = resp
		return nil
	}
	wire, err := r.Adapter.Encode(ctx, &x.Request)
	if err != nil {
		return err
	}
	got, err := r.Transport.Do(ctx, wire)
	if err != nil {
		return err
	}
	resp, err := r.Adapter.Decode(ctx, &x.Request, got)
	if err != nil {
		return err
	}
	x.Response = resp
	return nil
}
