package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"os"
	"time"
)

// checkpointEvery is how often the SQLite store looks at its WAL to decide
// whether to copy committed frames into the database file. SQLite's own
// auto-checkpoint would do it inside whichever commit crosses 1000 pages,
// so every few hundred calls one caller waited for the copy and its
// fsyncs: the tail of the latency at one connection (p99 ~6 ms added,
// against ~3 ms with this). Here a goroutine of its own does it on its own
// connection, in PASSIVE mode, which never blocks the writer or the
// readers. A tick that copies nothing costs one read of the wal-index
// header (walIndex).
const checkpointEvery = 100 * time.Millisecond

// A checkpoint copies once checkpointFrames frames wait in the WAL (SQLite's
// own auto-checkpoint threshold), and otherwise whatever waits once
// checkpointAge has passed since the last one. Each copy ends in two
// fsyncs (the WAL's, then the database file's). Copying on every tick
// whatever waited, as this did first, doubled the latency of every call
// at one connection on this project's VMs, not only of the calls beside
// a copy: p50 2.4–2.7 ms against 1.2–1.5 ms with this rule, with a copy
// every 500 ms or every second, or with a copy on every tick made without
// its fsyncs (docs/performance.md, twelfth round). Under load the WAL
// passes checkpointFrames within a tick or two, so a busy store still
// copies about as often as before.
const (
	checkpointFrames = 1024 // 4 MiB at the default page size
	checkpointAge    = time.Second
)

// walRestartFrames is the WAL size (in frames, 16 MiB at the default page
// size) past which the writer checkpoints between two batches.
// A checkpoint running beside a busy writer never catches up with it, and
// SQLite starts the WAL again from its beginning only when a write begins
// with every frame copied; without this the WAL grows for as long as the
// load lasts (3 GB in 25 s of async acceptance). The writer's checkpoint
// copies only what the background one has not, after its batch's callers
// have been answered. The writer reads the wal-index after every batch
// (pastRestart, one pread) rather than waiting for the background
// checkpointer's tick to ask: at 14,000 small events a second a tick is
// ~5,000 frames, and the WAL reached two ticks' worth before a restart.
const walRestartFrames = 4096

// RowQueryer is what Checkpointer needs of a connection pool (*sql.DB and
// *sqlx.DB have it).
type RowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Checkpointer checkpoints the SQLite database of db as checkpointFrames
// says, looking every checkpointEvery, until ctx ends, then makes one last
// checkpoint so a closed store leaves little WAL behind. db must be a
// connection of its own, not the writer's, whose DSN carries
// SQLiteWriterPragmas (no auto-checkpoint); path is the database file's,
// next to which SQLite keeps the wal-index (path-shm).
// When a checkpoint finds more than walRestartFrames frames in the WAL it
// calls restart, which must have the writer's connection checkpoint
// between two transactions. make bench's SQLite ceiling runs it too, so
// the ceiling writes as the store does.
func Checkpointer(ctx context.Context, db RowQueryer, path string, restart func()) {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	idx := openWALIndex(path)
	defer idx.close()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			_, _ = checkpoint(context.WithoutCancel(ctx), db)
			return
		case now := <-t.C:
			// Once per checkpointAge it checkpoints whatever the index
			// says: with nothing to copy that costs no fsync, and a stale
			// index (a -shm file SQLite has replaced) cannot stop it.
			if frames, copied, ok := idx.read(); ok && now.Sub(last) < checkpointAge &&
				frames-copied < checkpointFrames && frames <= walRestartFrames {
				continue
			}
			last = now
			// A failed checkpoint (e.g. the disk full) leaves the frames in
			// the WAL, where reads still find them; the next tick tries
			// again, and the writer's own errors are what callers see.
			if frames, err := checkpoint(ctx, db); err == nil && frames > walRestartFrames {
				restart()
			}
		}
	}
}

// checkpoint runs a PASSIVE checkpoint and returns how many frames the WAL
// holds.
func checkpoint(ctx context.Context, db RowQueryer) (frames int, err error) {
	var busy, copied int
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	return frames, err
}

// walIndex reads the header of the wal-index, the shared memory SQLite
// keeps in the database's -shm file for every connection to the WAL
// (https://sqlite.org/walformat.html, "The WAL-Index Header"): how many
// frames the WAL holds (mxFrame) and how many of them checkpoints have
// copied (nBackfill). Connections of different SQLite versions share it,
// so its layout does not change; a header that does not read as expected
// (another version field, not initialised, its two copies differing while
// a writer updates them) is no answer, and the caller checkpoints as if
// it had none.
type walIndex struct{ f *os.File }

// The wal-index header's layout: two copies of a 48-byte header, then the
// checkpoint information.
const (
	walIndexVersion   = 3007000
	walIndexHdrSize   = 48
	walIndexMxFrame   = 16                   // u32, in the header
	walIndexIsInit    = 12                   // u8, in the header
	walIndexBackfill  = 2 * walIndexHdrSize  // u32, nBackfill of the checkpoint information
	walIndexReadBytes = walIndexBackfill + 4 // all of it that is read
)

func openWALIndex(path string) *walIndex {
	f, err := os.Open(path + "-shm")
	if err != nil {
		return &walIndex{} // not yet created, or not SQLite's: no answers
	}
	return &walIndex{f: f}
}

// read returns the WAL's frames and those already copied into the
// database file, ok false when the header gives no trustworthy answer.
func (w *walIndex) read() (frames, copied uint32, ok bool) {
	if w.f == nil {
		return 0, 0, false
	}
	var b [walIndexReadBytes]byte
	if _, err := w.f.ReadAt(b[:], 0); err != nil {
		return 0, 0, false
	}
	// SQLite writes the wal-index in the machine's own byte order.
	e := binary.NativeEndian
	if e.Uint32(b[0:]) != walIndexVersion || b[walIndexIsInit] != 1 ||
		!bytes.Equal(b[:walIndexHdrSize], b[walIndexHdrSize:2*walIndexHdrSize]) {
		return 0, 0, false
	}
	frames, copied = e.Uint32(b[walIndexMxFrame:]), e.Uint32(b[walIndexBackfill:])
	if copied > frames {
		return 0, 0, false
	}
	return frames, copied, true
}

// pastRestart reports whether the WAL holds more than walRestartFrames
// frames, some of them not yet copied: the writer's cue to checkpoint.
// With every frame copied there is nothing for it to do; the next write
// starts the WAL again.
func (w *walIndex) pastRestart() bool {
	frames, copied, ok := w.read()
	return ok && frames > walRestartFrames && copied < frames
}

func (w *walIndex) close() {
	if w.f != nil {
		_ = w.f.Close()
	}
}
