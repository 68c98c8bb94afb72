package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// ErrNotFound is returned (wrapped with what was looked up) when no message
// matches, so callers can tell "absent" from "store failed" with errors.Is.
var ErrNotFound = errors.New("store: not found")

// ErrDuplicateKey is returned (wrapped) by Record when a new message reuses
// a caller's idempotency key already taken by another message: two requests
// with one key raced, and the loser should answer with the winner's message
// (FindByIdempotencyKey).
var ErrDuplicateKey = errors.New("store: idempotency key already used by another message")

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("store: closed")

const (
	defaultLimit = 100
	maxLimit     = 1000
)

// SQLStore is the Store on SQLite or PostgreSQL. Writes go through one
// writer goroutine and one connection (group commit); reads use their own
// pool so they never queue behind a write batch.
type SQLStore struct {
	d   dialect
	wdb *sqlx.DB // one connection, used only by the writer goroutine (and migrations)
	rdb *sqlx.DB // readers

	reqs      chan *request
	mu        sync.RWMutex // guards closed against sends on a closed reqs
	closed    bool
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	stmts map[stmtKey]*sqlx.Stmt // writer goroutine only
	texts map[stmtKey]string     // writer goroutine only: statements in the dialect's placeholders

	reads readStmts

	ckdb       *sqlx.DB    // SQLite only: the checkpointer's connection
	ckPath     string      // SQLite only: the database file the checkpointer watches
	walLarge   atomic.Bool // the checkpointer asks the writer to checkpoint (checkpoint.go)
	stopCk     context.CancelFunc
	checkpoint chan struct{} // closed when the checkpointer has stopped

	batches atomic.Int64 // transactions attempted by the writer (tests look)
	retried atomic.Int64 // batches that failed and were retried one by one

	committed       atomic.Int64 // WriterStats
	committedEvents atomic.Int64
	writerBusy      atomic.Int64 // nanoseconds
}

// WriterStats are the writer's totals since the store was opened. Events
// per transaction is how far group commit spreads a commit's fixed cost
// (the chain head, each touched index page written to the WAL, the flush);
// busy time per transaction is how long a commit takes (wall time: on
// busy cores it includes waiting for one).
type WriterStats struct {
	Transactions int64         // committed
	Events       int64         // events in the committed transactions
	Busy         time.Duration // wall time spent writing, failed transactions included
}

// WriterStats returns the writer's totals so far.
func (s *SQLStore) WriterStats() WriterStats {
	return WriterStats{
		Transactions: s.committed.Load(),
		Events:       s.committedEvents.Load(),
		Busy:         time.Duration(s.writerBusy.Load()),
	}
}

var _ Store = (*SQLStore)(nil)

// Open connects to the store named by dsn and brings its schema up to date.
// A DSN starting with postgres:// or postgresql:// selects PostgreSQL (any
// pgx parameter, e.g. search_path, may be given); anything else is an
// SQLite file, as "sqlite:///abs/path/kopir.db", "sqlite://rel/kopir.db" or a
// plain path, whose directory is created if missing. SQLite runs in WAL mode
// with synchronous=NORMAL: a committed Record survives the process being
// killed, though not necessarily a power loss.
func Open(ctx context.Context, dsn string) (*SQLStore, error) {
	s := &SQLStore{
		reqs:  make(chan *request, 4*maxBatch),
		done:  make(chan struct{}),
		stmts: make(map[stmtKey]*sqlx.Stmt),
		texts: make(map[stmtKey]string),
	}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s.d = postgresDialect
		err = s.openPostgres(ctx, dsn)
	} else {
		s.d = sqliteDialect
		err = s.openSQLite(ctx, dsn)
	}
	if err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	if err := s.reads.prepare(ctx, s.rdb, s.d); err != nil {
		s.reads.close()
		s.closeDBs()
		return nil, err
	}
	go s.run()
	if s.ckdb != nil {
		ckctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		s.stopCk, s.checkpoint = stop, make(chan struct{})
		go func() {
			defer close(s.checkpoint)
			Checkpointer(ckctx, s.ckdb, s.ckPath, func() { s.walLarge.Store(true) })
		}()
	}
	return s, nil
}

func (s *SQLStore) openPostgres(ctx context.Context, dsn string) error {
	var err error
	if s.wdb, err = sqlx.Open("pgx", dsn); err != nil {
		return fmt.Errorf("store: open postgres: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	if err := s.wdb.PingContext(ctx); err != nil {
		return fmt.Errorf("store: connect postgres: %w", err)
	}
	if s.rdb, err = sqlx.Open("pgx", dsn); err != nil {
		return fmt.Errorf("store: open postgres: %w", err)
	}
	s.rdb.SetMaxOpenConns(8)
	s.rdb.SetMaxIdleConns(8)
	s.rdb.SetConnMaxIdleTime(5 * time.Minute)
	return nil
}

// SQLiteWriterPragmas are the writer connection's durability settings:
// make bench's SQLite commit-rate ceiling (deploy/bench/ceiling) opens its
// database with the same ones, so the ceiling moves if they do.
// The writer never checkpoints: Checkpointer does, on a connection of its own.
// Statement journals stay in memory (temp_store): a batch's multi-row
// upsert keeps one, and spilled to a temporary file it cost more pwrites
// than the WAL frames; it only serves rolling back one statement, never
// recovery, so durability is the WAL's alone either way.
const SQLiteWriterPragmas = "_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(0)&_pragma=temp_store(MEMORY)&_txlock=immediate"

func (s *SQLStore) openSQLite(ctx context.Context, dsn string) error {
	path, params, _ := strings.Cut(strings.TrimPrefix(dsn, "sqlite://"), "?")
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file::memory:") {
		return errors.New("store: sqlite needs a file path (an in-memory database is not shared between the writer and reader pools)")
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("store: create data dir: %w", err)
		}
	}
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	if params != "" {
		common += "&" + params
	}
	var err error
	// The writer's transactions start with BEGIN IMMEDIATE so they take the
	// write lock up front instead of failing to upgrade a read lock.
	w := path + "?" + common + "&" + SQLiteWriterPragmas
	if s.wdb, err = sqlx.Open("sqlite", w); err != nil {
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := s.wdb.PingContext(ctx); err != nil {
		return fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	s.ckPath = path
	if s.ckdb, err = sqlx.Open("sqlite", path+"?"+common+"&_pragma=synchronous(NORMAL)"); err != nil {
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	s.ckdb.SetMaxOpenConns(1)
	s.ckdb.SetMaxIdleConns(1)
	s.ckdb.SetConnMaxLifetime(0)
	s.ckdb.SetConnMaxIdleTime(0)
	r := path + "?" + common + "&_pragma=query_only(1)"
	if s.rdb, err = sqlx.Open("sqlite", r); err != nil {
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	s.rdb.SetMaxOpenConns(4)
	s.rdb.SetMaxIdleConns(4)
	return nil
}

// Close stops taking new events, waits for the queued ones to be written,
// and closes the database. It is safe to call more than once.
func (s *SQLStore) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.reqs)
		s.mu.Unlock()
		<-s.done
		if s.stopCk != nil {
			s.stopCk()
			<-s.checkpoint
		}
		for _, st := range s.stmts {
			_ = st.Close()
		}
		s.reads.close()
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *SQLStore) closeDBs() error {
	var errs []error
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.ckdb != nil {
		errs = append(errs, s.ckdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

const messageCols = "id, route, direction, caller, correlation_id, idempotency_key, external_id, status, " +
	"http_status, error, request_body, response_body, payload, attempts, created_at, updated_at, request_fingerprint, subject, trace_id, trace_parent, trace_state"

// messageColCount is how many columns messageCols names.
const messageColCount = 21

type scanner interface{ Scan(dest ...any) error }

func scanMessage(sc scanner) (*Message, error) {
	var m Message
	var created, updated dbTime
	var reqBody, respBody []byte
	if err := sc.Scan(&m.ID, &m.Route, &m.Direction, &m.Caller, &m.CorrelationID, &m.IdempotencyKey,
		&m.ExternalID, &m.Status, &m.HTTPStatus, &m.Error, &reqBody, &respBody, &m.Payload,
		&m.Attempts, &created, &updated, &m.RequestFingerprint, &m.Subject, &m.TraceID, &m.TraceParent, &m.TraceState); err != nil {
		return nil, err
	}
	if len(reqBody) > 0 {
		m.RequestBody = reqBody
	}
	if len(respBody) > 0 {
		m.ResponseBody = respBody
	}
	m.CreatedAt, m.UpdatedAt = created.Time, updated.Time
	return &m, nil
}

// The read paths' queries are named so that the test of their query plans
// explains exactly what the store runs.
const (
	whereID = "id = ?"
	// The unique index on (caller, idempotency_key) is partial, and a
	// planner uses a partial index only when it can prove the query implies
	// its predicate: SQLite never can for a bound key, nor can a generic
	// PostgreSQL plan, so the predicate is repeated here. Without it the
	// lookup reads the whole table.
	whereIdempotencyKey = "caller = ? AND idempotency_key = ? AND idempotency_key <> ''"
	whereExternalID     = "route = ? AND external_id = ? ORDER BY created_at DESC, id DESC LIMIT 1"
	attemptsQuery       = `SELECT message_id, n, endpoint, http_status, latency_ms, error,
		request_body, response_body, started_at FROM attempts WHERE message_id = ? ORDER BY n`
	auditQuery = `SELECT seq, at, message_id, actor, action, detail, prev_hash, hash
		FROM audit WHERE message_id = ? ORDER BY seq`
	createdAtQuery = "SELECT created_at FROM messages WHERE id = ?"
)

func messageQuery(where string) string {
	return "SELECT " + messageCols + " FROM messages WHERE " + where
}

// readStmts are the read paths' fixed queries, prepared on the read pool
// at Open (database/sql prepares each again on every pooled connection the
// first time that connection runs it). SQLite's driver would otherwise
// parse and plan each lookup anew, which was a fifth of the bus's CPU on
// keyed async calls (the Idempotency-Key lookup); pgx caches statements
// itself.
type readStmts struct {
	byID, byKey, byExternalID, attempts, audit *sqlx.Stmt
}

func (r *readStmts) prepare(ctx context.Context, db *sqlx.DB, d dialect) error {
	for _, p := range []struct {
		st **sqlx.Stmt
		q  string
	}{
		{&r.byID, messageQuery(whereID)},
		{&r.byKey, messageQuery(whereIdempotencyKey)},
		{&r.byExternalID, messageQuery(whereExternalID)},
		{&r.attempts, attemptsQuery},
		{&r.audit, auditQuery},
	} {
		st, err := db.PreparexContext(ctx, d.rebind(p.q))
		if err != nil {
			return fmt.Errorf("store: prepare %s: %w", p.q, err)
		}
		*p.st = st
	}
	return nil
}

func (r *readStmts) close() {
	for _, st := range []*sqlx.Stmt{r.byID, r.byKey, r.byExternalID, r.attempts, r.audit} {
		if st != nil {
			_ = st.Close()
		}
	}
}

func (s *SQLStore) getOne(ctx context.Context, what func() string, st *sqlx.Stmt, args ...any) (*Message, error) {
	m, err := scanMessage(st.QueryRowxContext(ctx, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: message %s: %w", what(), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: message %s: %w", what(), err)
	}
	return m, nil
}

// Get returns the message with id, or an error wrapping ErrNotFound.
func (s *SQLStore) Get(ctx context.Context, id string) (*Message, error) {
	return s.getOne(ctx, func() string { return fmt.Sprintf("%q", id) }, s.reads.byID, id)
}

// FindByIdempotencyKey returns the message caller sent under key, so a
// retried request can be answered without being forwarded twice. An empty
// key never matches.
func (s *SQLStore) FindByIdempotencyKey(ctx context.Context, caller, key string) (*Message, error) {
	what := func() string { return fmt.Sprintf("caller %q idempotency key %q", caller, key) }
	if key == "" {
		return nil, fmt.Errorf("store: message %s: %w", what(), ErrNotFound)
	}
	return s.getOne(ctx, what, s.reads.byKey, caller, key)
}

// FindByExternalID returns the newest message on route carrying the
// agency's own id, to recognise an inbound message delivered twice. An empty
// externalID never matches.
func (s *SQLStore) FindByExternalID(ctx context.Context, route, externalID string) (*Message, error) {
	what := func() string { return fmt.Sprintf("route %q external id %q", route, externalID) }
	if externalID == "" {
		return nil, fmt.Errorf("store: message %s: %w", what(), ErrNotFound)
	}
	return s.getOne(ctx, what, s.reads.byExternalID, route, externalID)
}

// Attempts returns the message's attempts in the order they were made
// (empty, not an error, for an unknown id).
func (s *SQLStore) Attempts(ctx context.Context, id string) ([]Attempt, error) {
	rows, err := s.reads.attempts.QueryxContext(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("store: attempts of %q: %w", id, err)
	}
	defer rows.Close()
	out := []Attempt{}
	for rows.Next() {
		var a Attempt
		var started dbTime
		if err := rows.Scan(&a.MessageID, &a.N, &a.Endpoint, &a.HTTPStatus, &a.LatencyMS, &a.Error,
			&a.RequestBody, &a.ResponseBody, &started); err != nil {
			return nil, fmt.Errorf("store: attempts of %q: %w", id, err)
		}
		a.StartedAt = started.Time
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: attempts of %q: %w", id, err)
	}
	return out, nil
}

// Audit returns the audit records about one message in chain order.
func (s *SQLStore) Audit(ctx context.Context, messageID string) ([]AuditRecord, error) {
	rows, err := s.reads.audit.QueryxContext(ctx, messageID)
	if err != nil {
		return nil, fmt.Errorf("store: audit of %q: %w", messageID, err)
	}
	defer rows.Close()
	out := []AuditRecord{}
	for rows.Next() {
		var r AuditRecord
		var at dbTime
		if err := rows.Scan(&r.Seq, &at, &r.MessageID, &r.Actor, &r.Action, &r.Detail, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("store: audit of %q: %w", messageID, err)
		}
		r.At = at.Time
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: audit of %q: %w", messageID, err)
	}
	return out, nil
}

// where builds the WHERE clause shared by List and Count (AfterID and Limit
// are List's alone).
func (s *SQLStore) where(f Filter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) { conds = append(conds, cond); args = append(args, arg) }
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.Route != "" {
		add("route = ?", f.Route)
	}
	if f.Subject != "" {
		// The partial index's own predicate, restated so that the planner
		// may use it.
		add("subject = ? AND subject <> ''", f.Subject)
	}
	if f.Direction != "" {
		add("direction = ?", string(f.Direction))
	}
	if f.Caller != "" {
		add("caller = ?", f.Caller)
	}
	if f.CorrelationID != "" {
		add("correlation_id = ? AND correlation_id <> ''", f.CorrelationID)
	}
	if f.ExternalID != "" {
		add("external_id = ?", f.ExternalID)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", s.d.ts(f.Since))
	}
	if !f.Before.IsZero() {
		add("created_at < ?", s.d.ts(f.Before))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// List returns messages matching f, newest first. To page, pass the last
// returned ID as f.AfterID: the next page holds the messages created before
// it, unaffected by messages arriving meanwhile. Limit defaults to 100 and
// is capped at 1000. An AfterID that does not exist is ErrNotFound.
func (s *SQLStore) List(ctx context.Context, f Filter) ([]Message, error) {
	var after time.Time
	if f.AfterID != "" {
		var created dbTime
		err := s.rdb.QueryRowxContext(ctx, s.d.rebind(createdAtQuery), f.AfterID).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("store: list after %q: %w", f.AfterID, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("store: list after %q: %w", f.AfterID, err)
		}
		after = created.Time
	}
	q, args := s.listQuery(f, after)
	rows, err := s.rdb.QueryxContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	defer rows.Close()
	out := []Message{}
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list: %w", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	return out, nil
}

// listQuery is List's query; after is the created_at of f.AfterID's row.
func (s *SQLStore) listQuery(f Filter, after time.Time) (string, []any) {
	where, args := s.where(f)
	if f.AfterID != "" {
		// The leading created_at <= ? restates what the OR implies so that
		// both backends seek an index to where the page starts instead of
		// walking past every newer message. A row-value comparison would
		// say it in one term, but PostgreSQL's generic plan then prefers
		// messages_created and filters by status.
		cond := "created_at <= ? AND (created_at < ? OR (created_at = ? AND id < ?))"
		if where == "" {
			where = " WHERE " + cond
		} else {
			where += " AND " + cond
		}
		args = append(args, s.d.ts(after), s.d.ts(after), s.d.ts(after), f.AfterID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	return s.d.rebind(fmt.Sprintf("SELECT %s FROM messages%s ORDER BY created_at DESC, id DESC LIMIT %d", messageCols, where, limit)), args
}

func (s *SQLStore) countQuery(f Filter) (string, []any) {
	where, args := s.where(f)
	return s.d.rebind("SELECT status, COUNT(*) FROM messages" + where + " GROUP BY status"), args
}

// Count returns how many messages matching f stand in each status. Every
// known status is present (zero if none) so dashboards need not special-case
// absent keys; with f.Status set only that status is.
func (s *SQLStore) Count(ctx context.Context, f Filter) (Counts, error) {
	q, args := s.countQuery(f)
	rows, err := s.rdb.QueryxContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: count: %w", err)
	}
	defer rows.Close()
	c := Counts{}
	if f.Status != "" {
		c[f.Status] = 0
	} else {
		for _, st := range Statuses {
			c[st] = 0
		}
	}
	for rows.Next() {
		var st Status
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("store: count: %w", err)
		}
		c[st] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: count: %w", err)
	}
	return c, nil
}
