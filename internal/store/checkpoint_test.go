package store

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The writer never checkpoints (wal_autocheckpoint=0), so committed pages
// reach the database file only through the checkpointer: the file grows
// within a few ticks of the writes.
func TestCheckpointerCopiesTheWAL(t *testing.T) {
	dsn := freshSQLite(t)
	path := strings.TrimPrefix(dsn, "sqlite://")
	s := openStore(t, dsn)
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	// The migrations were checkpointed by the first ticks; wait for that.
	time.Sleep(3 * checkpointEvery)
	before := size(path)
	body := strings.Repeat("x", 2000)
	for i := range 200 {
		m := &Message{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), Route: "r", Direction: Outbound,
			Caller: "c", Status: Queued, Payload: []byte(body)}
		if err := s.Record(t.Context(), Event{Message: m, Audit: []AuditEntry{{Actor: "c", Action: "RECEIVED"}}}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for size(path) < before+200*2000 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file stayed at %d bytes (%d before 200 messages of 2 KB): nothing checkpointed the WAL", size(path), before)
		}
		time.Sleep(checkpointEvery)
	}
}

// Under writes that never pause, the WAL still starts again from its
// beginning: the checkpointer has the writer checkpoint between batches
// once the WAL passes walRestartFrames, so its file stays near that size
// instead of growing with every commit for as long as the load lasts.
func TestWALStaysBoundedUnderLoad(t *testing.T) {
	dsn := freshSQLite(t)
	path := strings.TrimPrefix(dsn, "sqlite://")
	s := openStore(t, dsn)
	body := []byte(strings.Repeat("x", 3000))
	// Every message adds about a page of payload alone, so this many
	// written into a WAL that never restarts would leave it at over twice
	// the limit below.
	limit := int64(4 * walRestartFrames * 4096)
	want := 2 * limit / 4096
	var wg sync.WaitGroup
	var n atomic.Int64
	for g := range 16 {
		wg.Go(func() {
			for i := 0; n.Load() < want && !t.Failed(); i++ {
				m := &Message{ID: fmt.Sprintf("w%d-%d", g, i), Route: "r", Direction: Outbound, Caller: "c", Status: Queued, Payload: body}
				if err := s.Record(t.Context(), Event{Message: m, Audit: []AuditEntry{{Actor: "c", Action: "RECEIVED"}}}); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > limit {
		t.Fatalf("after %d messages the WAL is %d bytes, over %d: it is not being restarted", n.Load(), fi.Size(), limit)
	}
}
