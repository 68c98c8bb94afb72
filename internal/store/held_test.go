package store

import (
	"context"
	"testing"
	"time"
)

// A hold and a change are written with the message they belong to, read
// back as written, and a decided change loses its payload: it is the
// message's now, or not wanted.
func TestHeldRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		m := &Message{ID: "h1", Route: "payments.statement", Direction: Inbound, Status: Held, Payload: []byte(`{"a":1}`), CreatedAt: now}
		reasons := []HoldReason{{Field: "statements[0].entries[1].endToEndId", Reason: "no sent payment with end-to-end id X"},
			{Field: "statements[0].entries[2].endToEndId", Reason: "no sent payment with end-to-end id Y"}}
		record(t, s, Event{Message: m, Hold: &Hold{MessageID: "h1", Reasons: reasons, HeldAt: now},
			Audit: []AuditEntry{{Actor: "bus", Action: "HELD"}}})
		record(t, s, Event{Message: &Message{ID: "q1", Route: "payments.statement", Status: Queued, CreatedAt: now}})

		holds, err := s.Holds(ctx, []string{"h1", "q1", "nope"})
		if err != nil {
			t.Fatal(err)
		}
		if len(holds) != 1 || len(holds["h1"].Reasons) != 2 || holds["h1"].Reasons[1] != reasons[1] || !holds["h1"].HeldAt.Equal(now) {
			t.Fatalf("holds = %+v", holds)
		}
		c, err := s.Count(ctx, Filter{Route: "payments.statement"})
		if err != nil || c[Held] != 1 || c[Queued] != 1 || c[Discarded] != 0 {
			t.Fatalf("counts = %v, %v", c, err)
		}
		if _, ok := c[Discarded]; !ok {
			t.Error("counts lack DISCARDED: every status is present")
		}

		pending := HeldChange{ID: "c1", MessageID: "h1", Payload: []byte(`{"a":2}`), DigestBefore: "b", DigestAfter: "a",
			Proposer: "op1", Reason: "typo in end-to-end id", CreatedAt: now, State: ChangePending}
		record(t, s, Event{HeldChanges: []HeldChange{pending}})
		got, err := s.HeldChanges(ctx, "h1")
		if err != nil || len(got) != 1 {
			t.Fatalf("changes = %+v, %v", got, err)
		}
		if g := got[0]; string(g.Payload) != `{"a":2}` || g.State != ChangePending || g.Proposer != "op1" || g.Reason != pending.Reason ||
			!g.CreatedAt.Equal(now) || !g.DecidedAt.IsZero() || g.DigestBefore != "b" || g.DigestAfter != "a" {
			t.Fatalf("pending change read back as %+v", g)
		}

		decided := pending
		decided.State, decided.DecidedBy, decided.DecidedAt = ChangeApproved, "op2", now.Add(time.Minute)
		decided.Proposer = "someone else" // a decision never rewrites the proposal
		record(t, s, Event{Message: &Message{ID: "h1", Route: "payments.statement", Status: Queued, Payload: []byte(`{"a":2}`), CreatedAt: now},
			HeldChanges: []HeldChange{decided}})
		got, _ = s.HeldChanges(ctx, "h1")
		if g := got[0]; g.Payload != nil || g.State != ChangeApproved || g.DecidedBy != "op2" || !g.DecidedAt.Equal(now.Add(time.Minute)) || g.Proposer != "op1" {
			t.Fatalf("decided change read back as %+v", g)
		}
		if none, err := s.HeldChanges(ctx, "q1"); err != nil || none == nil || len(none) != 0 {
			t.Fatalf("changes of a message without any: %v, %v", none, err)
		}
	})
}

func TestHeldEventsAreValidated(t *testing.T) {
	s, _ := newStore(t, backends()[0])
	for name, ev := range map[string]Event{
		"hold without reasons": {Hold: &Hold{MessageID: "x"}},
		"change without id":    {HeldChanges: []HeldChange{{MessageID: "x", State: ChangePending, Proposer: "op", DigestAfter: "a"}}},
		"change without state": {HeldChanges: []HeldChange{{ID: "c", MessageID: "x", Proposer: "op", DigestAfter: "a"}}},
	} {
		if err := s.Record(context.Background(), ev); err == nil {
			t.Errorf("%s: recorded", name)
		}
	}
}
