package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var ctx = context.Background()

func TestRecordUpsertTransitions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, dsn := newStore(t, b)
		created := time.Date(2025, 3, 1, 10, 0, 0, 123456789, time.FixedZone("ALMT", 5*3600))
		m := Message{
			ID: "m1", Route: "egov.person", Direction: Outbound, Caller: "tax", CorrelationID: "c-1",
			IdempotencyKey: "k-1", Status: Received, RequestBody: json.RawMessage(`{"iin":"***"}`),
			Payload: []byte(`{"iin":"880101300123"}`), CreatedAt: created,
		}
		record(t, s, Event{Message: &m, Audit: []AuditEntry{{Actor: "tax", Action: "RECEIVED"}}})

		got, err := s.Get(ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != Received || got.Route != "egov.person" || got.Direction != Outbound || got.Caller != "tax" ||
			got.CorrelationID != "c-1" || got.IdempotencyKey != "k-1" || got.Attempts != 0 {
			t.Fatalf("after RECEIVED: %+v", got)
		}
		if string(got.RequestBody) != `{"iin":"***"}` || string(got.Payload) != `{"iin":"880101300123"}` {
			t.Fatalf("bodies: req=%s payload=%s", got.RequestBody, got.Payload)
		}
		if want := created.UTC().Truncate(time.Microsecond); !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
			t.Fatalf("CreatedAt = %v, want %v in UTC", got.CreatedAt, want)
		}
		if got.UpdatedAt.IsZero() {
			t.Fatal("UpdatedAt not set")
		}

		// QUEUED after a failed attempt: N assigned, count maintained, payload kept.
		m.Status, m.HTTPStatus, m.Error = Queued, 202, "timeout"
		record(t, s, Event{Message: &m, Attempts: []Attempt{{Endpoint: "https://a", Error: "timeout", LatencyMS: 30000.5}}})
		got, _ = s.Get(ctx, "m1")
		if got.Status != Queued || got.Attempts != 1 || got.HTTPStatus != 202 || got.Error != "timeout" || got.Payload == nil {
			t.Fatalf("after QUEUED: %+v", got)
		}
		if !got.CreatedAt.Equal(created.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("CreatedAt changed on update: %v", got.CreatedAt)
		}

		// DELIVERED: payload dropped even though the caller still sends it.
		m.Status, m.HTTPStatus, m.Error = Delivered, 200, ""
		m.ResponseBody = json.RawMessage(`{"ok":true}`)
		m.Attempts = 99 // ignored: the store counts
		record(t, s, Event{Message: &m, Attempts: []Attempt{{Endpoint: "https://a", HTTPStatus: 200, RequestBody: []byte("<x/>")}},
			Audit: []AuditEntry{{Actor: "bus", Action: "DELIVERED"}}})
		got, _ = s.Get(ctx, "m1")
		if got.Status != Delivered || got.Attempts != 2 || got.Error != "" || string(got.ResponseBody) != `{"ok":true}` {
			t.Fatalf("after DELIVERED: %+v", got)
		}
		if got.Payload != nil {
			t.Fatalf("payload kept after DELIVERED: %q", got.Payload)
		}
		if m.Payload == nil || m.Attempts != 99 {
			t.Fatal("Record modified the caller's message")
		}
		raw, _ := rawDB(t, dsn)
		var nulls int
		if err := raw.Get(&nulls, "SELECT COUNT(*) FROM messages WHERE id = 'm1' AND payload IS NULL"); err != nil || nulls != 1 {
			t.Fatalf("payload column not NULL in the database: %d %v", nulls, err)
		}

		atts, err := s.Attempts(ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != 2 || atts[0].N != 1 || atts[1].N != 2 || atts[0].Error != "timeout" || atts[0].LatencyMS != 30000.5 ||
			atts[1].HTTPStatus != 200 || string(atts[1].RequestBody) != "<x/>" || atts[1].MessageID != "m1" || atts[0].StartedAt.IsZero() {
			t.Fatalf("attempts: %+v", atts)
		}

		// A message inserted already DELIVERED never stores its payload.
		d := Message{ID: "m2", Route: "r", Status: Delivered, Payload: []byte("secret")}
		record(t, s, Event{Message: &d})
		if got, _ := s.Get(ctx, "m2"); got.Payload != nil {
			t.Fatalf("payload stored for a message inserted as DELIVERED: %q", got.Payload)
		}

		if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get unknown: %v", err)
		}
		if atts, err := s.Attempts(ctx, "nope"); err != nil || len(atts) != 0 {
			t.Fatalf("Attempts unknown: %v %v", atts, err)
		}
	})
}

func TestAttemptNumbering(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		m := Message{ID: "a", Status: Queued}
		record(t, s, Event{Message: &m, Attempts: []Attempt{{Endpoint: "e1"}, {Endpoint: "e2"}}})
		record(t, s, Event{Message: &m, Attempts: []Attempt{{Endpoint: "e3"}}})
		record(t, s, Event{Message: &m})
		atts, _ := s.Attempts(ctx, "a")
		var ns []int
		var eps []string
		for _, a := range atts {
			ns, eps = append(ns, a.N), append(eps, a.Endpoint)
		}
		if !slices.Equal(ns, []int{1, 2, 3}) || !slices.Equal(eps, []string{"e1", "e2", "e3"}) {
			t.Fatalf("numbers %v endpoints %v", ns, eps)
		}
		if got, _ := s.Get(ctx, "a"); got.Attempts != 3 {
			t.Fatalf("Attempts = %d, want 3", got.Attempts)
		}
		// A number already taken fails that event and changes nothing.
		if err := s.Record(ctx, Event{Message: &m, Attempts: []Attempt{{N: 2, Endpoint: "dup"}}}); err == nil {
			t.Fatal("duplicate attempt number accepted")
		}
		if got, _ := s.Get(ctx, "a"); got.Attempts != 3 {
			t.Fatalf("failed event changed the count: %d", got.Attempts)
		}
	})
}

func TestRecordValidation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		bad := []Event{
			{Message: &Message{Status: Received}},
			{Message: &Message{ID: "x"}},
			{Attempts: []Attempt{{MessageID: "x"}}},
			{Message: &Message{ID: "x", Status: Queued}, Attempts: []Attempt{{MessageID: "y"}}},
			{Audit: []AuditEntry{{Actor: "op"}}},
		}
		for i, ev := range bad {
			if err := s.Record(ctx, ev); err == nil {
				t.Errorf("event %d accepted", i)
			}
		}
		if _, err := s.Get(ctx, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("invalid event was written: %v", err)
		}
		// An audit-only event (operator action) is fine.
		record(t, s, Event{Audit: []AuditEntry{{Actor: "op", Action: "LOGIN"}}})
		if res := mustVerify(t, s); !res.OK || res.Records != 1 {
			t.Fatalf("verify: %+v", res)
		}
	})
}

func TestIdempotencyAndExternalID(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		record(t, s, Event{Message: &Message{ID: "m1", Caller: "tax", IdempotencyKey: "k", Status: Received}})
		record(t, s, Event{Message: &Message{ID: "m2", Caller: "tax", Status: Received}})
		record(t, s, Event{Message: &Message{ID: "m3", Caller: "tax", Status: Received}}) // two empty keys are fine
		record(t, s, Event{Message: &Message{ID: "m4", Caller: "customs", IdempotencyKey: "k", Status: Received}})

		got, err := s.FindByIdempotencyKey(ctx, "tax", "k")
		if err != nil || got.ID != "m1" {
			t.Fatalf("tax/k: %v %v", got, err)
		}
		if got, err := s.FindByIdempotencyKey(ctx, "customs", "k"); err != nil || got.ID != "m4" {
			t.Fatalf("customs/k: %v %v", got, err)
		}
		for _, k := range [][2]string{{"tax", "other"}, {"bank", "k"}, {"tax", ""}} {
			if _, err := s.FindByIdempotencyKey(ctx, k[0], k[1]); !errors.Is(err, ErrNotFound) {
				t.Errorf("%v: %v", k, err)
			}
		}
		// Updating the holder of the key is fine; a second message with it is not.
		record(t, s, Event{Message: &Message{ID: "m1", Caller: "tax", IdempotencyKey: "k", Status: Delivered}})
		err = s.Record(ctx, Event{Message: &Message{ID: "m5", Caller: "tax", IdempotencyKey: "k", Status: Received}})
		if !errors.Is(err, ErrDuplicateKey) {
			t.Fatalf("duplicate key: %v", err)
		}
		if _, err := s.Get(ctx, "m5"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("m5 written: %v", err)
		}

		t0 := time.Now().Add(-time.Hour)
		record(t, s, Event{Message: &Message{ID: "in1", Route: "shep.in", Direction: Inbound, ExternalID: "X", Status: Received, CreatedAt: t0}})
		record(t, s, Event{Message: &Message{ID: "in2", Route: "shep.in", Direction: Inbound, ExternalID: "X", Status: Received, CreatedAt: t0.Add(time.Minute)}})
		record(t, s, Event{Message: &Message{ID: "in3", Route: "other", Direction: Inbound, ExternalID: "Y", Status: Received}})
		if got, err := s.FindByExternalID(ctx, "shep.in", "X"); err != nil || got.ID != "in2" {
			t.Fatalf("external X: %v %v (want newest, in2)", got, err)
		}
		if _, err := s.FindByExternalID(ctx, "shep.in", "Y"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("external Y on wrong route: %v", err)
		}
		if _, err := s.FindByExternalID(ctx, "shep.in", ""); !errors.Is(err, ErrNotFound) {
			t.Fatalf("empty external id: %v", err)
		}
	})
}

// plugWriter blocks the writer goroutine inside a batch (by holding the
// database's write lock from outside) until the returned release is
// called, so that events queued meanwhile are written as one batch.
func plugWriter(t *testing.T, s *SQLStore, dsn string) (release func() error) {
	t.Helper()
	raw, d := rawDB(t, dsn)
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.isPostgres() {
		_, err = conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(auditLockKey))
	} else {
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	}
	if err != nil {
		t.Fatal(err)
	}
	plug := make(chan error, 1)
	go func() { plug <- s.Record(ctx, Event{Audit: []AuditEntry{{Actor: "test", Action: "PLUG"}}}) }()
	// Wait until the writer has taken the plug off the queue (and is stuck on the lock).
	waitFor(t, func() bool { return len(s.reqs) == 0 })
	time.Sleep(50 * time.Millisecond)
	return func() error {
		if d.isPostgres() {
			_, err = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", int64(auditLockKey))
		} else {
			_, err = conn.ExecContext(ctx, "ROLLBACK")
		}
		if err != nil {
			return err
		}
		conn.Close()
		return <-plug
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}

// A message's later events may rename it (an adapter learns the agency's
// message id at delivery, say): the update leaves the naming columns out
// of its SET so that SQLite does not rewrite their indexes, and sets them
// apart only when an event changes them. Two renames of one message in one
// batch keep their order; a rename onto a key another message holds is
// refused as a new message taking it would be.
func TestLaterEventsRenameTheMessage(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, dsn := newStore(t, b)
		m := Message{ID: "m1", Route: "r", Direction: Outbound, Caller: "c", CorrelationID: "c1", Status: Queued}
		record(t, s, Event{Message: &m, Audit: []AuditEntry{{Actor: "c", Action: "QUEUED"}}})

		m.Status, m.ExternalID, m.CorrelationID, m.IdempotencyKey = Delivered, "X1", "c2", "k1"
		record(t, s, Event{Message: &m, Audit: []AuditEntry{{Actor: "bus", Action: "DELIVERED"}}})
		got, err := s.Get(ctx, "m1")
		if err != nil || got.Status != Delivered || got.ExternalID != "X1" || got.CorrelationID != "c2" || got.IdempotencyKey != "k1" {
			t.Fatalf("after the rename: %+v %v", got, err)
		}
		if f, err := s.FindByExternalID(ctx, "r", "X1"); err != nil || f.ID != "m1" {
			t.Fatalf("by the new external id: %v %v", f, err)
		}
		if f, err := s.FindByIdempotencyKey(ctx, "c", "k1"); err != nil || f.ID != "m1" {
			t.Fatalf("by the new key: %v %v", f, err)
		}

		// Two renames of m1 and a new message, queued in order into one batch.
		release := plugWriter(t, s, dsn)
		errs := make(chan error, 3)
		for i, ev := range []*Message{
			{ID: "m1", Route: "r", Direction: Outbound, Caller: "c", CorrelationID: "c2", IdempotencyKey: "k1", ExternalID: "X2", Status: Delivered},
			{ID: "m1", Route: "r2", Direction: Inbound, Caller: "c", CorrelationID: "c3", IdempotencyKey: "k1", ExternalID: "X3", Status: Delivered},
			{ID: "m2", Route: "r", Direction: Outbound, Caller: "c", IdempotencyKey: "k2", Status: Received},
		} {
			go func() { errs <- s.Record(ctx, Event{Message: ev}) }()
			waitFor(t, func() bool { return len(s.reqs) == i+1 })
		}
		batches := s.batches.Load()
		if err := release(); err != nil {
			t.Fatalf("plug: %v", err)
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if got := s.batches.Load() - batches; got != 1 {
			t.Fatalf("the events took %d batches, want 1", got)
		}
		got, _ = s.Get(ctx, "m1")
		if got.Route != "r2" || got.Direction != Inbound || got.CorrelationID != "c3" || got.ExternalID != "X3" {
			t.Fatalf("after two renames in one batch: %+v", got)
		}
		if _, err := s.FindByExternalID(ctx, "r", "X2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the first rename's external id still finds a message: %v", err)
		}
		if f, err := s.FindByExternalID(ctx, "r2", "X3"); err != nil || f.ID != "m1" {
			t.Fatalf("by the last external id: %v %v", f, err)
		}

		// m2 holds k2: m1 may not take it.
		got.IdempotencyKey = "k2"
		if err := s.Record(ctx, Event{Message: got}); !errors.Is(err, ErrDuplicateKey) {
			t.Fatalf("renamed onto a held key: %v, want ErrDuplicateKey", err)
		}
		if got, _ := s.Get(ctx, "m1"); got.IdempotencyKey != "k1" {
			t.Fatalf("the refused rename was written: %+v", got)
		}
		mustVerify(t, s)
	})
}

// TestTakenKeyIsRefusedAloneWithoutFailingTheBatch queues, while the
// writer is held, good events among two that take a key already held: one
// by a stored message, one by an event earlier in the same batch. Those
// two fail with ErrDuplicateKey; the rest commit together, not one by one
// (a caller repeating keys must not cost the writer a commit per event).
func TestTakenKeyIsRefusedAloneWithoutFailingTheBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, dsn := newStore(t, b)
		record(t, s, Event{Message: &Message{ID: "first", Caller: "c", IdempotencyKey: "k", Status: Received}})
		// The holder's own later events keep its key.
		record(t, s, Event{Message: &Message{ID: "first", Caller: "c", IdempotencyKey: "k", Status: Delivered}})

		release := plugWriter(t, s, dsn)
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			m := &Message{ID: fmt.Sprintf("m%02d", i), Caller: "c", Status: Received}
			switch i {
			case 7:
				m.IdempotencyKey = "k"
			case 8, 9:
				m.IdempotencyKey = "k2"
			case 10:
				m.Caller, m.IdempotencyKey = "other", "k" // another caller's key of the same name
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.Record(ctx, Event{Message: m, Audit: []AuditEntry{{Actor: "c", Action: "RECEIVED"}}})
			}()
			waitFor(t, func() bool { return len(s.reqs) == i+1 }) // queued in order: 8 before 9
		}
		batches, retried := s.batches.Load(), s.retried.Load()
		if err := release(); err != nil {
			t.Fatalf("plug: %v", err)
		}
		wg.Wait()
		if got := s.batches.Load() - batches; got != 1 {
			t.Fatalf("queued events took %d batches, want 1", got)
		}
		if got := s.retried.Load() - retried; got != 0 {
			t.Fatalf("%d batches retried one by one, want none", got)
		}
		for i, err := range errs {
			if i == 7 || i == 9 {
				if !errors.Is(err, ErrDuplicateKey) {
					t.Errorf("event %d: %v, want ErrDuplicateKey", i, err)
				}
				if _, gerr := s.Get(ctx, fmt.Sprintf("m%02d", i)); !errors.Is(gerr, ErrNotFound) {
					t.Errorf("event %d was written: %v", i, gerr)
				}
			} else if err != nil {
				t.Errorf("event %d failed with its batch: %v", i, err)
			}
		}
		if got, err := s.FindByIdempotencyKey(ctx, "c", "k2"); err != nil || got.ID != "m08" {
			t.Errorf("k2 is held by %+v %v, want m08", got, err)
		}
		c, _ := s.Count(ctx, Filter{})
		if c[Received] != n-2 {
			t.Fatalf("received = %d, want %d", c[Received], n-2)
		}
		if res := mustVerify(t, s); !res.OK || res.Records != n-1 { // the plug's record and 18 good ones
			t.Fatalf("verify: %+v", res)
		}
	})
}

// TestKeyTakenDuringTheBatchFailsOnlyItsEvent: another process stores a
// message with the key while the writer's insert of it waits. The unique
// index refuses the insert, and the batch is written again without it.
func TestKeyTakenDuringTheBatchFailsOnlyItsEvent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		if b.name != "postgres" {
			t.Skip("SQLite has one writing process: no other can take a key between the lookup and the insert")
		}
		s, dsn := newStore(t, b)
		raw, _ := rawDB(t, dsn)
		other, err := raw.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Rollback() //nolint:errcheck // no-op after commit
		// Not yet committed: the writer's lookup cannot see it, and its insert waits for it.
		if _, err := other.ExecContext(ctx, `INSERT INTO messages (id, route, direction, caller, correlation_id, idempotency_key, external_id, status,
			http_status, error, attempts, created_at, updated_at) VALUES ('elsewhere', 'r', 'OUT', 'c', '', 'k', '', 'RECEIVED', 0, '', 0, now(), now())`); err != nil {
			t.Fatal(err)
		}
		release := plugWriter(t, s, dsn)
		errs := make(chan error, 3)
		for i := range 3 {
			m := &Message{ID: fmt.Sprintf("m%d", i), Caller: "c", Status: Received}
			if i == 1 {
				m.IdempotencyKey = "k"
			}
			go func() {
				errs <- s.Record(ctx, Event{Message: m, Audit: []AuditEntry{{Actor: "c", Action: "RECEIVED"}}})
			}()
		}
		waitFor(t, func() bool { return len(s.reqs) == 3 })
		retried := s.retried.Load()
		go func() { _ = release() }()
		waitFor(t, func() bool { // the writer's insert waits on the other's row
			var n int
			_ = raw.GetContext(ctx, &n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)
			return n == 1
		})
		if err := other.Commit(); err != nil {
			t.Fatal(err)
		}
		var dup, ok int
		for range 3 {
			if err := <-errs; errors.Is(err, ErrDuplicateKey) {
				dup++
			} else if err == nil {
				ok++
			} else {
				t.Errorf("record: %v", err)
			}
		}
		if dup != 1 || ok != 2 || s.retried.Load()-retried != 0 {
			t.Fatalf("%d refused, %d written, %d batches retried one by one; want 1, 2, 0", dup, ok, s.retried.Load()-retried)
		}
		if res := mustVerify(t, s); !res.OK {
			t.Fatalf("verify: %+v", res)
		}
	})
}

// TestSameMessageTwiceInBatch queues several events for one message into
// a single batch: they must apply in order, in one transaction.
func TestSameMessageTwiceInBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, dsn := newStore(t, b)
		release := plugWriter(t, s, dsn)
		m := Message{ID: "m", Status: Queued, Payload: []byte("p")}
		var evs []Event
		for i, st := range []Status{Queued, Queued, Delivered} {
			mi := m
			mi.Status = st
			evs = append(evs, Event{Message: &mi, Attempts: []Attempt{{Endpoint: fmt.Sprint("e", i+1)}},
				Audit: []AuditEntry{{Actor: "bus", Action: string(st)}}})
			evs = append(evs, Event{Message: &Message{ID: fmt.Sprint("other", i), Status: Received}})
		}
		errs := make(chan error, len(evs))
		for i, ev := range evs { // one at a time, so the queue order is known
			go func() { errs <- s.Record(ctx, ev) }()
			waitFor(t, func() bool { return len(s.reqs) == i+1 })
		}
		batches, retried := s.batches.Load(), s.retried.Load()
		if err := release(); err != nil {
			t.Fatalf("plug: %v", err)
		}
		for range evs {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if b, r := s.batches.Load()-batches, s.retried.Load()-retried; b != 1 || r != 0 {
			t.Fatalf("%d batches, %d retried; want 1 batch, no retry", b, r)
		}
		got, _ := s.Get(ctx, "m")
		if got.Status != Delivered || got.Attempts != 3 || got.Payload != nil {
			t.Fatalf("message: %+v", got)
		}
		atts, _ := s.Attempts(ctx, "m")
		if len(atts) != 3 || atts[0].Endpoint != "e1" || atts[1].Endpoint != "e2" || atts[2].Endpoint != "e3" || atts[2].N != 3 {
			t.Fatalf("attempts: %+v", atts)
		}
		recs, _ := s.Audit(ctx, "m")
		if len(recs) != 3 || recs[0].Action != "QUEUED" || recs[2].Action != "DELIVERED" {
			t.Fatalf("audit: %+v", recs)
		}
		if res := mustVerify(t, s); !res.OK || res.Records != 4 {
			t.Fatalf("verify: %+v", res)
		}
	})
}

func TestListAndCount(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		statuses := []Status{Received, Queued, Delivered, Dead}
		var all []string // ids, oldest first (by created_at, then id)
		var wg sync.WaitGroup
		for i := range 40 {
			id := fmt.Sprintf("msg-%03d", i)
			all = append(all, id)
			m := &Message{
				ID: id, Route: []string{"r1", "r2"}[i%2], Direction: []Direction{Outbound, Inbound}[i%3/2],
				Caller: "c", Status: statuses[i%4],
				// pairs share a created_at so the id tie-break is exercised
				CreatedAt: base.Add(time.Duration(i/2) * time.Second),
			}
			wg.Add(1)
			go func() { defer wg.Done(); record(t, s, Event{Message: m}) }()
		}
		wg.Wait()
		slices.Reverse(all) // newest first

		// Pages of 7 walk everything exactly once, newest first.
		var seen []string
		after := ""
		for range 10 {
			page, err := s.List(ctx, Filter{Limit: 7, AfterID: after})
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			for _, m := range page {
				seen = append(seen, m.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(seen, all) {
			t.Fatalf("paged order:\n got %v\nwant %v", seen, all)
		}

		// Filters.
		got, err := s.List(ctx, Filter{Status: Queued, Route: "r2"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range got {
			if m.Status != Queued || m.Route != "r2" {
				t.Fatalf("filter leaked %+v", m)
			}
			ids = append(ids, m.ID)
		}
		var want []string
		for i := 39; i >= 0; i-- {
			if i%4 == 1 && i%2 == 1 {
				want = append(want, fmt.Sprintf("msg-%03d", i))
			}
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("status+route: got %v want %v", ids, want)
		}
		got, _ = s.List(ctx, Filter{Since: base.Add(5 * time.Second), Before: base.Add(7 * time.Second)})
		ids = ids[:0]
		for _, m := range got {
			ids = append(ids, m.ID)
		}
		if !slices.Equal(ids, []string{"msg-013", "msg-012", "msg-011", "msg-010"}) {
			t.Fatalf("since/before: %v", ids)
		}
		got, _ = s.List(ctx, Filter{Direction: Inbound, Limit: 3})
		if len(got) != 3 {
			t.Fatalf("limit 3: %d rows", len(got))
		}
		for _, m := range got {
			if m.Direction != Inbound {
				t.Fatalf("direction filter leaked %+v", m)
			}
		}
		if _, err := s.List(ctx, Filter{AfterID: "nope"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("unknown AfterID: %v", err)
		}
		if got, _ := s.List(ctx, Filter{Caller: "nobody"}); got == nil || len(got) != 0 {
			t.Fatalf("no match should be an empty slice, got %#v", got)
		}

		c, err := s.Count(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if c[Received] != 10 || c[Queued] != 10 || c[Delivered] != 10 || c[Dead] != 10 || c[Failed] != 0 || len(c) != len(Statuses) {
			t.Fatalf("counts: %v", c)
		}
		c, _ = s.Count(ctx, Filter{Route: "r1"})
		if c[Received] != 10 || c[Delivered] != 10 || c[Queued] != 0 || c[Dead] != 0 {
			t.Fatalf("counts r1: %v", c)
		}
		c, _ = s.Count(ctx, Filter{Status: Dead})
		if len(c) != 1 || c[Dead] != 10 {
			t.Fatalf("counts dead: %v", c)
		}
	})
}

func TestListLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		const n = 1005
		var wg sync.WaitGroup
		sem := make(chan struct{}, 64)
		for i := range n {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				record(t, s, Event{Message: &Message{ID: fmt.Sprintf("m%05d", i), Status: Received}})
			}()
		}
		wg.Wait()
		if got, _ := s.List(ctx, Filter{}); len(got) != defaultLimit {
			t.Fatalf("default limit: %d rows", len(got))
		}
		if got, _ := s.List(ctx, Filter{Limit: 5000}); len(got) != maxLimit {
			t.Fatalf("max limit: %d rows", len(got))
		}
	})
}

func TestConcurrentRecord(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		const workers, per = 64, 15
		var wg sync.WaitGroup
		errs := make(chan error, workers*per)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					id := fmt.Sprintf("w%02d-%02d", w, i)
					m := &Message{ID: id, Caller: "c", IdempotencyKey: id, Status: Received}
					if err := s.Record(ctx, Event{Message: m, Audit: []AuditEntry{{Actor: "c", Action: "RECEIVED"}}}); err != nil {
						errs <- err
						return
					}
					m.Status = Delivered
					if err := s.Record(ctx, Event{Message: m, Attempts: []Attempt{{Endpoint: "e"}},
						Audit: []AuditEntry{{Actor: "bus", Action: "SENT"}, {Actor: "bus", Action: "DELIVERED", Detail: id}}}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		c, _ := s.Count(ctx, Filter{})
		if c[Delivered] != workers*per || c[Received] != 0 {
			t.Fatalf("counts: %v", c)
		}
		res := mustVerify(t, s)
		if !res.OK || res.Records != workers*per*3 {
			t.Fatalf("verify: %+v, want OK with %d records", res, workers*per*3)
		}
		// Each message's audit is in its own order with its id filled in.
		for _, id := range []string{"w00-00", "w63-14", "w31-07"} {
			recs, err := s.Audit(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			var acts []string
			for _, r := range recs {
				if r.MessageID != id || r.Hash != Chain(r) {
					t.Fatalf("%s: bad record %+v", id, r)
				}
				acts = append(acts, r.Action)
			}
			if !slices.Equal(acts, []string{"RECEIVED", "SENT", "DELIVERED"}) {
				t.Fatalf("%s: actions %v", id, acts)
			}
			m, _ := s.Get(ctx, id)
			if m.Attempts != 1 {
				t.Fatalf("%s: attempts %d", id, m.Attempts)
			}
		}
	})
}

// TestTwoStoresOneDatabase stands for two bus processes on one database:
// their chains must interleave into one, never fork.
func TestTwoStoresOneDatabase(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		s1 := openStore(t, dsn)
		s2 := openStore(t, dsn)
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := []*SQLStore{s1, s2}[w%2]
				for i := range 20 {
					record(t, s, Event{Message: &Message{ID: fmt.Sprintf("%d-%d", w, i), Status: Received},
						Audit: []AuditEntry{{Actor: "p", Action: "RECEIVED"}}})
				}
			}()
		}
		wg.Wait()
		res := mustVerify(t, s1)
		if !res.OK || res.Records != 16*20 {
			t.Fatalf("verify: %+v", res)
		}
	})
}

func TestAuditRecords(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		at := time.Date(2025, 5, 5, 5, 5, 5, 555555555, time.FixedZone("X", 3600))
		m := &Message{ID: "m", Status: Received}
		record(t, s, Event{Message: m, Audit: []AuditEntry{
			{Actor: "tax", Action: "RECEIVED", Detail: "from 10.0.0.1", At: at},
			{MessageID: "other", Actor: "bus", Action: "LINKED"},
		}})
		recs, err := s.Audit(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 {
			t.Fatalf("records for m: %+v", recs)
		}
		r := recs[0]
		if r.Seq != 1 || r.Actor != "tax" || r.Detail != "from 10.0.0.1" || r.PrevHash != GenesisHash ||
			!r.At.Equal(at.Truncate(time.Microsecond)) || r.Hash != Chain(r) {
			t.Fatalf("record: %+v", r)
		}
		other, _ := s.Audit(ctx, "other")
		if len(other) != 1 || other[0].Seq != 2 || other[0].PrevHash != r.Hash || other[0].At.IsZero() {
			t.Fatalf("explicit MessageID record: %+v", other)
		}
		if none, err := s.Audit(ctx, "none"); err != nil || len(none) != 0 {
			t.Fatalf("unknown id: %v %v", none, err)
		}
	})
}

func TestChain(t *testing.T) {
	r := AuditRecord{Seq: 1, At: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC), MessageID: "m", Actor: "ab", Action: "c",
		Detail: "d", PrevHash: GenesisHash}
	h := Chain(r)
	if len(h) != 64 {
		t.Fatalf("hash %q", h)
	}
	// The same record in another zone hashes alike (canonical time is UTC).
	r2 := r
	r2.At = r.At.In(time.FixedZone("ALMT", 5*3600))
	if Chain(r2) != h {
		t.Fatal("hash depends on the time zone")
	}
	// Moving a byte between fields must change the hash.
	r3 := r
	r3.Actor, r3.Action = "a", "bc"
	if Chain(r3) == h {
		t.Fatal("field boundaries are ambiguous")
	}
	for name, mut := range map[string]func(*AuditRecord){
		"seq": func(r *AuditRecord) { r.Seq++ }, "at": func(r *AuditRecord) { r.At = r.At.Add(time.Microsecond) },
		"message": func(r *AuditRecord) { r.MessageID += "x" }, "detail": func(r *AuditRecord) { r.Detail = "" },
		"prev": func(r *AuditRecord) { r.PrevHash = h },
	} {
		c := r
		mut(&c)
		if Chain(c) == h {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
}

// tamperStore writes n audit records and returns the store and a raw handle.
func tamperStore(t *testing.T, b backend, n int) (*SQLStore, string) {
	s, dsn := newStore(t, b)
	for i := range n {
		record(t, s, Event{Message: &Message{ID: fmt.Sprintf("m%d", i), Status: Received},
			Audit: []AuditEntry{{Actor: "c", Action: "RECEIVED", Detail: fmt.Sprintf("d%d", i)}}})
	}
	if res := mustVerify(t, s); !res.OK || res.Records != int64(n) {
		t.Fatalf("before tampering: %+v", res)
	}
	return s, dsn
}

func TestVerifyAuditTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  func(t *testing.T, raw execer, d dialect)
		problem string
		bad     int64
	}{
		{"altered detail", func(t *testing.T, raw execer, d dialect) {
			mustExec(t, raw, d, "UPDATE audit SET detail = 'forged' WHERE seq = 5")
		}, ProblemAltered, 5},
		{"altered time", func(t *testing.T, raw execer, d dialect) {
			mustExec(t, raw, d, "UPDATE audit SET at = (SELECT at FROM audit WHERE seq = 1) WHERE seq = 3")
		}, ProblemAltered, 3},
		{"altered and rehashed", func(t *testing.T, raw execer, d dialect) {
			// The forger recomputes record 5's own hash: the link from 6 breaks.
			var r AuditRecord
			var at dbTime
			row := raw.QueryRow("SELECT seq, at, message_id, actor, action, detail, prev_hash FROM audit WHERE seq = 5")
			if err := row.Scan(&r.Seq, &at, &r.MessageID, &r.Actor, &r.Action, &r.Detail, &r.PrevHash); err != nil {
				t.Fatal(err)
			}
			r.At, r.Detail = at.Time, "forged"
			mustExec(t, raw, d, "UPDATE audit SET detail = ?, hash = ? WHERE seq = 5", r.Detail, Chain(r))
		}, ProblemAltered, 6},
		{"deleted middle", func(t *testing.T, raw execer, d dialect) {
			mustExec(t, raw, d, "DELETE FROM audit WHERE seq = 5")
		}, ProblemDeleted, 5},
		{"deleted first", func(t *testing.T, raw execer, d dialect) {
			mustExec(t, raw, d, "DELETE FROM audit WHERE seq = 1")
		}, ProblemDeleted, 1},
		{"deleted last", func(t *testing.T, raw execer, d dialect) {
			mustExec(t, raw, d, "DELETE FROM audit WHERE seq = 10")
		}, ProblemDeleted, 10},
		{"deleted tail", func(t *testing.T, raw execer, d dialect) {
			mustExec(t, raw, d, "DELETE FROM audit WHERE seq >= 8")
		}, ProblemDeleted, 8},
		{"deleted everything", func(t *testing.T, raw execer, d dialect) {
			mustExec(t, raw, d, "DELETE FROM audit")
		}, ProblemDeleted, 1},
	}
	eachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				s, dsn := tamperStore(t, b, 10)
				raw, d := rawDB(t, dsn)
				tc.tamper(t, raw, d)
				res := mustVerify(t, s)
				if res.OK || res.Problem != tc.problem || res.FirstBad != tc.bad {
					t.Fatalf("got %+v, want %s at %d", res, tc.problem, tc.bad)
				}
			})
		}
	})
}

type execer interface {
	Exec(query string, args ...any) (sqlResult, error)
	QueryRow(query string, args ...any) *sqlRow
}

func mustExec(t *testing.T, raw execer, d dialect, q string, args ...any) {
	t.Helper()
	res, err := raw.Exec(d.rebind(q), args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		t.Fatalf("%s: no rows affected", q)
	}
}

func TestReopenContinuesChain(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		m := &Message{ID: "m", Status: Queued, Payload: []byte("p")}
		for range 3 {
			record(t, s, Event{Message: m, Attempts: []Attempt{{Endpoint: "e"}}, Audit: []AuditEntry{{Actor: "bus", Action: "RETRY"}}})
		}
		head := mustVerify(t, s).HeadHash
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := s.Record(ctx, Event{Message: m}); !errors.Is(err, ErrClosed) {
			t.Fatalf("Record after Close: %v", err)
		}

		s = openStore(t, dsn) // migrations already applied: must be a no-op
		m.Status = Delivered
		record(t, s, Event{Message: m, Attempts: []Attempt{{Endpoint: "e", HTTPStatus: 200}}, Audit: []AuditEntry{{Actor: "bus", Action: "DELIVERED"}}})
		recs, _ := s.Audit(ctx, "m")
		if len(recs) != 4 || recs[3].Seq != 4 || recs[3].PrevHash != head {
			t.Fatalf("chain after reopen: %+v", recs)
		}
		if res := mustVerify(t, s); !res.OK || res.Records != 4 || res.HeadHash != recs[3].Hash {
			t.Fatalf("verify after reopen: %+v", res)
		}
		atts, _ := s.Attempts(ctx, "m")
		if len(atts) != 4 || atts[3].N != 4 || atts[3].HTTPStatus != 200 {
			t.Fatalf("attempts after reopen: %+v", atts)
		}
		got, _ := s.Get(ctx, "m")
		if got.Attempts != 4 || got.Payload != nil || !bytes.Equal(m.Payload, []byte("p")) {
			t.Fatalf("message after reopen: %+v", got)
		}
		raw, d := rawDB(t, dsn)
		ms, err := loadMigrations(d)
		if err != nil {
			t.Fatal(err)
		}
		var versions int
		if err := raw.Get(&versions, d.rebind("SELECT COUNT(*) FROM schema_migrations")); err != nil || versions != len(ms) {
			t.Fatalf("schema_migrations: %d %v, want %d", versions, err, len(ms))
		}
	})
}

// A database made by an earlier release, at migration 1 and holding
// messages, gets the later migrations when the store opens it.
func TestMigrateFromFirstVersion(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		dsn := b.fresh(t)
		if !strings.HasPrefix(dsn, "postgres") {
			// The raw handle opens the file; the store makes its folder.
			if err := os.MkdirAll(filepath.Dir(strings.TrimPrefix(dsn, "sqlite://")), 0o750); err != nil {
				t.Fatal(err)
			}
		}
		raw, d := rawDB(t, dsn)
		ms, err := loadMigrations(d)
		if err != nil {
			t.Fatal(err)
		}
		tsType := "TEXT"
		if d.isPostgres() {
			tsType = "TIMESTAMPTZ"
		}
		now := d.ts(time.Now())
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at " + tsType + " NOT NULL)", nil},
			{ms[0].sql, nil},
			{"INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", []any{ms[0].version, ms[0].name, now}},
			{"INSERT INTO messages (id, status, created_at, updated_at) VALUES ('old', 'QUEUED', ?, ?)", []any{now, now}},
		} {
			if _, err := raw.Exec(d.rebind(q.sql), q.args...); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}

		s := openStore(t, dsn)
		var versions int
		if err := raw.Get(&versions, d.rebind("SELECT COUNT(*) FROM schema_migrations")); err != nil || versions != len(ms) {
			t.Fatalf("schema_migrations after upgrade: %d %v, want %d", versions, err, len(ms))
		}
		page, err := s.List(ctx, Filter{Status: Queued})
		if err != nil || len(page) != 1 || page[0].ID != "old" {
			t.Fatalf("message from before the upgrade: %v %v", page, err)
		}
	})
}

// The fingerprint of the request that took a key reads back with the key,
// and a later update of the message (delivery, replay) does not change it.
func TestFingerprintStaysWithTheKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		record(t, s, Event{Message: &Message{ID: "m1", Caller: "tax", IdempotencyKey: "k", RequestFingerprint: "f1", Status: Queued}})
		record(t, s, Event{Message: &Message{ID: "m1", Caller: "tax", IdempotencyKey: "k", Status: Delivered}})
		got, err := s.FindByIdempotencyKey(ctx, "tax", "k")
		if err != nil || got.RequestFingerprint != "f1" || got.Status != Delivered {
			t.Fatalf("after update: %+v %v", got, err)
		}
	})
}

func TestEmptyChainVerifies(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		res := mustVerify(t, s)
		if !res.OK || res.Records != 0 || res.HeadHash != GenesisHash {
			t.Fatalf("empty: %+v", res)
		}
	})
}

func TestRecordContextCancelled(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, _ := newStore(t, b)
		c, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.Record(c, Event{Message: &Message{ID: "x", Status: Received}}); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Record: %v", err)
		}
	})
}

func TestOpenSQLitePaths(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{dir + "/plain.db", "sqlite://" + dir + "/nested/dir/url.db"} {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatalf("%s: %v", dsn, err)
		}
		record(t, s, Event{Message: &Message{ID: "x", Status: Received}})
		var mode, sync string
		if err := s.wdb.Get(&mode, "PRAGMA journal_mode"); err != nil || mode != "wal" {
			t.Errorf("%s: journal_mode %q %v", dsn, mode, err)
		}
		if err := s.wdb.Get(&sync, "PRAGMA synchronous"); err != nil || sync != "1" {
			t.Errorf("%s: synchronous %q %v (want 1 = NORMAL)", dsn, sync, err)
		}
		// A batch's multi-row upsert keeps a statement journal; on disk it
		// was more of the writer's pwrites than the WAL itself.
		var temp string
		if err := s.wdb.Get(&temp, "PRAGMA temp_store"); err != nil || temp != "2" {
			t.Errorf("%s: temp_store %q %v (want 2 = MEMORY)", dsn, temp, err)
		}
		s.Close()
	}
	if _, err := Open(ctx, ":memory:"); err == nil {
		t.Fatal(":memory: accepted")
	}
}

func TestChunksCoverEveryRowOnce(t *testing.T) {
	shapes := map[int]bool{}
	for n := 0; n <= 700; n++ {
		sum, prev := 0, maxBatch+1
		cs := chunks(n)
		for _, c := range cs {
			if c < 1 || c > maxBatch || c > prev {
				t.Fatalf("chunks(%d) = %v", n, cs)
			}
			sum, prev = sum+c, c
			shapes[c] = true
		}
		if sum != n || (n > 0 && n <= exactChunk && len(cs) != 1) {
			t.Fatalf("chunks(%d) = %v", n, cs)
		}
	}
	// What maxBatch's comment promises about prepared statements.
	if len(shapes) > exactChunk+2 {
		t.Fatalf("%d statement shapes per table, more than exactChunk+2", len(shapes))
	}
}

// The writer's totals count what it committed: three events queued while
// the writer is held land in one transaction (after the plug's own), and a
// refused event (a key another message holds) is not counted as written.
func TestWriterStats(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, dsn := newStore(t, b)
		ctx := t.Context()
		record(t, s, Event{Message: &Message{ID: "w0", Route: "r", Direction: Outbound, Caller: "c", IdempotencyKey: "k0", Status: Received}})
		before := s.WriterStats()
		if before.Transactions < 1 || before.Events < 1 || before.Busy <= 0 {
			t.Fatalf("after one event: %+v", before)
		}
		release := plugWriter(t, s, dsn)
		errs := make(chan error, 3)
		for i, id := range []string{"w1", "w2", "w3"} {
			go func() {
				errs <- s.Record(ctx, Event{Message: &Message{ID: id, Route: "r", Direction: Outbound, Caller: "c", Status: Received}})
			}()
			waitFor(t, func() bool { return len(s.reqs) == i+1 })
		}
		if err := release(); err != nil {
			t.Fatalf("plug: %v", err)
		}
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		after := s.WriterStats()
		if tx, ev := after.Transactions-before.Transactions, after.Events-before.Events; tx != 2 || ev != 4 {
			t.Fatalf("the plug, then three events queued together: %d transactions, %d events; want 2 and 4", tx, ev)
		}
		if after.Busy <= before.Busy {
			t.Fatalf("busy time did not grow: %v → %v", before.Busy, after.Busy)
		}
		err := s.Record(ctx, Event{Message: &Message{ID: "w4", Route: "r", Direction: Outbound, Caller: "c", IdempotencyKey: "k0", Status: Received}})
		if !errors.Is(err, ErrDuplicateKey) {
			t.Fatalf("a held key: %v", err)
		}
		if last := s.WriterStats(); last.Events != after.Events || last.Transactions != after.Transactions {
			t.Fatalf("a refused event was counted: %+v → %+v", after, last)
		}
	})
}
