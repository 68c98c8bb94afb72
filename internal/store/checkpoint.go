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
// connection. Here a goroutine of its own does it on its own connection,
// in PASSIVE mode, which never blocks the writer or the readers. An idle
// tick costs one look at the WAL index.
const checkpointEvery = 100 * time.Millisecond

// Execer is what Checkpointer needs of a connection pool (*sql.DB and
// *sqlx.DB have it).
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Checkpointer checkpoints the SQLite database of db every checkpointEvery
// until ctx ends, then makes one last checkpoint so a closed store leaves
// little WAL behind. db must be a connection of its own, not the writer's,
// whose DSN carries SQLiteWriterPragmas (no auto-checkpoint). make bench's
// SQLite ceiling runs it too, so the ceiling writes as the store does.
func Checkpointer(ctx context.Context, db Execer) {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_, _ = db.ExecContext(context.WithoutCancel(ctx), "PRAGMA wal_checkpoint(PASSIVE)")
			return
		case <-t.C:
			// A failed checkpoint (e.g. the disk full) leaves the frames in
			// the WAL, where reads still find them; the next tick tries
			// again, and the writer's own errors are what callers see.
			_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	}
}
