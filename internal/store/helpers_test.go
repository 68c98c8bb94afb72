package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/minfin-kz/kopir/internal/testenv"
)

const defaultTestPG = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// backend opens fresh stores of one kind. dsn is what Open takes; raw is a
// direct, writable handle to the same database for tampering and checks.
type backend struct {
	name string
	// fresh returns the DSN of a new, empty database (SQLite file or
	// PostgreSQL schema), removed at the end of the test.
	fresh func(tb testing.TB) string
}

func backends() []backend {
	return []backend{
		{name: "sqlite", fresh: freshSQLite},
		{name: "postgres", fresh: freshPostgres},
	}
}

// eachBackend runs fn as a subtest per backend.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

func freshSQLite(tb testing.TB) string {
	return "sqlite://" + filepath.Join(tb.TempDir(), "data", "kopir.db")
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freshPostgres creates a schema of its own and returns a DSN whose
// search_path points at it. An unreachable server skips the test, except
// under CI=true where it fails: CI must not pass by testing nothing.
func freshPostgres(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("KOPIR_TEST_DATABASE_URL")
	if base == "" {
		base = defaultTestPG
	}
	db, err := sqlx.Open("pgx", base)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if db != nil {
			db.Close()
		}
		testenv.Unavailable(tb, "PostgreSQL at %s unreachable: %v", base, err)
	}
	schema := "t_" + randHex(6)
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		db.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// rawDB opens the database behind dsn directly, bypassing the store.
func rawDB(tb testing.TB, dsn string) (*sqlx.DB, dialect) {
	tb.Helper()
	var db *sqlx.DB
	var err error
	d := sqliteDialect
	if strings.HasPrefix(dsn, "postgres") {
		d = postgresDialect
		db, err = sqlx.Open("pgx", dsn)
	} else {
		db, err = sqlx.Open("sqlite", strings.TrimPrefix(dsn, "sqlite://")+"?_pragma=busy_timeout(10000)")
	}
	if err != nil {
		tb.Fatalf("raw open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, d
}

func openStore(tb testing.TB, dsn string) *SQLStore {
	tb.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open(%s): %v", dsn, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func newStore(t *testing.T, b backend) (*SQLStore, string) {
	t.Helper()
	dsn := b.fresh(t)
	return openStore(t, dsn), dsn
}

func record(t testing.TB, s Store, ev Event) {
	t.Helper()
	if err := s.Record(context.Background(), ev); err != nil {
		t.Fatalf("Record: %v", err)
	}
}

func mustVerify(t testing.TB, s Store) VerifyResult {
	t.Helper()
	res, err := s.VerifyAudit(context.Background())
	if err != nil {
		t.Fatalf("VerifyAudit: %v", err)
	}
	return res
}
