package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/store"
)

// MaxHoldReasons bounds the reasons kept for one hold: a page of a
// statement holds at most a few thousand entries, and the rest are
// counted in the last reason.
const MaxHoldReasons = 5000

// HoldReasons readies a channel's reasons for the store: each field and
// text capped, their number bounded.
func HoldReasons(in []adapters.HoldReason) []store.HoldReason {
	n := min(len(in), MaxHoldReasons)
	out := make([]store.HoldReason, 0, n+1)
	for _, r := range in[:n] {
		out = append(out, store.HoldReason{Field: BoundName(r.Field, MaxKey), Reason: Bound(r.Reason, MaxError)})
	}
	if len(in) > n {
		out = append(out, store.HoldReason{Reason: fmt.Sprintf("and %d more reasons", len(in)-n)})
	}
	return out
}

// ReasonsText is the reasons as one audit detail ("field: reason; …").
func ReasonsText(rs []store.HoldReason) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		if r.Field == "" {
			parts[i] = r.Reason
		} else {
			parts[i] = r.Field + ": " + r.Reason
		}
	}
	return strings.Join(parts, "; ")
}

func changeDetail(c store.HeldChange, what string) string {
	d := fmt.Sprintf("change %s %s: payload sha256 %s -> %s", c.ID, what, c.DigestBefore, c.DigestAfter)
	if c.Reason != "" {
		d += "; reason: " + c.Reason
	}
	return d
}

// HeldChangeProposed records an operator's change to a held message that
// waits for a second operator's approval.
func (l *Ledger) HeldChangeProposed(ctx context.Context, c store.HeldChange) error {
	c.Proposer, c.Reason, c.State = BoundName(c.Proposer, MaxName), Bound(c.Reason, MaxError), store.ChangePending
	return l.record(ctx, store.Event{HeldChanges: []store.HeldChange{c},
		Audit: []store.AuditEntry{entry(c.MessageID, c.Proposer, ChangeProposed, changeDetail(c, "proposed, waiting for a second operator"))}})
}

// HeldChangeDeclined records that operator declined a pending change; the
// message stays held.
func (l *Ledger) HeldChangeDeclined(ctx context.Context, c store.HeldChange, operator, reason string) error {
	c.State, c.DecidedBy, c.DecidedAt = store.ChangeDeclined, BoundName(operator, MaxName), l.now().UTC()
	detail := fmt.Sprintf("change %s proposed by %s declined", c.ID, c.Proposer)
	if reason != "" {
		detail += "; reason: " + reason
	}
	return l.record(ctx, store.Event{HeldChanges: []store.HeldChange{c},
		Audit: []store.AuditEntry{entry(c.MessageID, c.DecidedBy, ChangeDeclined, detail)}})
}

// HeldReleased puts a held message back on its way as QUEUED, naming the
// operator. With a change, the message's payload becomes the change's
// (m.Payload must already be it) and the change is recorded as applied:
// approved by operator when it was pending, or the operator's own edit
// on a route without four eyes. reason is the operator's.
func (l *Ledger) HeldReleased(ctx context.Context, m *store.Message, c *store.HeldChange, operator, reason string) error {
	operator = BoundName(operator, MaxName)
	now := l.now().UTC()
	ev := store.Event{Message: m}
	if c != nil {
		applied := *c
		applied.Reason = Bound(applied.Reason, MaxError)
		if applied.State == store.ChangePending {
			ev.Audit = append(ev.Audit, entry(m.ID, operator, ChangeApproved, changeDetail(applied, "proposed by "+applied.Proposer+" approved")))
		} else {
			applied.Proposer = operator
			ev.Audit = append(ev.Audit, entry(m.ID, operator, Edited, changeDetail(applied, "applied")))
		}
		applied.State, applied.DecidedBy, applied.DecidedAt = store.ChangeApproved, operator, now
		ev.HeldChanges = []store.HeldChange{applied}
		m.RequestBody = l.policy(m.Route).JSON(m.Payload)
	}
	detail := "resubmitted from HELD"
	if c == nil {
		detail += " as it was"
	} else {
		detail += " with change " + c.ID
	}
	if reason != "" {
		detail += "; reason: " + reason
	}
	m.Status, m.Error, m.UpdatedAt = store.Queued, "", now
	ev.Audit = append(ev.Audit, entry(m.ID, operator, Resubmitted, detail), entry(m.ID, busActor, Queued, ""))
	return l.record(ctx, ev)
}

// HeldDiscarded ends a held message as DISCARDED with the operator's
// reason, its payload dropped and its pending changes declined.
func (l *Ledger) HeldDiscarded(ctx context.Context, m *store.Message, pending []store.HeldChange, operator, reason string) error {
	operator = BoundName(operator, MaxName)
	now := l.now().UTC()
	m.Status, m.Error, m.Payload, m.UpdatedAt = store.Discarded, Bound(reason, MaxError), nil, now
	ev := store.Event{Message: m, Audit: []store.AuditEntry{entry(m.ID, operator, Discarded, reason)}}
	for _, c := range pending {
		c.State, c.DecidedBy, c.DecidedAt = store.ChangeDeclined, operator, now
		ev.HeldChanges = append(ev.HeldChanges, c)
		ev.Audit = append(ev.Audit, entry(m.ID, operator, ChangeDeclined, fmt.Sprintf("change %s proposed by %s declined: the message was discarded", c.ID, c.Proposer)))
	}
	return l.record(ctx, ev)
}

// HeldPayloadRead records that operator read a held message's payload as
// received, unmasked, to edit it.
func (l *Ledger) HeldPayloadRead(ctx context.Context, id, operator string) error {
	return l.record(ctx, store.Event{Audit: []store.AuditEntry{entry(id, operator, PayloadRead, "held payload read unmasked to edit it")}})
}
