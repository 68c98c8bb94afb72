// Package intake is the core's side of inbound channels: it turns a message
// an agency pushed in into a stored, audited, de-duplicated message and
// hands it to the route that delivers it to the internal subscriber. The
// channels (SHEP, ISO 20022) speak the agency's contract; this package
// never parses a wire format.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// Intake implements adapters.Intake over the store and the route table.
type Intake struct {
	table  *routes.Table
	store  store.Store // read only: lookups by external id
	ledger *ledger.Ledger
	queue  routes.Queue
	log    *slog.Logger
	byKey  map[string]*routes.Route
	mu     sync.Mutex
	active map[string]chan struct{} // route+externalID being accepted now
}

var _ adapters.Intake = (*Intake)(nil)

// New indexes the table's inbound routes by channel and key.
func New(t *routes.Table, st store.Store, l *ledger.Ledger, q routes.Queue, log *slog.Logger) *Intake {
	in := &Intake{table: t, store: st, ledger: l, queue: q, log: log, byKey: map[string]*routes.Route{}, active: map[string]chan struct{}{}}
	for _, r := range t.All() {
		if r.Inbound != nil {
			in.byKey[r.Inbound.Channel+"\x00"+r.Inbound.Key] = r
		}
	}
	return in
}

func (in *Intake) route(channel, key string) (*routes.Route, bool) {
	r, ok := in.byKey[channel+"\x00"+key]
	return r, ok
}

// Known reports whether channel has a route for key.
func (in *Intake) Known(channel, key string) (bool, bool) {
	r, ok := in.route(channel, key)
	return ok, ok && r.Mode == routes.Sync
}

// hold serialises work on one external id in this process, so two copies
// of a message arriving together are not both stored and delivered.
func (in *Intake) hold(ctx context.Context, slot string) (release func(), err error) {
	for {
		in.mu.Lock()
		wait, busy := in.active[slot]
		if !busy {
			done := make(chan struct{})
			in.active[slot] = done
			in.mu.Unlock()
			return func() {
				in.mu.Lock()
				delete(in.active, slot)
				in.mu.Unlock()
				close(done)
			}, nil
		}
		in.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// duplicate returns the receipt of a message already stored for the same
// route and external id.
func (in *Intake) duplicate(ctx context.Context, r *routes.Route, m *adapters.Inbound) (*adapters.Receipt, error) {
	if m.ExternalID == "" {
		return nil, nil
	}
	// Looked up as it is stored: capped (the ledger caps what it keeps).
	prev, err := in.store.FindByExternalID(ctx, r.Name, ledger.BoundName(m.ExternalID, ledger.MaxKey))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, in.storeFailed("looking up an earlier copy", err, about(m)...)
	}
	if prev.Status == store.Failed {
		// A sync inbound call that failed on our side may be sent again:
		// the sender got a fault, not an answer.
		return nil, nil
	}
	rc := &adapters.Receipt{MessageID: prev.ID, Status: string(prev.Status), Duplicate: true, Ack: in.ledger.FirstAcknowledgement(ctx, prev.ID)}
	in.ledger.Duplicated(ctx, prev.ID, actor(m),
		fmt.Sprintf("%s message %s received again; answered with the first acknowledgement, not delivered again", m.Channel, m.ExternalID))
	return rc, nil
}

func actor(m *adapters.Inbound) string {
	if m.Sender != "" {
		return m.Sender
	}
	return "agency:" + m.Channel
}

// Accept stores m and queues its delivery, or keeps it HELD when the
// channel asks (m.Hold).
func (in *Intake) Accept(ctx context.Context, m *adapters.Inbound) (*adapters.Receipt, error) {
	r, ok := in.route(m.Channel, m.Key)
	if !ok {
		return nil, &adapters.RejectError{Code: "UNKNOWN_KEY", Reason: fmt.Sprintf("no inbound route for %s %q", m.Channel, m.Key)}
	}
	release, err := in.hold(ctx, r.Name+"\x00"+m.ExternalID)
	if err != nil {
		return nil, err
	}
	defer release()
	if rc, err := in.duplicate(ctx, r, m); rc != nil || err != nil {
		return rc, err
	}
	msg, err := in.ledger.InboundQueued(ctx, routes.NewMessageID(), r.Name, actor(m), m)
	if err != nil {
		return nil, in.storeFailed("storing the message", err, about(m)...)
	}
	if msg.Status == string(store.Held) {
		// Stored and accepted, not delivered: it waits for an operator.
		return &adapters.Receipt{MessageID: msg.ID, Status: msg.Status}, nil
	}
	if err := in.queue.Enqueue(ctx, msg); err != nil {
		in.log.Error("inbound message stored but not queued; the recovery sweep will queue it", "messageId", msg.ID, "err", err)
	}
	return &adapters.Receipt{MessageID: msg.ID, Status: string(store.Queued)}, nil
}

// Acknowledge keeps the acknowledgement a channel answered with, so a
// duplicate gets the same one.
func (in *Intake) Acknowledge(ctx context.Context, id string, ack []byte) error {
	if err := in.ledger.Acknowledged(ctx, id, ack); err != nil {
		return in.storeFailed("keeping the acknowledgement", err, "messageId", id)
	}
	return nil
}

// Call delivers m synchronously through the route's sync pipeline.
func (in *Intake) Call(ctx context.Context, m *adapters.Inbound) (*adapters.Response, *adapters.Receipt, error) {
	r, ok := in.route(m.Channel, m.Key)
	if !ok {
		return nil, nil, &adapters.RejectError{Code: "UNKNOWN_KEY", Reason: fmt.Sprintf("no inbound route for %s %q", m.Channel, m.Key)}
	}
	release, err := in.hold(ctx, r.Name+"\x00"+m.ExternalID)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	if rc, err := in.duplicate(ctx, r, m); rc != nil || err != nil {
		return nil, rc, err
	}
	// The agency's ids go on to the subscriber as they will be stored:
	// capped, one line.
	x := &routes.Exchange{Route: r, Caller: actor(m), Inbound: true, Started: time.Now(), Request: adapters.Request{
		Route: r.Name, Operation: r.Operation, MessageID: routes.NewMessageID(), CorrelationID: ledger.BoundName(m.CorrelationID, ledger.MaxKey),
		Body: m.Body, ExternalID: ledger.BoundName(m.ExternalID, ledger.MaxKey), Subject: m.Subject,
	}}
	if x.Request.CorrelationID == "" {
		x.Request.CorrelationID = x.Request.MessageID
	}
	err = r.Call(ctx, x)
	// The exchange is recorded by then; the document as received is kept
	// beside it whatever the subscriber answered.
	if kerr := in.ledger.InboundKept(ctx, x.Request.MessageID, r.Name, m, x.Started); kerr != nil {
		in.log.Error("keeping the received document as evidence", "messageId", x.Request.MessageID, "err", kerr)
	}
	rc := &adapters.Receipt{MessageID: x.Request.MessageID, Status: string(store.Delivered)}
	if err != nil {
		rc.Status = string(store.Failed)
		return nil, rc, err
	}
	return x.Response, rc, nil
}

// StoreError is the intake's failure to read or write the store. Its text
// is what a channel may pass to the agency; the store's own words are in
// the cause and the log.
type StoreError struct {
	What string
	Err  error
}

func (e *StoreError) Error() string { return e.What + ": the message store is unavailable" }
func (e *StoreError) Unwrap() error { return e.Err }

func (in *Intake) storeFailed(what string, err error, about ...any) error {
	in.log.Error("inbound: the message store failed", append(about, "step", what, "err", err)...)
	return &StoreError{What: what, Err: err}
}

func about(m *adapters.Inbound) []any {
	return []any{"channel", m.Channel, "externalId", ledger.BoundName(m.ExternalID, ledger.MaxKey)}
}

// Reject records a message refused before it was accepted. A message whose
// body ran out of time is the listener guard's to record (it answers 408):
// it gets an id but no second record.
func (in *Intake) Reject(ctx context.Context, m *adapters.Inbound, reason error) string {
	route := "inbound:" + m.Channel
	if r, ok := in.route(m.Channel, m.Key); ok {
		route = r.Name
	}
	raw := m.Raw
	if raw == nil {
		raw = m.Body
	}
	id := routes.NewMessageID()
	if httpguard.BodyTimedOut(ctx) {
		return id
	}
	err := in.ledger.Refused(ctx, ledger.Refusal{ID: id, Route: route, Caller: actor(m), CorrelationID: m.CorrelationID,
		ExternalID: m.ExternalID, Inbound: true, HTTPStatus: http.StatusBadRequest, Reason: reason.Error(), Body: raw,
		Context: map[string]any{"key": m.Key}, Received: fmt.Sprintf("%s %s %s", m.Channel, m.Key, m.ExternalID)})
	if err != nil {
		in.log.Error("recording rejected inbound message", "channel", m.Channel, "err", err)
	}
	return id
}

// Find returns the message of route with the given external id.
func (in *Intake) Find(ctx context.Context, route, externalID string) (*adapters.Found, error) {
	m, err := in.store.FindByExternalID(ctx, route, ledger.BoundName(externalID, ledger.MaxKey))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no message of route %s with external id %s", adapters.ErrNotFound, route, ledger.BoundName(externalID, ledger.MaxKey))
	}
	if err != nil {
		return nil, in.storeFailed("finding the message", err, "route", route)
	}
	return found(m), nil
}

func found(m *store.Message) *adapters.Found {
	return &adapters.Found{MessageID: m.ID, Route: m.Route, ExternalID: m.ExternalID, Status: string(m.Status),
		Subject: m.Subject, At: m.CreatedAt, Request: m.RequestBody}
}

// About lists the messages about subject, oldest first.
func (in *Intake) About(ctx context.Context, subject string) ([]adapters.Found, error) {
	subject = ledger.BoundName(subject, ledger.MaxSubject)
	if subject == "" {
		return nil, nil
	}
	ms, err := in.store.List(ctx, store.Filter{Subject: subject, Limit: adapters.MaxAbout})
	if err != nil {
		return nil, in.storeFailed("listing the messages about a subject", err, "subject", subject)
	}
	out := make([]adapters.Found, len(ms))
	for i := range ms {
		// List is newest first; a life reads from its beginning.
		out[len(ms)-1-i] = *found(&ms[i])
	}
	return out, nil
}

// Annotate appends a business event to a message's audit trail.
func (in *Intake) Annotate(ctx context.Context, id, action, detail string) error {
	if err := in.ledger.Annotated(ctx, id, "agency", action, detail); err != nil {
		return in.storeFailed("recording the event", err, "messageId", id)
	}
	return nil
}

// History is a message's audit trail.
func (in *Intake) History(ctx context.Context, id string) ([]adapters.Event, error) {
	recs, err := in.store.Audit(ctx, id)
	if err != nil {
		return nil, in.storeFailed("reading the history", err, "messageId", id)
	}
	out := make([]adapters.Event, len(recs))
	for i, r := range recs {
		out[i] = adapters.Event{At: r.At, Actor: r.Actor, Action: r.Action, Detail: r.Detail}
	}
	return out, nil
}
