package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// maxBatch caps how many events one transaction carries. The rows a batch
// has for one table go in as a single multi-row statement when they are at
// most exactChunk, and otherwise in chunks of 256, 128 and 64 rows and one
// of the rest (see chunks), so a table never has more than exactChunk+2
// statement shapes prepared.
const maxBatch = 256

// auditLockKey is taken with pg_advisory_xact_lock by every batch, so bus
// processes sharing one PostgreSQL database append to a single chain.
const auditLockKey = 0x6b6f70697261 // "kopira"

// batchTimeout bounds one batch on PostgreSQL so a hung server or network
// fails waiters instead of holding them for ever. SQLite's batches run
// without one: its lock waits are bounded by busy_timeout, an interrupt
// cannot end a stuck disk write anyway, and a context that can end costs
// its driver a goroutine and a progress handler for every statement
// (seven a batch; at one connection, a batch a call).
const batchTimeout = time.Minute

type request struct {
	ctx  context.Context
	ev   Event
	now  time.Time
	done chan error
}

// Record writes ev and returns once it is committed. Concurrent calls are
// gathered by one writer goroutine into a shared transaction (group commit),
// so the cost of a commit is paid once per batch, not per call.
//
// The store maintains Message.Attempts (it adds len(ev.Attempts)), sets
// UpdatedAt (and CreatedAt when zero) to the time of the call, drops Payload
// once Status is DELIVERED, numbers attempts whose N is zero, and fills an
// audit entry's MessageID from ev.Message and At from the time of the call
// when they are empty. ev is not modified.
//
// If ctx ends first Record returns ctx.Err(); the event may then still be
// written. A new message reusing a caller's idempotency key fails with
// ErrDuplicateKey without affecting the other events of its batch.
func (s *SQLStore) Record(ctx context.Context, ev Event) error {
	if err := validate(ev); err != nil {
		return err
	}
	if ev.Message == nil && len(ev.Audit) == 0 && len(ev.Evidence) == 0 && len(ev.PurgeEvidence) == 0 && ev.Hold == nil && len(ev.HeldChanges) == 0 {
		return nil
	}
	r := &request{ctx: ctx, ev: copyEvent(ev), now: time.Now(), done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- r:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func validate(ev Event) error {
	if m := ev.Message; m != nil {
		if m.ID == "" {
			return errors.New("store: record: message without id")
		}
		if m.Status == "" {
			return fmt.Errorf("store: record: message %q without status", m.ID)
		}
		for _, a := range ev.Attempts {
			if a.MessageID != "" && a.MessageID != m.ID {
				return fmt.Errorf("store: record: attempt of message %q in an event for %q", a.MessageID, m.ID)
			}
			if a.N < 0 {
				return fmt.Errorf("store: record: attempt number %d", a.N)
			}
		}
	} else if len(ev.Attempts) > 0 {
		return errors.New("store: record: attempts need the event's message")
	}
	for _, e := range ev.Audit {
		if e.Action == "" {
			return errors.New("store: record: audit entry without action")
		}
	}
	for _, e := range ev.Evidence {
		if e.ID == "" || e.MessageID == "" || e.KeyID == "" || len(e.Ciphertext) == 0 || e.ReceivedAt.IsZero() || e.ExpiresAt.IsZero() {
			return errors.New("store: record: evidence needs id, message id, key id, ciphertext, received and expiry times")
		}
	}
	if h := ev.Hold; h != nil && (h.MessageID == "" || len(h.Reasons) == 0) {
		return errors.New("store: record: a hold needs its message id and at least one reason")
	}
	for _, c := range ev.HeldChanges {
		if c.ID == "" || c.MessageID == "" || c.State == "" || c.Proposer == "" || c.DigestAfter == "" {
			return fmt.Errorf("store: record: held change %q needs id, message id, state, proposer and digest", c.ID)
		}
	}
	return nil
}

func copyEvent(ev Event) Event {
	out := Event{
		Attempts:      append([]Attempt(nil), ev.Attempts...),
		Audit:         append([]AuditEntry(nil), ev.Audit...),
		Evidence:      append([]Evidence(nil), ev.Evidence...),
		PurgeEvidence: append([]string(nil), ev.PurgeEvidence...),
		HeldChanges:   append([]HeldChange(nil), ev.HeldChanges...),
	}
	if ev.Hold != nil {
		h := *ev.Hold
		h.Reasons = append([]HoldReason(nil), ev.Hold.Reasons...)
		out.Hold = &h
	}
	if ev.Message != nil {
		m := *ev.Message
		out.Message = &m
	}
	return out
}

// run is the writer goroutine: it takes whatever is queued (up to maxBatch),
// writes it in one transaction and wakes the waiters, until Close.
func (s *SQLStore) run() {
	defer close(s.done)
	wal := &walIndex{}
	if s.ckPath != "" {
		wal = openWALIndex(s.ckPath)
	}
	defer wal.close()
	batch := make([]*request, 0, maxBatch)
	for r := range s.reqs {
		batch = append(batch[:0], r)
		// Let callers that are runnable (typically the ones the last commit
		// just woke) queue their next event before the batch is cut: on a
		// busy bus this makes batches markedly larger for nothing, and when
		// nothing else is runnable Gosched returns at once.
		runtime.Gosched()
	fill:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.process(batch)
		if s.walLarge.Swap(false) || wal.pastRestart() {
			// Between batches, on the writer's connection: see
			// walRestartFrames. A failure leaves the WAL as it was.
			_, _ = checkpoint(context.Background(), s.wdb)
		}
	}
}

func (s *SQLStore) process(batch []*request) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // nobody waits for it any more; don't write it
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	s.batches.Add(1)
	err := s.writeBatch(live)
	if errors.Is(mapErr(err), ErrDuplicateKey) && len(live) > 1 {
		// Written again without the events whose key is taken, in one
		// transaction: a caller repeating its keys must not cost the
		// writer a commit per event of every batch it lands in.
		if rest := s.refuseTakenKeys(live); len(rest) < len(live) {
			live = rest
			if len(live) == 0 {
				return
			}
			err = s.writeBatch(live)
		}
	}
	if err == nil || len(live) == 1 {
		err = mapErr(err)
		for _, r := range live {
			r.done <- err
		}
		return
	}
	// One bad event fails the whole transaction: write them one by one so
	// only the bad one fails.
	s.retried.Add(1)
	for _, r := range live {
		r.done <- mapErr(s.writeBatch([]*request{r}))
	}
}

// refuseTakenKeys answers ErrDuplicateKey to the events whose message
// would take an idempotency key that another message holds, in the store
// or earlier in the batch, and returns the rest; all of them when the
// lookup fails. One query looks up every key of the batch.
func (s *SQLStore) refuseTakenKeys(reqs []*request) []*request {
	type slot struct{ caller, key string }
	var callers, keys []string
	for _, r := range reqs {
		if m := r.ev.Message; m != nil && m.IdempotencyKey != "" {
			callers, keys = append(callers, m.Caller), append(keys, m.IdempotencyKey)
		}
	}
	if len(keys) == 0 {
		return reqs
	}
	held := make(map[slot]string, len(keys))
	if err := s.keysHeld(callers, keys, func(caller, key, id string) { held[slot{caller, key}] = id }); err != nil {
		return reqs // the index still refuses them
	}
	out := reqs[:0:0]
	for _, r := range reqs {
		m := r.ev.Message
		if m == nil || m.IdempotencyKey == "" {
			out = append(out, r)
			continue
		}
		k := slot{m.Caller, m.IdempotencyKey}
		if id, ok := held[k]; ok && id != m.ID {
			r.done <- fmt.Errorf("%w: caller %q key %q is held by message %s", ErrDuplicateKey, m.Caller, m.IdempotencyKey, id)
			continue
		}
		held[k] = m.ID
		out = append(out, r)
	}
	return out
}

// keysHeld calls found for each message holding one of the callers' keys
// (callers[i] with keys[i]).
func (s *SQLStore) keysHeld(callers, keys []string, found func(caller, key, id string)) error {
	ctx, cancel := s.batchContext()
	defer cancel()
	if err := s.prepare(ctx, []stmtKey{{kind: kindKeysHeld}}); err != nil {
		return err
	}
	var args []any
	if s.d.isPostgres() {
		args = []any{callers, keys}
	} else {
		pairs := make([][2]string, len(keys))
		for i := range keys {
			pairs[i] = [2]string{callers[i], keys[i]}
		}
		b, err := json.Marshal(pairs)
		if err != nil {
			return err
		}
		args = []any{string(b)}
	}
	rows, err := s.stmts[stmtKey{kind: kindKeysHeld}].QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var caller, key, id string
		if err := rows.Scan(&caller, &key, &id); err != nil {
			return err
		}
		found(caller, key, id)
	}
	return rows.Err()
}

// mapErr turns an idempotency-key violation into ErrDuplicateKey.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" && pg.ConstraintName == "messages_idempotency_uq" {
		return fmt.Errorf("%w: %v", ErrDuplicateKey, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) && strings.Contains(se.Error(), "messages.idempotency_key") {
		return fmt.Errorf("%w: %v", ErrDuplicateKey, err)
	}
	return fmt.Errorf("store: record: %w", err)
}

type stmtKey struct {
	kind string
	rows int
}

const (
	kindMessages  = "messages"
	kindAttempts  = "attempts"
	kindAudit     = "audit"
	kindAuditHead = "audit+head"
	kindHeadGet   = "head-get"
	kindHeadSet   = "head-set"
	kindKeysHeld  = "keys-held"
	kindRename    = "messages-rename"
)

// nameCols are the columns that name a message: a later event rarely
// changes them (kindMessages, kindRename).
var nameCols = []string{"route", "direction", "caller", "correlation_id", "idempotency_key", "external_id"}

// eachNameCol is format applied to each of nameCols (as %[1]s), joined by sep.
func eachNameCol(format, sep string) string {
	parts := make([]string, len(nameCols))
	for i, c := range nameCols {
		parts[i] = fmt.Sprintf(format, c)
	}
	return strings.Join(parts, sep)
}

// updateSet is what a later event of a message changes besides nameCols.
// request_fingerprint is left out: it belongs to the call that first took
// the Idempotency-Key.
const updateSet = `status = excluded.status, http_status = excluded.http_status,
  error = excluded.error, request_body = excluded.request_body, response_body = excluded.response_body,
  payload = CASE WHEN excluded.status = 'DELIVERED' THEN NULL ELSE excluded.payload END,
  attempts = messages.attempts + excluded.attempts, updated_at = excluded.updated_at,
  subject = CASE WHEN excluded.subject <> '' THEN excluded.subject ELSE messages.subject END,
  trace_id = CASE WHEN excluded.trace_id <> '' THEN excluded.trace_id ELSE messages.trace_id END,
  trace_parent = CASE WHEN excluded.trace_id <> '' THEN excluded.trace_parent ELSE messages.trace_parent END,
  trace_state = CASE WHEN excluded.trace_id <> '' THEN excluded.trace_state ELSE messages.trace_state END`

func (s *SQLStore) query(k stmtKey) string {
	switch k.kind {
	case kindMessages:
		// An event that keeps the message's nameCols updates the rest
		// only: SQLite rewrites the entries of every index on a column an
		// update sets, changed or not, and nameCols are most of the indexed
		// ones. An event that renames the message is not updated here, so
		// not returned, and is written as kindRename.
		return "INSERT INTO messages (" + messageCols + ") VALUES " + placeholders(k.rows, messageColCount) + `
ON CONFLICT (id) DO UPDATE SET ` + updateSet + `
WHERE ` + eachNameCol("messages.%[1]s = excluded.%[1]s", " AND ") + `
RETURNING id, attempts`
	case kindRename:
		return "INSERT INTO messages (" + messageCols + ") VALUES " + placeholders(1, messageColCount) + `
ON CONFLICT (id) DO UPDATE SET ` + eachNameCol("%[1]s = excluded.%[1]s", ", ") + ", " + updateSet + `
RETURNING id, attempts`
	case kindAttempts:
		return "INSERT INTO attempts (message_id, n, endpoint, http_status, latency_ms, error, request_body, response_body, started_at) VALUES " +
			placeholders(k.rows, 9)
	case kindAudit:
		return "INSERT INTO audit (seq, at, message_id, actor, action, detail, prev_hash, hash) VALUES " +
			placeholders(k.rows, 8)
	case kindAuditHead:
		// PostgreSQL only: append and move the head in one round trip.
		return "WITH ins AS (INSERT INTO audit (seq, at, message_id, actor, action, detail, prev_hash, hash) VALUES " +
			placeholders(k.rows, 8) + ") UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
	case kindHeadGet:
		if s.d.isPostgres() {
			// Takes the chain lock, then reads the head, in one round trip.
			// The advisory lock is taken in the WHERE clause, before the
			// row is locked; FOR UPDATE then returns the newest committed
			// version of the row even though this statement's snapshot
			// predates the wait (READ COMMITTED re-fetches updated rows it
			// locks), so the head is never stale.
			return "SELECT seq, hash FROM audit_head WHERE id = 1 AND pg_advisory_xact_lock(?) IS NOT NULL FOR UPDATE"
		}
		return "SELECT seq, hash FROM audit_head WHERE id = 1"
	case kindHeadSet:
		return "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
	case kindKeysHeld:
		// The (caller, key) pairs come as two arrays on PostgreSQL and as
		// one JSON array of pairs on SQLite; each is looked up in the
		// unique index messages_idempotency_uq.
		if s.d.isPostgres() {
			return queryKeysHeldPostgres
		}
		return queryKeysHeldSQLite
	}
	panic("store: unknown statement " + k.kind)
}

const (
	queryKeysHeldPostgres = `SELECT m.caller, m.idempotency_key, m.id
FROM unnest(?::text[], ?::text[]) AS k(caller, key)
JOIN messages AS m ON m.caller = k.caller AND m.idempotency_key = k.key
WHERE m.idempotency_key <> ''`
	queryKeysHeldSQLite = `SELECT m.caller, m.idempotency_key, m.id
FROM json_each(?) AS k
JOIN messages AS m ON m.caller = k.value ->> 0 AND m.idempotency_key = k.value ->> 1
WHERE m.idempotency_key <> ''`
)

// text is statement k in the dialect's placeholders, built once: prepared
// on SQLite, queued in a pipeline on PostgreSQL.
func (s *SQLStore) text(k stmtKey) string {
	q, ok := s.texts[k]
	if !ok {
		q = s.d.rebind(s.query(k))
		s.texts[k] = q
	}
	return q
}

// prepare makes sure the statements are prepared on the writer connection.
// It must run outside a transaction: the writer pool has one connection.
func (s *SQLStore) prepare(ctx context.Context, keys []stmtKey) error {
	for _, k := range keys {
		if _, ok := s.stmts[k]; ok {
			continue
		}
		st, err := s.wdb.PreparexContext(ctx, s.text(k))
		if err != nil {
			return fmt.Errorf("prepare %s×%d: %w", k.kind, k.rows, err)
		}
		s.stmts[k] = st
	}
	return nil
}

// exactChunk is the largest statement size prepared for any row count:
// a batch of up to this many rows is one statement (one round trip) per
// table; above it, power-of-two chunks keep the prepared set small.
const exactChunk = 64

// chunks splits n rows into statement sizes, largest first.
func chunks(n int) []int {
	var out []int
	for p := maxBatch; p > exactChunk; p /= 2 {
		for n >= p {
			out = append(out, p)
			n -= p
		}
	}
	for n > exactChunk {
		out = append(out, exactChunk)
		n -= exactChunk
	}
	if n > 0 {
		out = append(out, n)
	}
	return out
}

// batchContext bounds the writer's work on one batch by batchTimeout on
// PostgreSQL and not at all on SQLite (see batchTimeout).
func (s *SQLStore) batchContext() (context.Context, context.CancelFunc) {
	if s.d.isPostgres() {
		return context.WithTimeout(context.Background(), batchTimeout)
	}
	return context.Background(), func() {}
}

// writeBatch writes the events in one transaction.
func (s *SQLStore) writeBatch(reqs []*request) error {
	start := time.Now()
	err := s.writeTx(reqs)
	s.writerBusy.Add(int64(time.Since(start)))
	if err == nil {
		s.committed.Add(1)
		s.committedEvents.Add(int64(len(reqs)))
	}
	return err
}

// writeTx writes reqs in one transaction.
func (s *SQLStore) writeTx(reqs []*request) error {
	ctx, cancel := s.batchContext()
	defer cancel()

	// Messages go in rounds so that no id occurs twice in one upsert
	// (PostgreSQL refuses to update a row twice in one statement); round k
	// holds each id's k-th event of the batch, which keeps per-id order.
	var rounds [][]int // indexes into reqs
	seen := map[string]int{}
	nAttempts, nAudit := 0, 0
	for i, r := range reqs {
		if m := r.ev.Message; m != nil {
			k := seen[m.ID]
			seen[m.ID] = k + 1
			if k == len(rounds) {
				rounds = append(rounds, nil)
			}
			rounds[k] = append(rounds[k], i)
		}
		nAttempts += len(r.ev.Attempts)
		nAudit += len(r.ev.Audit)
	}

	if s.d.isPostgres() {
		conn, err := s.wdb.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		return conn.Raw(func(dc any) error {
			st := &pgSteps{ctx: ctx, s: s, conn: dc.(*stdlib.Conn).Conn()}
			st.rollback() // a connection left inside a transaction would put this batch in it
			st.execSQL("begin", "BEGIN")
			err := s.writeSteps(st, reqs, rounds, nAttempts, nAudit)
			if err != nil {
				st.rollback()
			}
			return err
		})
	}

	keys := []stmtKey{{kind: kindHeadGet}, {kind: kindRename, rows: 1}, {kind: kindHeadSet}}
	for _, round := range rounds {
		for _, c := range chunks(len(round)) {
			keys = append(keys, stmtKey{kindMessages, c})
		}
	}
	for _, c := range chunks(nAttempts) {
		keys = append(keys, stmtKey{kindAttempts, c})
	}
	for _, c := range chunks(nAudit) {
		keys = append(keys, stmtKey{kindAudit, c})
	}
	if err := s.prepare(ctx, keys); err != nil {
		return err
	}
	tx, err := s.wdb.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	return s.writeSteps(&sqlSteps{ctx: ctx, s: s, tx: tx}, reqs, rounds, nAttempts, nAudit)
}

// writeSteps adds a batch's statements to st and commits them: the audit
// head read under the chain's lock, the messages (a round at a time), their
// attempts, evidence and holds, then the audit records chained from the head.
func (s *SQLStore) writeSteps(st steps, reqs []*request, rounds [][]int, nAttempts, nAudit int) error {
	// The head is read inside the transaction, under the write lock (BEGIN
	// IMMEDIATE on SQLite, pg_advisory_xact_lock on PostgreSQL), rather than
	// trusted from memory: another process may have appended since. It comes
	// from audit_head rather than MAX(seq) so that a truncated tail stays
	// visible to VerifyAudit instead of being papered over.
	var head auditHead
	var headArgs []any
	if s.d.isPostgres() {
		headArgs = []any{int64(auditLockKey)}
	}
	headRead := false
	st.query(stmtKey{kind: kindHeadGet}, headArgs, func(scan func(...any) error) error {
		headRead = true
		return scan(&head.Seq, &head.Hash)
	})

	// attemptsAfter[i] is the message's attempt count after reqs[i].
	attemptsAfter := make([]int, len(reqs))
	for _, round := range rounds {
		type upsert struct {
			part []int
			args []any
		}
		got := make(map[string]int, len(round))
		note := func(scan func(...any) error) error {
			var id string
			var n int
			if err := scan(&id, &n); err != nil {
				return err
			}
			got[id] = n
			return nil
		}
		var ups []upsert
		pos := 0
		for _, c := range chunks(len(round)) {
			part := round[pos : pos+c]
			pos += c
			args := make([]any, 0, c*messageColCount)
			for _, i := range part {
				args = s.appendMessageArgs(args, reqs[i])
			}
			st.query(stmtKey{kindMessages, c}, args, note)
			ups = append(ups, upsert{part, args})
		}
		if err := st.flush(); err != nil {
			return err
		}
		for _, u := range ups {
			for j, i := range u.part {
				id := reqs[i].ev.Message.ID
				n, ok := got[id]
				if !ok {
					// Renamed by this event: written now, before a later
					// round writes the message's next event.
					st.query(stmtKey{kindRename, 1}, u.args[j*messageColCount:(j+1)*messageColCount], note)
					if err := st.flush(); err != nil {
						return err
					}
					if n, ok = got[id]; !ok {
						return fmt.Errorf("upsert messages: no row returned for %q", id)
					}
				}
				attemptsAfter[i] = n
			}
		}
	}
	if err := st.flush(); err != nil {
		return err
	}
	if !headRead {
		return errors.New("lock and read audit head: no row")
	}

	if nAttempts > 0 {
		args := make([]any, 0, nAttempts*9)
		for i, r := range reqs {
			base := attemptsAfter[i] - len(r.ev.Attempts)
			for j, a := range r.ev.Attempts {
				n := a.N
				if n == 0 {
					n = base + j + 1
				}
				started := a.StartedAt
				if started.IsZero() {
					started = r.now
				}
				args = append(args, r.ev.Message.ID, n, a.Endpoint, a.HTTPStatus, a.LatencyMS, a.Error,
					s.d.blob(a.RequestBody), s.d.blob(a.ResponseBody), s.d.ts(started))
			}
		}
		execChunks(st, kindAttempts, kindAttempts, 9, args)
	}

	s.writeEvidence(st, reqs)
	if err := s.writeHeld(st, reqs); err != nil {
		return err
	}

	if nAudit > 0 {
		args := make([]any, 0, nAudit*8)
		for _, r := range reqs {
			for _, e := range r.ev.Audit {
				rec := AuditRecord{Seq: head.Seq + 1, At: e.At, MessageID: e.MessageID, Actor: e.Actor,
					Action: e.Action, Detail: e.Detail, PrevHash: head.Hash}
				if rec.At.IsZero() {
					rec.At = r.now
				}
				rec.At = normTime(rec.At)
				if rec.MessageID == "" && r.ev.Message != nil {
					rec.MessageID = r.ev.Message.ID
				}
				rec.Hash = Chain(rec)
				args = append(args, rec.Seq, s.d.ts(rec.At), rec.MessageID, rec.Actor, rec.Action, rec.Detail, rec.PrevHash, rec.Hash)
				head = auditHead{Seq: rec.Seq, Hash: rec.Hash}
			}
		}
		if s.d.isPostgres() {
			// The last chunk moves the head in the same statement.
			execChunks(st, kindAudit, kindAuditHead, 8, args, head.Seq, head.Hash)
		} else {
			execChunks(st, kindAudit, kindAudit, 8, args)
			st.exec(stmtKey{kind: kindHeadSet}, head.Seq, head.Hash)
		}
	}
	return st.commit()
}

// appendMessageArgs appends the messages row of r's event to args.
func (s *SQLStore) appendMessageArgs(args []any, r *request) []any {
	m := r.ev.Message
	created := m.CreatedAt
	if created.IsZero() {
		created = r.now
	}
	payload := m.Payload
	if m.Status == Delivered {
		payload = nil
	}
	return append(args, m.ID, m.Route, string(m.Direction), m.Caller, m.CorrelationID,
		m.IdempotencyKey, m.ExternalID, string(m.Status), m.HTTPStatus, m.Error,
		s.d.body(m.RequestBody), s.d.body(m.ResponseBody), s.d.blob(payload),
		len(r.ev.Attempts), s.d.ts(created), s.d.ts(r.now), m.RequestFingerprint, m.Subject, m.TraceID, m.TraceParent, m.TraceState)
}

// execChunks adds a multi-row insert over args (cols values per row) in the
// chunks that chunks gives, the ones prepare was asked for; the last chunk
// uses lastKind, followed by extra arguments.
func execChunks(st steps, kind, lastKind string, cols int, args []any, extra ...any) {
	pos := 0
	cs := chunks(len(args) / cols)
	for i, c := range cs {
		k, a := kind, args[pos:pos+c*cols]
		if i == len(cs)-1 {
			k = lastKind
			if len(extra) > 0 {
				a = append(a[:len(a):len(a)], extra...)
			}
		}
		st.exec(stmtKey{k, c}, a...)
		pos += c * cols
	}
}
