package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/pii"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// Refusal is a call or message refused before any route pipeline ran: by
// the internal API (no token, unknown route, oversize, malformed JSON) or
// by an inbound channel (bad XML, bad signature, unknown service).
type Refusal struct {
	ID            string
	Route         string // as the client named it; "inbound:<channel>" when unknown
	Caller        string // the authenticated caller or sender, or "anonymous"
	CorrelationID string
	ExternalID    string
	Inbound       bool
	Started       time.Time
	HTTPStatus    int
	Reason        string
	// Body is kept only as a digest: no personal-data policy can be
	// trusted to cover a body that failed its checks.
	Body []byte
	// Context is added to the digest (e.g. the channel's routing key).
	Context map[string]any
	// Received is the RECEIVED entry's detail.
	Received string
}

// Refused records r as REJECTED with RECEIVED and REJECTED entries.
func (l *Ledger) Refused(ctx context.Context, r Refusal) error {
	dir := store.Outbound
	if r.Inbound {
		dir = store.Inbound
	}
	if r.Started.IsZero() {
		r.Started = l.now()
	}
	ctxInfo := map[string]any{}
	for k, v := range r.Context {
		if s, ok := v.(string); ok {
			v = BoundName(s, MaxKey)
		}
		ctxInfo[k] = v
	}
	corr := BoundName(r.CorrelationID, MaxKey)
	if corr == "" {
		corr = r.ID
	}
	m := &store.Message{ID: r.ID, Route: BoundName(r.Route, MaxName), Direction: dir, Caller: BoundName(r.Caller, MaxName),
		CorrelationID: corr, ExternalID: BoundName(r.ExternalID, MaxKey), Status: store.Rejected, HTTPStatus: r.HTTPStatus,
		Error: Bound(r.Reason, MaxError), RequestBody: pii.Digest(r.Body, ctxInfo), CreatedAt: r.Started.UTC(), UpdatedAt: l.now().UTC()}
	return l.record(context.WithoutCancel(ctx), store.Event{Message: m, Audit: []store.AuditEntry{
		{MessageID: r.ID, Actor: m.Caller, Action: string(Received), Detail: r.Received, At: r.Started},
		entry(r.ID, busActor, Rejected, r.Reason),
	}})
}

// InboundQueued records a message an agency pushed in as QUEUED for
// delivery to the route's subscriber, or as HELD for an operator when the
// channel named reasons to hold it (m.Hold), with the reasons kept and on
// the trail.
func (l *Ledger) InboundQueued(ctx context.Context, id, route, sender string, m *adapters.Inbound) (*routes.Message, error) {
	now := l.now().UTC()
	msg := &store.Message{
		ID: id, Route: route, Direction: store.Inbound, Caller: BoundName(sender, MaxName),
		CorrelationID: BoundName(m.CorrelationID, MaxKey), ExternalID: BoundName(m.ExternalID, MaxKey), Status: store.Queued,
		Subject:     BoundName(m.Subject, MaxSubject),
		RequestBody: l.policy(route).JSON(m.Body), Payload: m.Body, CreatedAt: now, UpdatedAt: now,
	}
	if msg.CorrelationID == "" {
		msg.CorrelationID = msg.ID
	}
	evs, kept := l.inboundEvidence(id, route, m, now)
	ev := store.Event{Message: msg, Evidence: evs, Audit: []store.AuditEntry{
		entry(id, msg.Caller, Received, fmt.Sprintf("%s %s %s", m.Channel, m.Key, m.ExternalID)),
		entry(id, busActor, Queued, ""),
	}}
	if len(m.Hold) > 0 {
		reasons := HoldReasons(m.Hold)
		msg.Status = store.Held
		ev.Hold = &store.Hold{MessageID: id, Reasons: reasons, HeldAt: now}
		ev.Audit[1] = entry(id, busActor, Held, ReasonsText(reasons))
	}
	ev.Audit = append(ev.Audit, kept...)
	if err := l.record(ctx, ev); err != nil {
		return nil, err
	}
	if msg.Status == store.Queued {
		l.queued.put(msg, now)
	}
	return View(msg), nil
}

// Duplicated notes on an earlier message that it was received again.
func (l *Ledger) Duplicated(ctx context.Context, id, actor, detail string) {
	if err := l.record(context.WithoutCancel(ctx), store.Event{Audit: []store.AuditEntry{entry(id, actor, Duplicate, detail)}}); err != nil {
		l.log.Error("recording a duplicate", "messageId", id, "err", err)
	}
}

// Acknowledged keeps the acknowledgement a channel answered with, masked
// by the route's policy, so that a duplicate gets the same one. It is an
// audit entry: what the bus told the agency is part of the record, and an
// append-only entry cannot be overwritten by the delivery worker.
func (l *Ledger) Acknowledged(ctx context.Context, id string, ack []byte) error {
	m, err := l.st.Get(ctx, id)
	if err != nil {
		return err
	}
	return l.record(ctx, store.Event{Audit: []store.AuditEntry{entry(id, busActor, Acknowledged, string(l.policy(m.Route).XML(ack)))}})
}

// FirstAcknowledgement is the acknowledgement first answered for a message.
func (l *Ledger) FirstAcknowledgement(ctx context.Context, id string) []byte {
	recs, err := l.st.Audit(ctx, id)
	if err != nil {
		return nil
	}
	for _, r := range recs {
		if r.Action == string(Acknowledged) {
			return []byte(r.Detail)
		}
	}
	return nil
}

// Annotated appends a business event a channel reports (e.g. a payment's
// status) to a message's trail.
func (l *Ledger) Annotated(ctx context.Context, id, actor, action, detail string) error {
	return l.record(ctx, store.Event{Audit: []store.AuditEntry{{MessageID: id, Actor: actor, Action: action, Detail: detail}}})
}

// --- the delivery worker's side ---

// Retrying records a failed delivery attempt that will be retried.
func (l *Ledger) Retrying(ctx context.Context, m *store.Message, at []routes.Attempt, cause error) error {
	m.Error, m.UpdatedAt = Bound(cause.Error(), MaxError), l.now().UTC()
	evs, kept := l.outboundEvidence(m.ID, m.Route, at)
	return l.record(ctx, store.Event{Message: m, Attempts: l.delivered(m, at), Evidence: evs, Audit: kept})
}

// Finished records the end of an async message's delivery: DELIVERED with
// the subscriber's answer, or DEAD with why.
func (l *Ledger) Finished(ctx context.Context, m *store.Message, at []routes.Attempt, status store.Status, why string, resp *adapters.Response) error {
	if resp != nil {
		m.ResponseBody = l.policy(m.Route).JSON(resp.Body)
	}
	m.Status, m.Error, m.UpdatedAt = status, Bound(why, MaxError), l.now().UTC()
	evs, kept := l.outboundEvidence(m.ID, m.Route, at)
	return l.record(ctx, store.Event{Message: m, Attempts: l.delivered(m, at), Evidence: evs,
		Audit: append([]store.AuditEntry{entry(m.ID, busActor, Action(status), why)}, kept...)})
}

// delivered numbers a delivery's attempts after those already stored.
func (l *Ledger) delivered(m *store.Message, at []routes.Attempt) []store.Attempt {
	out := l.attempts(l.policy(m.Route), m.ID, at)
	for i := range out {
		out[i].N = 0
	}
	return out
}

// Replay puts a DEAD or FAILED message back to QUEUED, naming the operator.
func (l *Ledger) Replay(ctx context.Context, m *store.Message, operator string) error {
	prev := m.Status
	m.Status, m.Error, m.UpdatedAt = store.Queued, "", l.now().UTC()
	return l.record(ctx, store.Event{Message: m, Audit: []store.AuditEntry{
		entry(m.ID, operator, Replayed, fmt.Sprintf("replayed from %s after %d attempts", prev, m.Attempts)),
		entry(m.ID, busActor, Queued, ""),
	}})
}

// Denial is an admin API call refused because the admin's role does not
// allow it.
type Denial struct {
	Admin  string // the authenticated admin's name
	Role   string // the admin's role
	Needs  string // the role the endpoint needs
	Method string
	Path   string // as requested, query excluded
}

// Denied records a refused admin call as a FORBIDDEN audit entry. It
// belongs to no message: the path may name one, but it comes from the
// client and need not exist.
func (l *Ledger) Denied(ctx context.Context, d Denial) error {
	detail := fmt.Sprintf("%s %s refused: role %s, needs %s", BoundName(d.Method, 16), BoundName(d.Path, MaxKey),
		BoundName(d.Role, MaxName), BoundName(d.Needs, MaxName))
	return l.record(context.WithoutCancel(ctx), store.Event{Audit: []store.AuditEntry{entry("", d.Admin, Forbidden, detail)}})
}
