package store

import (
	"fmt"
	"os"
	"path/filepath"
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
// beginning: the writer checkpoints between batches once the WAL passes
// walRestartFrames, so its file stays near that size instead of growing
// with every commit for as long as the load lasts. The limit is a batch
// or two past walRestartFrames; when the writer waited for the background
// checkpointer's tick to ask, the file reached 9,000-17,000 frames here.
func TestWALStaysBoundedUnderLoad(t *testing.T) {
	dsn := freshSQLite(t)
	path := strings.TrimPrefix(dsn, "sqlite://")
	s := openStore(t, dsn)
	body := []byte(strings.Repeat("x", 3000))
	limit := int64(2 * walRestartFrames * 4096)
	// Every message adds about a page of payload alone, so this many
	// written into a WAL that never restarts would leave it at over four
	// times the limit.
	want := int64(8 * walRestartFrames)
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

// The checkpointer decides from the wal-index header whether a tick has
// anything worth copying: what it reads there must be what SQLite itself
// reports of its WAL, before and after a checkpoint.
func TestWALIndexReadsWhatSQLiteReports(t *testing.T) {
	dsn := freshSQLite(t)
	path := strings.TrimPrefix(dsn, "sqlite://")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	raw, _ := rawDB(t, dsn)
	raw.SetMaxOpenConns(1) // wal_autocheckpoint is the connection's
	if _, err := raw.Exec("PRAGMA journal_mode=WAL"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("PRAGMA wal_autocheckpoint=0"); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE t (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := raw.Exec("INSERT INTO t VALUES (?)", make([]byte, 3000)); err != nil {
			t.Fatal(err)
		}
	}
	idx := openWALIndex(path)
	defer idx.close()
	frames, copied, ok := idx.read()
	if !ok {
		t.Fatal("the wal-index header of a database in WAL mode did not read")
	}
	if frames < 50 || copied != 0 {
		t.Fatalf("before any checkpoint the index says %d frames, %d copied; want at least 50 (one page a row), none copied", frames, copied)
	}
	var busy, logFrames, ckFrames int
	if err := raw.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &ckFrames); err != nil {
		t.Fatal(err)
	}
	if int(frames) != logFrames {
		t.Fatalf("the index says %d frames, SQLite's checkpoint %d", frames, logFrames)
	}
	if frames, copied, ok = idx.read(); !ok || int(frames) != logFrames || int(copied) != ckFrames {
		t.Fatalf("after the checkpoint the index says %d frames, %d copied (ok %v); SQLite says %d and %d", frames, copied, ok, logFrames, ckFrames)
	}
	if _, _, ok := openWALIndex(path + ".absent").read(); ok {
		t.Fatal("an index that does not exist gave an answer")
	}
}

// Under a light load the checkpointer lets frames gather for up to
// checkpointAge instead of copying (and syncing twice) on every tick, and
// then copies them.
func TestCheckpointerGathersFramesUnderLightLoad(t *testing.T) {
	dsn := freshSQLite(t)
	path := strings.TrimPrefix(dsn, "sqlite://")
	s := openStore(t, dsn)
	idx := openWALIndex(path)
	defer idx.close()
	// The first ticks copy what the migrations wrote.
	time.Sleep(5 * checkpointEvery)
	for i := range 5 {
		m := &Message{ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), Route: "r", Direction: Outbound, Caller: "c", Status: Queued}
		if err := s.Record(t.Context(), Event{Message: m, Audit: []AuditEntry{{Actor: "c", Action: "RECEIVED"}}}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * checkpointEvery)
	frames, copied, ok := idx.read()
	if !ok {
		t.Fatal("the store's wal-index did not read")
	}
	if copied >= frames {
		t.Fatalf("three ticks after five small events the WAL's %d frames are all copied: the checkpointer copies on every tick", frames)
	}
	deadline := time.Now().Add(checkpointAge + 5*time.Second)
	for copied < frames {
		if time.Now().After(deadline) {
			t.Fatalf("%s after the events %d of the WAL's %d frames are copied", checkpointAge+5*time.Second, copied, frames)
		}
		time.Sleep(checkpointEvery)
		frames, copied, _ = idx.read()
	}
}
