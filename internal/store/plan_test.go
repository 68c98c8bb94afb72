package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// hotTables are the tables that grow with traffic: reading one of them
// whole on a request path makes that path slower with every message.
var hotTables = map[string]bool{"messages": true, "attempts": true, "audit": true}

// planRows is enough rows for PostgreSQL's planner, given statistics, to
// prefer an index wherever one serves; SQLite, which the store never
// ANALYZEs, plans by its heuristics whatever the size.
const planRows = 20000

var planBase = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fillMessages writes n messages, one attempt each and two audit records
// each, spread over statuses, routes, callers and directions the way a busy
// bus holds them: nearly everything DELIVERED, a little of the rest. Message
// i is "m%06d", created i seconds after planBase by caller "c<i/3%5>" on
// route "r<i%8>"; even ones carry idempotency key "k<i>".
func fillMessages(tb testing.TB, raw *sqlx.DB, d dialect, n int) {
	tb.Helper()
	tx, err := raw.Beginx()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	const chunk = 500
	for lo := 0; lo < n; lo += chunk {
		var msgs, atts, auds []any
		for i := lo; i < min(lo+chunk, n); i++ {
			status := Delivered
			switch i % 50 {
			case 0:
				status = Queued
			case 1:
				status = Dead
			case 2:
				status = Failed
			case 3:
				status = Received
			case 4, 5:
				status = Rejected
			}
			dir, ext := Outbound, ""
			if i%5 == 0 {
				dir, ext = Inbound, fmt.Sprintf("x%d", i)
			}
			key := ""
			if i%2 == 0 {
				key = fmt.Sprintf("k%d", i)
			}
			subject := ""
			if i%20 == 7 {
				// A minority of messages are about a security, a few
				// dozen of them each.
				subject = fmt.Sprintf("KZKD%08d", i%(n/40+1))
			}
			id := fmt.Sprintf("m%06d", i)
			at := d.ts(planBase.Add(time.Duration(i) * time.Second))
			msgs = append(msgs, id, fmt.Sprintf("r%d", i%8), string(dir), fmt.Sprintf("c%d", i/3%5), key, ext, string(status), at, at, subject, fmt.Sprintf("c%d", i))
			atts = append(atts, id, 1, "https://agency.example/", 200, 1.5, at)
			h := fmt.Sprintf("%064d", i)
			auds = append(auds, 2*i+1, at, id, "bus", "RECEIVED", h, h, 2*i+2, at, id, "bus", string(status), h, h)
		}
		for _, ins := range []struct {
			q    string
			cols int
			args []any
		}{
			{"INSERT INTO messages (id, route, direction, caller, idempotency_key, external_id, status, created_at, updated_at, subject, correlation_id) VALUES ", 11, msgs},
			{"INSERT INTO attempts (message_id, n, endpoint, http_status, latency_ms, started_at) VALUES ", 6, atts},
			{"INSERT INTO audit (seq, at, message_id, actor, action, prev_hash, hash) VALUES ", 7, auds},
		} {
			if _, err := tx.Exec(d.rebind(ins.q+placeholders(len(ins.args)/ins.cols, ins.cols)), ins.args...); err != nil {
				tb.Fatalf("fill: %v", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	if d.isPostgres() {
		// What autovacuum would have done long before a table got this big.
		if _, err := raw.Exec("VACUUM ANALYZE messages, attempts, audit, audit_head"); err != nil {
			tb.Fatal(err)
		}
	}
}

type planCase struct {
	name string
	q    string // rebound for the dialect
	args []any
	// page marks a List query: ORDER BY created_at DESC, id DESC LIMIT n,
	// which may walk an index in that order and stop after n rows. Every
	// other query must reach its rows through an index condition.
	page bool
	// after marks a page after the first: it must seek to the AfterID's
	// position, not walk the index from the newest row to it, or each page
	// costs more than the one before.
	after bool
	// inOrder marks a page whose filter is one status (with or without a
	// time window): on SQLite it must come out of an index in order rather
	// than by sorting every message in the status.
	inOrder bool
	// arbiter is the index a PostgreSQL upsert must find conflicts through.
	arbiter string
}

// hotQueries are the queries the store runs on request and delivery paths,
// built by the same code as the store's methods, with arguments shaped like
// their callers' (intake, delivery recovery and depth gauge, bulk replay,
// admin listing, health check, the writer).
func hotQueries(s *SQLStore) []planCase {
	d := s.d
	after := planBase.Add(planRows / 2 * time.Second)
	afterID := fmt.Sprintf("m%06d", planRows/2)
	since, before := planBase.Add(time.Hour), planBase.Add(2*time.Hour)
	cs := []planCase{
		{name: "Get", q: d.rebind(messageQuery(whereID)), args: []any{"m000123"}},
		{name: "FindByIdempotencyKey", q: d.rebind(messageQuery(whereIdempotencyKey)), args: []any{"c1", "k124"}},
		{name: "FindByExternalID", q: d.rebind(messageQuery(whereExternalID)), args: []any{"r5", "x125"}},
		{name: "Attempts", q: d.rebind(attemptsQuery), args: []any{"m000123"}},
		{name: "Audit", q: d.rebind(auditQuery), args: []any{"m000123"}},
		{name: "List/AfterID created_at", q: d.rebind(createdAtQuery), args: []any{afterID}},
	}
	lists := []struct {
		name    string
		f       Filter
		inOrder bool
	}{
		{"recovery", Filter{Status: Queued, Limit: 1000}, true},
		{"replay status", Filter{Status: Dead, Limit: 500}, true},
		{"replay status route", Filter{Status: Dead, Route: "r1", Limit: 500}, false},
		{"replay status window", Filter{Status: Failed, Since: since, Before: before, Limit: 500}, true},
		{"replay status route window", Filter{Status: Failed, Route: "r2", Since: since, Before: before, Limit: 500}, false},
		{"admin all", Filter{Limit: 100}, false},
		{"admin status", Filter{Status: Delivered, Limit: 100}, true},
		{"admin route", Filter{Route: "r3", Limit: 100}, false},
		{"admin status route", Filter{Status: Queued, Route: "r3", Limit: 100}, false},
		{"admin direction", Filter{Direction: Inbound, Limit: 100}, false},
		{"admin caller", Filter{Caller: "c2", Limit: 100}, false},
		{"admin window", Filter{Since: since, Before: before, Limit: 100}, false},
		{"about a subject", Filter{Subject: "KZKD00001236", Limit: 1000}, true},
		{"by external id", Filter{ExternalID: "x125", Limit: 100}, false},
		{"by correlation id", Filter{CorrelationID: "c125", Limit: 100}, true},
	}
	for _, l := range lists {
		q, args := s.listQuery(l.f, time.Time{})
		cs = append(cs, planCase{name: "List/" + l.name, q: q, args: args, page: true, inOrder: l.inOrder})
		l.f.AfterID = afterID
		q, args = s.listQuery(l.f, after)
		cs = append(cs, planCase{name: "List/" + l.name + " after", q: q, args: args, page: true, after: true, inOrder: l.inOrder})
	}
	// An unfiltered Count (the operators' dashboard) reads every row by its
	// nature; these are the counts taken per tick, per replay and per health
	// check.
	counts := []struct {
		name string
		f    Filter
	}{
		{"queue depth", Filter{Status: Queued, Route: "r4"}},
		{"health", Filter{Status: Dead, Route: "-"}},
		{"replay status", Filter{Status: Dead}},
		{"replay status route window", Filter{Status: Failed, Route: "r2", Since: since, Before: before}},
	}
	for _, c := range counts {
		q, args := s.countQuery(c.f)
		cs = append(cs, planCase{name: "Count/" + c.name, q: q, args: args})
	}

	// The writer: its upsert finds an existing row by the primary key (and
	// checks the idempotency index); appends and the head update are keyed.
	now := d.ts(time.Now())
	seq := planRows*2 + 1
	writer := map[stmtKey][]any{
		{kindMessages, 1}:   {"m000123", "r3", "OUT", "c1", "", "k-new", "", "QUEUED", 0, "", nil, nil, nil, 0, now, now, "", "", "", "", ""},
		{kindAttempts, 1}:   {"m000123", 9, "https://agency.example/", 200, 1.5, "", nil, nil, now},
		{kindAudit, 1}:      {seq, now, "m000123", "bus", "DELIVERED", "", "h", "h"},
		{kind: kindHeadSet}: {seq, "h"},
		{kind: kindHeadGet}: nil,
	}
	writer[stmtKey{kind: kindKeysHeld}] = []any{`[["c1","k124"],["c2","k-new"]]`}
	if d.isPostgres() {
		writer[stmtKey{kind: kindHeadGet}] = []any{int64(auditLockKey)}
		writer[stmtKey{kindAuditHead, 1}] = []any{seq, now, "m000123", "bus", "DELIVERED", "", "h", "h", seq, "h"}
		writer[stmtKey{kind: kindKeysHeld}] = []any{[]string{"c1", "c2"}, []string{"k124", "k-new"}}
	}
	for k, args := range writer {
		c := planCase{name: fmt.Sprintf("writer/%s×%d", k.kind, k.rows), q: d.rebind(s.query(k)), args: args}
		if k.kind == kindMessages {
			c.arbiter = "messages_pkey"
		}
		cs = append(cs, c)
	}
	return cs
}

// TestHotQueriesUseIndexes explains every hot query against a store holding
// planRows messages and fails on a full read of messages, attempts or audit:
// a table scan, or an index walked whole without a condition (allowed only
// to a List page, which stops after its limit). On PostgreSQL both the
// custom plan (for the bound values) and the generic plan (what a prepared
// statement may settle on) are checked.
func TestHotQueriesUseIndexes(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, dsn := newStore(t, b)
		raw, d := rawDB(t, dsn)
		fillMessages(t, raw, d, planRows)
		for _, c := range hotQueries(s) {
			t.Run(c.name, func(t *testing.T) {
				if d.isPostgres() {
					for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
						plan := explainPostgres(t, raw, c, mode)
						t.Logf("%s: %s", mode, pgSummary(plan))
						if bad := pgFullReads(plan, c); len(bad) > 0 {
							t.Errorf("%s reads more of a hot table than it needs (%s): %s\n%s\nplan: %s", c.name, mode, strings.Join(bad, "; "), c.q, pgSummary(plan))
						}
						if c.arbiter != "" && !slices.Contains(pgRoot(plan).Arbiters, c.arbiter) {
							t.Errorf("%s: conflicts not found through %s: %s", c.name, c.arbiter, plan)
						}
					}
					return
				}
				plan := explainSQLite(t, s, c)
				t.Logf("%s", strings.Join(plan, " | "))
				if bad := sqliteFullReads(plan, c); len(bad) > 0 {
					t.Errorf("%s reads more of a hot table than it needs: %s\n%s\nplan:\n%s", c.name, strings.Join(bad, "; "), c.q, strings.Join(plan, "\n"))
				}
			})
		}
	})
}

func explainSQLite(t *testing.T, s *SQLStore, c planCase) []string {
	t.Helper()
	rows, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+c.q, c.args...)
	if err != nil {
		t.Fatalf("explain %s: %v", c.name, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// sqliteFullReads returns the plan lines that read a hot table whole:
// "SCAN t" (the table itself), or "SCAN t USING [COVERING] INDEX i" (every
// entry of an index) outside a first List page, and the sort of a page that
// should have come out of an index in order.
func sqliteFullReads(plan []string, c planCase) []string {
	var bad []string
	for _, line := range plan {
		if c.inOrder && strings.HasPrefix(line, "USE TEMP B-TREE FOR ORDER BY") {
			bad = append(bad, line)
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "SCAN" || !hotTables[f[1]] {
			continue
		}
		if !strings.Contains(line, " INDEX ") || !c.page || c.after {
			bad = append(bad, line)
		}
	}
	return bad
}

// explainPostgres prepares c's query and explains its execution in the
// given plan_cache_mode, on a connection of its own so the setting goes
// nowhere else.
func explainPostgres(t *testing.T, raw *sqlx.DB, c planCase, mode string) string {
	t.Helper()
	conn, err := raw.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	lits := make([]string, len(c.args))
	for i, a := range c.args {
		lits[i] = pgLiteral(t, a)
	}
	exec := "EXECUTE hot"
	if len(lits) > 0 {
		exec += "(" + strings.Join(lits, ", ") + ")"
	}
	var plan string
	for _, q := range []string{"SET plan_cache_mode = " + mode, "PREPARE hot AS " + c.q, "EXPLAIN (FORMAT JSON) " + exec, "DEALLOCATE hot"} {
		if strings.HasPrefix(q, "EXPLAIN") {
			err = conn.QueryRowxContext(ctx, q).Scan(&plan)
		} else {
			_, err = conn.ExecContext(ctx, q)
		}
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return plan
}

func pgLiteral(t *testing.T, v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case []string:
		quoted := make([]string, len(v))
		for i, e := range v {
			quoted[i] = `"` + e + `"`
		}
		return pgLiteral(t, "{"+strings.Join(quoted, ",")+"}")
	case time.Time:
		return "'" + v.Format(time.RFC3339Nano) + "'"
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	t.Fatalf("no literal for %T", v)
	return ""
}

// pgSummary is a plan on one line: each node's type, relation, index and
// index condition, children in brackets.
func pgSummary(plan string) string {
	root := pgRoot(plan)
	if root.Type == "" {
		return plan
	}
	var b strings.Builder
	var walk func(n pgNode)
	walk = func(n pgNode) {
		b.WriteString(n.Type)
		if n.Relation != "" {
			b.WriteString(" on " + n.Relation)
		}
		if n.Index != "" {
			b.WriteString(" using " + n.Index)
		}
		if n.IndexCond != "" {
			b.WriteString(" " + n.IndexCond)
		}
		if n.Filter != "" {
			b.WriteString(" filter " + n.Filter)
		}
		if len(n.Plans) > 0 {
			b.WriteString(" [")
			for i, c := range n.Plans {
				if i > 0 {
					b.WriteString("; ")
				}
				walk(c)
			}
			b.WriteString("]")
		}
	}
	walk(root)
	return b.String()
}

// pgFullReads walks a JSON plan and names the nodes that read a hot table
// whole: a Seq Scan, or an index scan without an Index Cond outside a first
// List page.
func pgFullReads(plan string, c planCase) []string {
	root := pgRoot(plan)
	if root.Type == "" {
		return []string{"unreadable plan"}
	}
	var bad []string
	var walk func(n pgNode)
	walk = func(n pgNode) {
		if hotTables[n.Relation] {
			switch n.Type {
			case "Seq Scan":
				bad = append(bad, "Seq Scan on "+n.Relation)
			case "Index Scan", "Index Only Scan":
				if n.IndexCond == "" && (!c.page || c.after) {
					bad = append(bad, n.Type+" of "+n.Index+" without a condition")
				}
			}
		}
		for _, ch := range n.Plans {
			walk(ch)
		}
	}
	walk(root)
	return bad
}

// pgRoot is the top node of an EXPLAIN (FORMAT JSON) plan; its Type is
// empty if the plan does not parse.
func pgRoot(plan string) pgNode {
	var root []struct {
		Plan pgNode `json:"Plan"`
	}
	if err := json.Unmarshal([]byte(plan), &root); err != nil || len(root) != 1 {
		return pgNode{}
	}
	return root[0].Plan
}

type pgNode struct {
	Type      string   `json:"Node Type"`
	Relation  string   `json:"Relation Name"`
	Index     string   `json:"Index Name"`
	IndexCond string   `json:"Index Cond"`
	Filter    string   `json:"Filter"`
	Arbiters  []string `json:"Conflict Arbiter Indexes"`
	Plans     []pgNode `json:"Plans"`
}
