package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/minfin-kz/kopir/internal/broker"
	"github.com/minfin-kz/kopir/internal/testenv"
	"github.com/nats-io/nats.go"
)

// requireServer skips when a local server is down, except under CI=true,
// where these tests must run.
func requireServer(t *testing.T, name, addr string) {
	t.Helper()
	testenv.RequireTCP(t, name, addr)
}

// requireExternalServices skips an end-to-end test of the production
// shape in -short runs or when a local server is down (not under CI), and
// gives the test a suffix for the schema and stream it makes.
func requireExternalServices(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end")
	}
	requireServer(t, "PostgreSQL", "127.0.0.1:5432")
	requireServer(t, "NATS", "127.0.0.1:4222")
	requireServer(t, "Redis", "127.0.0.1:6379")
	return uniqueSuffix()
}

// uniqueSuffix tells a test run's schema and stream apart from others'.
func uniqueSuffix() string { return fmt.Sprintf("%d_%d", time.Now().Unix(), rand.IntN(1e6)) }

// TestOnExternalServices runs the bus on PostgreSQL, an external NATS
// JetStream and Redis — the production shape — and checks sync calls,
// idempotent repeats served from Redis, async delivery through a kill -9,
// and the audit chain.
func TestOnExternalServices(t *testing.T) {
	suffix := requireExternalServices(t)

	schema := "e2e_" + suffix
	freshSchema(t, schema)
	stream := "E2E_" + suffix
	t.Cleanup(func() { deleteStream(stream) })
	t.Setenv("KOPIR_DATABASE_URL", schemaDSN(schema))
	t.Setenv("KOPIR_NATS_URL", "nats://127.0.0.1:4222")
	t.Setenv("KOPIR_NATS_STREAM", stream)
	t.Setenv("KOPIR_REDIS_URL", "redis://127.0.0.1:6379/0")

	h := newHarness(t, "{attempts: 30, backoff: 20ms, cap: 200ms}")
	key := map[string]string{"Idempotency-Key": "ext-" + suffix}
	r1, p1 := h.raw("POST", "/v1/routes/gbdfl.person", "demo-token", key, `{"iin":"931002451325"}`)
	r2, p2 := h.raw("POST", "/v1/routes/gbdfl.person", "demo-token", key, `{"iin":"931002451325"}`)
	if r1.StatusCode != 200 || r2.StatusCode != 200 || r2.Header.Get("Idempotent-Replayed") != "true" || p1["lastName"] != p2["lastName"] || p1["birthDate"] != "1993-10-02" {
		t.Fatalf("sync on external services: %d %v / %d %v", r1.StatusCode, p1, r2.StatusCode, p2)
	}

	h.mockControl("PUT", "/_control/faults/subscriber", `{"failRate":0.3,"status":503}`)
	const total = 60
	for i := range total {
		if i == total/2 {
			h.kill9()
			h.start()
		}
		status, out, err := h.call("subscriber.deliver", fmt.Sprintf("ext-%s-%d", suffix, i), fmt.Sprintf(`{"n":%d}`, i))
		if err != nil || status != 202 {
			t.Fatalf("async %d: %d %v %v", i, status, out, err)
		}
	}
	// A message in flight when the bus was killed comes back only after
	// the consumer's AckWait, so the wait outlasts it.
	waitCounts(t, h, broker.DefaultAckWait+30*time.Second, func(c map[string]int) bool {
		return c["DELIVERED"]+c["DEAD"] == total && c["QUEUED"] == 0
	})

	var v struct{ OK bool }
	if code := h.adminGet("/admin/v1/audit/verify", &v); code != 200 || !v.OK {
		t.Errorf("audit on PostgreSQL: %d %+v", code, v)
	}
	var n int
	pgAdmin(t).QueryRowContext(context.Background(), "SELECT count(*) FROM "+schema+".messages WHERE status = 'DELIVERED'").Scan(&n)
	if n != total+1 {
		t.Errorf("PostgreSQL holds %d delivered messages, want %d", n, total+1)
	}
	if !strings.HasPrefix(os.Getenv("KOPIR_DATABASE_URL"), "postgres://") {
		t.Fatal("not on PostgreSQL")
	}
}

// pgAdmin is a connection to the local PostgreSQL's test database, for a
// test to make and drop the schema its bus runs in.
func pgAdmin(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", pgBase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// pgBase is the local PostgreSQL the end-to-end tests use.
const pgBase = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// freshSchema creates the PostgreSQL schema name for the test alone,
// dropped after it.
func freshSchema(t *testing.T, name string) {
	t.Helper()
	requireServer(t, "PostgreSQL", "127.0.0.1:5432")
	db := pgAdmin(t)
	if _, err := db.Exec("CREATE SCHEMA " + name); err != nil {
		testenv.Unavailable(t, "PostgreSQL: create schema %s: %v", name, err)
	}
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + name + " CASCADE") })
}

// schemaDSN is the DSN of the local PostgreSQL with schema first on the
// search path.
func schemaDSN(schema string) string { return pgBase + "&search_path=" + schema }

// deleteStream removes a test run's stream and buckets from the local NATS
// server.
func deleteStream(stream string) {
	if nc, err := nats.Connect("nats://127.0.0.1:4222"); err == nil {
		if js, err := nc.JetStream(); err == nil {
			js.DeleteStream(stream)
			// The bus's key-value buckets (leases, replay jobs) are streams too.
			for _, bucket := range []string{"LEASES", "REPLAY_JOBS"} {
				js.DeleteStream("KV_" + stream + "_" + bucket)
			}
		}
		nc.Close()
	}
}
