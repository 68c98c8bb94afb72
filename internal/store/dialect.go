package store

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// dialect holds the few places where SQLite and PostgreSQL differ; every
// query is otherwise written once with ? placeholders and rebound.
type dialect struct {
	name     string // "sqlite" or "postgres"; also the migrations folder
	bindType int    // sqlx.QUESTION or sqlx.DOLLAR
}

var (
	sqliteDialect   = dialect{name: "sqlite", bindType: sqlx.QUESTION}
	postgresDialect = dialect{name: "postgres", bindType: sqlx.DOLLAR}
)

// sqliteTimeLayout is fixed-width (always six fractional digits) so that
// timestamps stored as text sort in time order; RFC3339Nano trims zeros and
// would not.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

func (d dialect) isPostgres() bool { return d.name == "postgres" }

func (d dialect) rebind(q string) string { return sqlx.Rebind(d.bindType, q) }

// ts converts a time to what the driver should bind. Times are normalised
// to UTC microseconds everywhere (PostgreSQL keeps no more), so what is
// hashed into the audit chain is exactly what reads back.
func (d dialect) ts(t time.Time) any {
	t = normTime(t)
	if d.isPostgres() {
		return t
	}
	return t.Format(sqliteTimeLayout)
}

// body binds an optional body: NULL when empty; text in SQLite so JSON stays
// readable (and usable by json_extract), bytea in PostgreSQL.
func (d dialect) body(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	if d.isPostgres() {
		return b
	}
	return string(b)
}

// blob binds opaque bytes, NULL when empty.
func (d dialect) blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// dbTime scans a timestamp from either backend: time.Time from pgx, text
// from SQLite.
type dbTime struct{ time.Time }

func (t *dbTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v.UTC()
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("store: cannot scan %T into a timestamp", src)
	}
	return nil
}

func (t *dbTime) parse(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("store: bad timestamp %q: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}

// placeholders returns "(?,?,?),(?,?,?)" for rows×cols.
func placeholders(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}

var _ sql.Scanner = (*dbTime)(nil)
