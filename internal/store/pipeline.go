package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// On PostgreSQL a batch written statement by statement costs a round trip
// each — BEGIN, the audit head under its lock, the messages, the attempts,
// the audit records, COMMIT — and the writer waits on every one. When the
// writer knows the chain's head (it wrote the last batch), the whole batch
// goes instead as one pipeline that PostgreSQL runs as one implicit
// transaction, committed (durably, synchronous_commit unchanged) when the
// pipeline ends: one round trip.
//
// What the writer cannot know beforehand it has the database check or
// compute inside the pipeline:
//   - that the head is still the one it chained from: the first statement
//     takes the chain lock and divides by zero when the head moved
//     (another bus process appended), which aborts the transaction; the
//     batch is then written the classic way, reading the head;
//   - the numbers of attempts the caller left unnumbered: computed from
//     the message's attempt count the upsert just set.
//
// Batches holding evidence, held-queue rows, or two events of one message
// take the classic path: they are rare, and the classic path orders them.

// headCheckSQL locks the chain and fails unless its head is ($2, $3).
const headCheckSQL = "SELECT 1 / (CASE WHEN seq = $2 AND hash = $3 THEN 1 ELSE 0 END) FROM audit_head WHERE id = 1 AND pg_advisory_xact_lock($1) IS NOT NULL FOR UPDATE"

// sqlstateDivisionByZero is how headCheckSQL says the head moved.
const sqlstateDivisionByZero = "22012"

// errHeadMoved makes the writer fall back to the classic path.
var errHeadMoved = errors.New("store: the audit head moved")

// attemptsNumberedSQL inserts rows attempts, numbering those without a
// number from the count the message row holds after this batch's upsert.
func attemptsNumberedSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO attempts (message_id, n, endpoint, http_status, latency_ms, error, request_body, response_body, started_at)
SELECT v.message_id, CASE WHEN v.n > 0 THEN v.n ELSE m.attempts - v.back END, v.endpoint, v.http_status, v.latency_ms, v.error, v.request_body, v.response_body, v.started_at
FROM (VALUES `)
	p := 1
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d::text, $%d::int, $%d::int, $%d::text, $%d::int, $%d::float8, $%d::text, $%d::bytea, $%d::bytea, $%d::timestamptz)",
			p, p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9)
		p += 10
	}
	b.WriteString(`) AS v(message_id, n, back, endpoint, http_status, latency_ms, error, request_body, response_body, started_at)
JOIN messages m ON m.id = v.message_id`)
	return b.String()
}

// pipelinable reports whether reqs may take the one-round-trip path.
func (s *SQLStore) pipelinable(reqs []*request) bool {
	if !s.d.isPostgres() || !s.headKnown {
		return false
	}
	seen := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		ev := r.ev
		if len(ev.Evidence) > 0 || len(ev.PurgeEvidence) > 0 || ev.Hold != nil || len(ev.HeldChanges) > 0 {
			return false
		}
		if m := ev.Message; m != nil {
			if seen[m.ID] {
				return false
			}
			seen[m.ID] = true
		}
	}
	return true
}

// writePipelined writes reqs as one pipeline (see above) and returns the
// chain's new head; errHeadMoved when another writer appended since.
func (s *SQLStore) writePipelined(ctx context.Context, reqs []*request) (auditHead, error) {
	head := s.head
	b := &pgx.Batch{}
	nAudit := 0
	for _, r := range reqs {
		nAudit += len(r.ev.Audit)
	}
	if nAudit > 0 {
		b.Queue(headCheckSQL, int64(auditLockKey), head.Seq, head.Hash)
	}
	var msgArgs []any
	var msgIDs []string
	var attArgs []any
	for _, r := range reqs {
		m := r.ev.Message
		if m == nil {
			continue
		}
		msgIDs = append(msgIDs, m.ID)
		msgArgs = append(msgArgs, s.messageArgs(r)...)
		n := len(r.ev.Attempts)
		for j, a := range r.ev.Attempts {
			started := a.StartedAt
			if started.IsZero() {
				started = r.now
			}
			attArgs = append(attArgs, m.ID, a.N, n-j-1, a.Endpoint, a.HTTPStatus, a.LatencyMS, a.Error,
				s.d.blob(a.RequestBody), s.d.blob(a.ResponseBody), s.d.ts(started))
		}
	}
	var upserts, attInserts []int // rows each queued statement must touch
	pos := 0
	for _, c := range chunks(len(msgIDs)) {
		b.Queue(s.d.rebind(s.query(stmtKey{kindMessages, c})), msgArgs[pos*messageColCount:(pos+c)*messageColCount]...)
		upserts = append(upserts, c)
		pos += c
	}
	pos = 0
	for _, c := range chunks(len(attArgs) / 10) {
		b.Queue(attemptsNumberedSQL(c), attArgs[pos*10:(pos+c)*10]...)
		attInserts = append(attInserts, c)
		pos += c
	}
	if nAudit > 0 {
		args := s.chain(reqs, &head)
		cs := chunks(nAudit)
		pos = 0
		for i, c := range cs {
			a := args[pos*8 : (pos+c)*8]
			kind := kindAudit
			if i == len(cs)-1 {
				kind = kindAuditHead
				a = append(a[:len(a):len(a)], head.Seq, head.Hash)
			}
			b.Queue(s.d.rebind(s.query(stmtKey{kind, c})), a...)
			pos += c
		}
	}

	conn, err := s.wdb.DB.Conn(ctx)
	if err != nil {
		return auditHead{}, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		br := pc.SendBatch(ctx, b)
		err := readPipeline(br, nAudit > 0, upserts, attInserts)
		if cerr := br.Close(); err == nil {
			err = cerr // the implicit transaction's commit
		}
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == sqlstateDivisionByZero {
		return auditHead{}, errHeadMoved
	}
	if err == nil {
		s.pipelined.Add(1)
	}
	return head, err
}

// readPipeline reads each statement's result in the order queued and
// checks that every row was written.
func readPipeline(br pgx.BatchResults, headCheck bool, upserts, attInserts []int) error {
	if headCheck {
		var one int
		if err := br.QueryRow().Scan(&one); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return errors.New("lock and check audit head: audit_head has no row")
			}
			return fmt.Errorf("lock and check audit head: %w", err)
		}
	}
	for _, want := range upserts {
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("upsert messages: %w", err)
		}
		got := 0
		for rows.Next() {
			got++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("upsert messages: %w", err)
		}
		if got != want {
			return fmt.Errorf("upsert messages: %d rows returned for %d messages", got, want)
		}
	}
	for _, want := range attInserts {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("insert attempts: %w", err)
		}
		if int(tag.RowsAffected()) != want {
			return fmt.Errorf("insert attempts: %d of %d rows found their message", tag.RowsAffected(), want)
		}
	}
	return nil
}
