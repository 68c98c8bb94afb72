package store

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how often the SQLite store copies committed WAL frames
// into the database file. SQLite's own auto-checkpoint would do it inside
// whichever commit crosses 1000 pages, so every few hundred calls one
// caller waited for the copy and its fsyncs: the tail of the latency at one
// connection (p99 ~6 ms added, against ~3 ms with this). Here a goroutine
// of its own does it on its own connection, in PASSIVE mode, which never
// blocks the writer or the readers. An idle tick costs one look at the WAL
// index.
const checkpointEvery = 100 * time.Millisecond

// walRestartFrames is the WAL size (in frames, 16 MiB at the default page
// size) past which the writer is asked to checkpoint between two batches.
// A checkpoint running beside a busy writer never catches up with it, and
// SQLite starts the WAL again from its beginning only when a write begins
// with every frame copied; without this the WAL grows for as long as the
// load lasts (3 GB in 25 s of async acceptance). The writer's checkpoint
// copies only what the background one has not, after its batch's callers
// have been answered.
const walRestartFrames = 4096

// RowQueryer is what Checkpointer needs of a connection pool (*sql.DB and
// *sqlx.DB have it).
type RowQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Checkpointer checkpoints the SQLite database of db every checkpointEvery
// until ctx ends, then makes one last checkpoint so a closed store leaves
// little WAL behind. db must be a connection of its own, not the writer's,
// whose DSN carries SQLiteWriterPragmas (no auto-checkpoint). When a
// checkpoint finds more than walRestartFrames frames in the WAL it calls
// restart, which must have the writer's connection checkpoint between two
// transactions. make bench's SQLite ceiling runs it too, so the ceiling
// writes as the store does.
func Checkpointer(ctx context.Context, db RowQueryer, restart func()) {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_, _ = checkpoint(context.WithoutCancel(ctx), db)
			return
		case <-t.C:
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
