package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jmoiron/sqlx"
)

// steps are the statements of one batch's transaction, added in order.
// A statement's result is handed to its callback by the time flush or
// commit returns, and the first error stops the rest.
//
// On SQLite each statement runs as it is added (sqlSteps): the database is
// in the process, and a statement costs no round trip. On PostgreSQL the
// statements are queued and sent together, in one round trip, when a
// result is needed or at commit (pgSteps): a batch takes two round trips
// instead of one per statement. Under load each round trip waits for the
// server's process to be scheduled, and the writer, which holds the audit
// chain's lock meanwhile, spent most of a batch waiting (issue 14).
type steps interface {
	// exec adds statement k, whose result is only its error.
	exec(k stmtKey, args ...any)
	// execSQL adds a statement that is not one of the writer's kinds;
	// what names it in an error.
	execSQL(what, query string, args ...any)
	// query adds statement k; row is called with each returned row's Scan.
	query(k stmtKey, args []any, row func(scan func(dest ...any) error) error)
	// flush runs what was added and returns the first error.
	flush() error
	// commit runs what was added and commits.
	commit() error
}

// label names a statement kind in errors.
func label(kind string) string {
	switch kind {
	case kindMessages, kindRename:
		return "upsert messages"
	case kindAttempts:
		return "insert attempts"
	case kindAudit, kindAuditHead:
		return "append audit"
	case kindHeadGet:
		return "lock and read audit head"
	case kindHeadSet:
		return "update audit head"
	}
	return kind
}

// sqlSteps runs each statement at once in tx, on the writer's prepared
// statements.
type sqlSteps struct {
	ctx context.Context
	s   *SQLStore
	tx  *sqlx.Tx
	err error
}

func (t *sqlSteps) stmt(k stmtKey) *sqlx.Stmt { return t.tx.StmtxContext(t.ctx, t.s.stmts[k]) }

func (t *sqlSteps) exec(k stmtKey, args ...any) {
	if t.err != nil {
		return
	}
	if _, err := t.stmt(k).ExecContext(t.ctx, args...); err != nil {
		t.err = fmt.Errorf("%s: %w", label(k.kind), err)
	}
}

func (t *sqlSteps) execSQL(what, query string, args ...any) {
	if t.err != nil {
		return
	}
	if _, err := t.tx.ExecContext(t.ctx, query, args...); err != nil {
		t.err = fmt.Errorf("%s: %w", what, err)
	}
}

func (t *sqlSteps) query(k stmtKey, args []any, row func(scan func(dest ...any) error) error) {
	if t.err != nil {
		return
	}
	rows, err := t.stmt(k).QueryxContext(t.ctx, args...)
	if err == nil {
		err = eachRow(rows, row)
		rows.Close()
	}
	if err != nil {
		t.err = fmt.Errorf("%s: %w", label(k.kind), err)
	}
}

// eachRow hands each of rows to row, with its Scan, and then the rows'
// error; either driver's rows.
func eachRow(rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}, row func(scan func(dest ...any) error) error) error {
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (t *sqlSteps) flush() error { return t.err }

func (t *sqlSteps) commit() error {
	if t.err != nil {
		return t.err
	}
	return t.tx.Commit()
}

// pgSteps queues the statements on a pgx connection and sends them as one
// pipeline (pgx's Batch: one network write, one Sync) at each flush.
// The transaction is begun by the first pipeline and committed by the last,
// so the two cost no round trip of their own. pgx prepares and caches each
// statement's text on the connection, as the prepared statements do on
// SQLite.
type pgSteps struct {
	ctx     context.Context
	s       *SQLStore
	conn    *pgx.Conn
	batch   pgx.Batch
	results []func(pgx.BatchResults) error
	err     error
}

func (t *pgSteps) add(query string, args []any, result func(pgx.BatchResults) error) {
	if t.err != nil {
		return
	}
	t.batch.Queue(query, args...)
	t.results = append(t.results, result)
}

func (t *pgSteps) exec(k stmtKey, args ...any) {
	t.execSQL(label(k.kind), t.s.text(k), args...)
}

func (t *pgSteps) execSQL(what, query string, args ...any) {
	t.add(query, args, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	})
}

func (t *pgSteps) query(k stmtKey, args []any, row func(scan func(dest ...any) error) error) {
	t.add(t.s.text(k), args, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err == nil {
			err = eachRow(rows, row)
			rows.Close()
			if err == nil {
				err = rows.Err() // pgx reports a failed statement once its rows are closed
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", label(k.kind), err)
		}
		return nil
	})
}

func (t *pgSteps) flush() error {
	if t.err != nil || len(t.results) == 0 {
		return t.err
	}
	br := t.conn.SendBatch(t.ctx, &t.batch)
	for _, result := range t.results {
		if err := result(br); err != nil {
			t.err = err
			break
		}
	}
	if err := br.Close(); err != nil && t.err == nil {
		t.err = err
	}
	t.batch, t.results = pgx.Batch{}, t.results[:0]
	return t.err
}

func (t *pgSteps) commit() error {
	t.execSQL("commit", "COMMIT")
	return t.flush()
}

// rollback ends a transaction that failed. A connection that cannot be
// rolled back is closed, so that the pool replaces it rather than the next
// batch running inside the failed transaction.
func (t *pgSteps) rollback() {
	if t.conn.PgConn().TxStatus() == 'I' {
		return
	}
	if _, err := t.conn.Exec(t.ctx, "ROLLBACK"); err != nil || t.conn.PgConn().TxStatus() != 'I' {
		_ = t.conn.Close(t.ctx)
	}
}
