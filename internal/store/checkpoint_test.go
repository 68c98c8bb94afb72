package store

import (
	"fmt"
	"os"
	"strings"
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
