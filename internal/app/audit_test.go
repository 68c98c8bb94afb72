package app

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/store"
)

type walk struct {
	ok  bool
	err error
}

// TestAuditVerifierReportsEachWalk: the chain is walked on schedule, and a
// record altered behind the bus's back is reported broken by the next walk.
func TestAuditVerifierReportsEachWalk(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	path := filepath.Join(t.TempDir(), "kopir.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, id := range []string{"m1", "m2"} {
		if err := s.Record(ctx, store.Event{Message: &store.Message{ID: id, Status: store.Received},
			Audit: []store.AuditEntry{{Actor: "t", Action: "RECEIVED"}}}); err != nil {
			t.Fatal(err)
		}
	}
	walks := make(chan walk, 16)
	v := auditVerifier{store: s, log: slog.New(slog.NewTextHandler(io.Discard, nil)), first: 10 * time.Millisecond, every: 30 * time.Millisecond,
		report: func(ok bool, err error, _ time.Time) { walks <- walk{ok, err} }}
	done := make(chan error)
	go func() { done <- v.run(ctx) }()
	next := func() walk {
		select {
		case w := <-walks:
			return w
		case <-time.After(5 * time.Second):
			t.Fatal("no walk of the chain within 5s")
			return walk{}
		}
	}
	if w := next(); !w.ok || w.err != nil {
		t.Fatalf("first walk of an intact chain: %+v", w)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE audit SET detail = 'rewritten' WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}
	for {
		w := next()
		if w.err != nil {
			t.Fatalf("a walk failed: %v", w.err)
		}
		if !w.ok {
			break // the alteration is seen
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("stopping: %v", err)
	}
}
