// Package ledger is the only writer of the message store: every message,
// attempt and audit entry the bus records goes through one of its typed
// actions. It is also the one place where what is kept is made safe to
// keep: bodies masked or hashed by the route's personal-data policy (or
// reduced to a digest when no policy can be trusted to cover them), and
// every field that came from outside capped before it is stored.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/pii"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/tracing"
	"github.com/minfin-kz/kopir/routes"
)

// Action is what an audit entry says happened.
type Action string

// The actions of the audit trail. Channels add business events of their
// own through Annotated (e.g. PAYMENT_STATUS).
const (
	Received     Action = "RECEIVED"
	Rejected     Action = "REJECTED"
	Queued       Action = "QUEUED"
	Delivered    Action = "DELIVERED"
	Failed       Action = "FAILED"
	Dead         Action = "DEAD"
	Duplicate    Action = "DUPLICATE"
	Acknowledged Action = "ACKNOWLEDGED"
	Replayed     Action = "REPLAY"
	// Forbidden is an admin API call the admin's role does not allow.
	Forbidden Action = "FORBIDDEN"
	// The held queue's actions (held.go).
	Held           Action = "HELD"
	ChangeProposed Action = "CHANGE_PROPOSED"
	ChangeApproved Action = "CHANGE_APPROVED"
	ChangeDeclined Action = "CHANGE_DECLINED"
	Edited         Action = "EDITED"
	Resubmitted    Action = "RESUBMIT"
	Discarded      Action = "DISCARDED"
	PayloadRead    Action = "PAYLOAD_READ"
)

// Caps on what is kept of a field taken from outside. A longer value is
// cut and marked, never stored whole: a 1 MB route name must cost the
// store a few hundred bytes, and on PostgreSQL fit its index.
const (
	MaxName         = 128 // route, caller, channel key
	MaxKey          = 255 // Idempotency-Key, external id, correlation id
	MaxSubject      = 64  // the business object a message is about (an ISIN is 12)
	MaxError        = 2048
	MaxDetail       = 4096
	MaxAcknowledged = 64 << 10
	busActor        = "bus"
)

// Ledger records exchanges in a store.
type Ledger struct {
	st       store.Store
	policies map[string]*pii.Policy // by route name
	log      *slog.Logger
	now      func() time.Time
	keep     *keeping // nil: no evidence kept
	queued   handoff  // messages just recorded QUEUED, for this process's delivery worker
}

var _ routes.Ledger = (*Ledger)(nil)

// New is a ledger over st that masks each route's bodies by its
// personal-data spec, hashing with key.
func New(st store.Store, specs []routes.Spec, key string, log *slog.Logger) *Ledger {
	l := &Ledger{st: st, policies: make(map[string]*pii.Policy, len(specs)), log: log, now: time.Now}
	for _, s := range specs {
		l.policies[s.Name] = pii.NewPolicy(s.PersonalData.Mask, s.PersonalData.Hash, key)
	}
	return l
}

// policy is the route's personal-data policy; nil (masks nothing) for a
// route this bus does not have.
func (l *Ledger) policy(route string) *pii.Policy { return l.policies[route] }

func (l *Ledger) record(ctx context.Context, ev store.Event) (err error) {
	if ev.Message != nil {
		l.queued.drop(ev.Message.ID) // what the worker would take is no longer what is stored
	}
	if m := ev.Message; m != nil && m.TraceID == "" {
		// A message keeps the trace it was first stored in: a delivery or
		// replay of it continues that trace, and does not move it.
		t := tracing.Store(ctx)
		m.TraceID, m.TraceParent, m.TraceState = t.TraceID, t.TraceParent, Bound(t.TraceState, MaxKey)
	}
	ctx, span := adapters.ChildSpan(ctx, "store")
	if span.IsRecording() {
		span.SetAttributes(storeAttrs(ev)...)
	}
	defer func() {
		adapters.SpanFailed(span, err)
		span.End()
	}()
	for i := range ev.Audit {
		a := &ev.Audit[i]
		a.Actor = BoundName(a.Actor, MaxName)
		a.Action = BoundName(a.Action, MaxName)
		if a.Action == string(Acknowledged) {
			a.Detail = Bound(a.Detail, MaxAcknowledged)
		} else {
			a.Detail = Bound(a.Detail, MaxDetail)
		}
	}
	return l.st.Record(ctx, ev)
}

// storeAttrs describe a store write on its span: the message and the
// audit actions it records.
func storeAttrs(ev store.Event) []attribute.KeyValue {
	actions := make([]string, len(ev.Audit))
	id := ""
	for i, a := range ev.Audit {
		actions[i], id = a.Action, a.MessageID
	}
	if ev.Message != nil {
		id = ev.Message.ID
	}
	return []attribute.KeyValue{adapters.AttrMessageID.String(id), attribute.StringSlice("kopir.audit.actions", actions)}
}

func entry(id, actor string, a Action, detail string) store.AuditEntry {
	return store.AuditEntry{MessageID: id, Actor: actor, Action: string(a), Detail: detail}
}

// --- the route pipeline's side (routes.Ledger) ---

// Exchanged records a call that ended in the pipeline: the message with
// its final status, every attempt, and RECEIVED plus the outcome.
func (l *Ledger) Exchanged(ctx context.Context, x *routes.Exchange, err error) error {
	status := store.Delivered
	switch x.Outcome {
	case routes.OutcomeRejected:
		status = store.Rejected
	case routes.OutcomeFailed, routes.OutcomeUnavailable:
		status = store.Failed
	}
	detail := ""
	if err != nil {
		detail = err.Error()
	} else if x.Outcome == routes.OutcomeCached {
		detail = "answered from cache"
	}
	p := l.policy(x.Route.Name)
	m := l.message(x, status, errText(err), answered(x.Route.Name, err))
	if refusesKey(err) {
		// The key belongs to the earlier call; this refusal is kept
		// under its own id, the key named in its error.
		m.IdempotencyKey, m.RequestFingerprint = "", ""
	}
	if x.Response != nil {
		m.ResponseBody = p.JSON(x.Response.Body)
	}
	at := x.Attempts()
	evs, kept := l.outboundEvidence(m.ID, m.Route, at)
	ev := store.Event{Message: m, Attempts: l.attempts(p, m.ID, at), Evidence: evs, Audit: append([]store.AuditEntry{
		{MessageID: m.ID, Actor: m.Caller, Action: string(Received), At: x.Started},
		entry(m.ID, busActor, Action(status), detail),
	}, kept...)}
	rerr := l.record(ctx, ev)
	if !errors.Is(rerr, store.ErrDuplicateKey) {
		return rerr
	}
	// Another process stored a message with this key first: the call is
	// refused (409), and kept without the key so its record is not lost.
	taken := keyTaken(x, rerr)
	m.IdempotencyKey, m.RequestFingerprint = "", ""
	m.HTTPStatus, m.Error = answered(x.Route.Name, taken), Bound(taken.Error(), MaxError)
	ev.Audit[1].Detail = taken.Error()
	if err := l.record(ctx, ev); err != nil {
		return err
	}
	return taken
}

// refusesKey tells whether err refuses the call because of its
// Idempotency-Key, which then stays with the message that holds it.
func refusesKey(err error) bool {
	var re *routes.Error
	return errors.As(err, &re) && re.AboutKey()
}

// Queued records an async call as QUEUED with its payload, kept until it
// is delivered so the worker and a replay send exactly what was accepted.
func (l *Ledger) Queued(ctx context.Context, x *routes.Exchange) (*routes.Message, error) {
	m := l.message(x, store.Queued, "", 202)
	m.Payload = x.Request.Body
	err := l.record(ctx, store.Event{Message: m, Audit: []store.AuditEntry{
		{MessageID: m.ID, Actor: m.Caller, Action: string(Received), At: x.Started},
		entry(m.ID, busActor, Queued, ""),
	}})
	if err != nil {
		return nil, keyTaken(x, err)
	}
	l.queued.put(m, l.now())
	return View(m), nil
}

// Repeated notes that x repeated the earlier message's Idempotency-Key.
func (l *Ledger) Repeated(ctx context.Context, earlier *routes.Message, x *routes.Exchange) {
	key := Bound(x.Request.IdempotencyKey, MaxKey)
	detail := fmt.Sprintf("Idempotency-Key %q repeated; answered with the first result", key)
	if differs := routes.KeyReuse(earlier, x); len(differs) > 0 {
		detail = fmt.Sprintf("Idempotency-Key %q repeated by message %s with a different %s (route %s); refused",
			key, x.Request.MessageID, strings.Join(differs, " and "), x.Route.Name)
	}
	if err := l.record(ctx, store.Event{Audit: []store.AuditEntry{entry(earlier.ID, x.Caller, Duplicate, detail)}}); err != nil {
		l.log.Error("recording a repeated Idempotency-Key", "messageId", earlier.ID, "err", err)
	}
}

// ByIdempotencyKey finds the caller's message with key.
func (l *Ledger) ByIdempotencyKey(ctx context.Context, caller, key string) (*routes.Message, error) {
	m, err := l.st.FindByIdempotencyKey(ctx, caller, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no message of caller %s with that Idempotency-Key", routes.ErrNotFound, caller)
	}
	if err != nil {
		return nil, err
	}
	return View(m), nil
}

// message is the store's row for x, bounded and masked.
func (l *Ledger) message(x *routes.Exchange, status store.Status, errText string, httpStatus int) *store.Message {
	dir := store.Outbound
	if x.Inbound {
		dir = store.Inbound
	}
	return &store.Message{
		ID:                 x.Request.MessageID,
		Route:              BoundName(x.Route.Name, MaxName),
		Direction:          dir,
		Caller:             BoundName(x.Caller, MaxName),
		CorrelationID:      BoundName(x.Request.CorrelationID, MaxKey),
		IdempotencyKey:     x.Request.IdempotencyKey, // checked by the API before the pipeline runs
		RequestFingerprint: fingerprint(x),
		ExternalID:         BoundName(x.Request.ExternalID, MaxKey),
		Subject:            BoundName(x.Request.Subject, MaxSubject),
		Status:             status,
		HTTPStatus:         httpStatus,
		Error:              Bound(errText, MaxError),
		RequestBody:        l.policy(x.Route.Name).JSON(x.Request.Body),
		CreatedAt:          x.Started.UTC(),
		UpdatedAt:          l.now().UTC(),
	}
}

// fingerprint is kept only with a key: it is what a repeat of the key is
// compared with.
func fingerprint(x *routes.Exchange) string {
	if x.Request.IdempotencyKey == "" {
		return ""
	}
	return x.RequestFingerprint()
}

// attempts readies attempts for the store: wire bodies masked, numbered by
// the store after the ones it already holds when n is 0.
func (l *Ledger) attempts(p *pii.Policy, id string, at []routes.Attempt) []store.Attempt {
	out := make([]store.Attempt, len(at))
	for i, a := range at {
		out[i] = store.Attempt{MessageID: id, N: a.N, Endpoint: Bound(a.Endpoint, MaxDetail), HTTPStatus: a.StatusCode,
			LatencyMS: float64(a.Latency) / float64(time.Millisecond), RequestBody: p.Body(a.RequestBody),
			ResponseBody: p.Body(a.ResponseBody), StartedAt: a.StartedAt.UTC()}
		if a.Err != nil {
			out[i].Error = Bound(a.Err.Error(), MaxError)
		}
	}
	return out
}

// keyTaken turns the store's refusal of a second message with one
// caller's Idempotency-Key (two processes raced) into the pipeline's error.
func keyTaken(x *routes.Exchange, err error) error {
	if errors.Is(err, store.ErrDuplicateKey) {
		return &routes.Error{Kind: routes.KindKeyTaken, Route: x.Route.Name, Field: "Idempotency-Key", Err: err,
			Detail: "another call with this Idempotency-Key was stored first; repeat the call to get its result"}
	}
	return err
}

// View is the pipeline's view of a stored message.
func View(m *store.Message) *routes.Message {
	return &routes.Message{ID: m.ID, Route: m.Route, CorrelationID: m.CorrelationID, Status: string(m.Status),
		Delivered: m.Status == store.Delivered, Error: m.Error, Attempts: m.Attempts, Fingerprint: m.RequestFingerprint}
}

// answered is the HTTP status the internal caller gets for err, as kept
// with the message; the HTTP API decides it, the ledger only records it.
func answered(route string, err error) int {
	if err == nil {
		return 200
	}
	return problem.From(route, err).Status
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Bound caps s at max bytes (cut on a rune boundary, marked with the full
// length) and replaces invalid UTF-8 and control characters, so whatever a
// client sent is kept readable and small.
func Bound(s string, max int) string {
	clean := len(s) <= max && utf8.ValidString(s) && !strings.ContainsFunc(s, isControl)
	if clean {
		return s
	}
	cut := s
	if len(cut) > max {
		cut = cut[:max]
		for len(cut) > 0 && !utf8.RuneStart(cut[len(cut)-1]) {
			cut = cut[:len(cut)-1]
		}
		if len(cut) > 0 {
			if r, size := utf8.DecodeLastRuneInString(cut); r == utf8.RuneError && size <= 1 {
				cut = cut[:len(cut)-1]
			}
		}
	}
	cut = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || isControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(cut, "?"))
	if len(s) > max {
		return fmt.Sprintf("%s…(%d bytes)", cut, len(s))
	}
	return cut
}

// isControl is a character that has no business in a stored text; line
// breaks and tabs stay, since error texts and acknowledgements use them.
func isControl(r rune) bool { return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f }

// BoundName is Bound for a one-line name (route, caller, key): any control
// character, line breaks included, becomes '?'.
func BoundName(s string, max int) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, Bound(s, max))
}
