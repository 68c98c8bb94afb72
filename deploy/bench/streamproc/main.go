// Command streamproc is make bench's general-purpose stream processor: the
// MIT-licensed Benthos engine (github.com/redpanda-data/benthos/v4) with
// its pure and io components, configured in gbdfl.yaml for the job Köpir's
// gbdfl.person route does, so that issue 14's target 1 (at least twice its
// rate) is measured in the same run as the bus.
//
// The engine's open-source core has neither an XML parser for Bloblang
// nor an SQL output (both live in Redpanda Connect, which is not under an
// open-source licence), so this command adds the two a deployment would
// take from there, as plugins of the engine's public API:
//
//   - parse_xml, a Bloblang method: an XML document as a structured value,
//     elements by local name, an element that repeats as an array, leaf
//     elements as their text (attributes are left out: the answer uses
//     none);
//   - sqlite_record, a batched output: each message of a batch one row of
//     a SQLite table (WAL, synchronous=NORMAL, as Köpir's store sets), the
//     batch one multi-row INSERT in one transaction, acknowledged once
//     committed.
//
// It is a module of its own so that the bus's dependencies stay the bus's.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	_ "modernc.org/sqlite"
)

func main() {
	// The engine's http processor uses Go's default transport, which keeps
	// two idle connections per host: under 32 concurrent calls most would
	// be dialled anew. Köpir keeps a pool as large as its concurrency; so
	// does the comparison.
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 256, 256
	}
	bloblang.MustRegisterMethodV2("parse_xml",
		bloblang.NewPluginSpec().Description("Parses an XML document into a structured value: elements by local name, repeated elements as arrays, leaves as their text."),
		func(*bloblang.ParsedParams) (bloblang.Method, error) {
			return func(v any) (any, error) {
				var doc []byte
				switch v := v.(type) {
				case string:
					doc = []byte(v)
				case []byte:
					doc = v
				default:
					return nil, fmt.Errorf("parse_xml: expected a string or bytes, got %T", v)
				}
				return parseXML(doc)
			}, nil
		})
	service.MustRegisterBatchOutput("sqlite_record", recordSpec(), newRecord)
	service.RunCLI(context.Background())
}

// parseXML turns doc into nested maps: the root element is the one key of
// the result.
func parseXML(doc []byte) (any, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		name string
		kids map[string]any
		text strings.Builder
	}
	stack := []*frame{{kids: map[string]any{}}}
	for {
		// RawToken: names as written, no namespace bookkeeping; the
		// mapping reads elements by local name.
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse_xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, &frame{name: t.Name.Local})
		case xml.CharData:
			stack[len(stack)-1].text.Write(t)
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			var val any = f.kids
			if f.kids == nil {
				val = f.text.String()
			}
			parent := stack[len(stack)-1]
			if parent.kids == nil {
				parent.kids = map[string]any{}
			}
			switch prev := parent.kids[f.name].(type) {
			case nil:
				parent.kids[f.name] = val
			case []any:
				parent.kids[f.name] = append(prev, val)
			default:
				parent.kids[f.name] = []any{prev, val}
			}
		}
	}
	return stack[0].kids, nil
}

// metaColumns are the row's columns taken from the message's metadata of
// the same name; recordColumns add the message itself (the answer) and
// the time of the batch.
var (
	metaColumns   = []string{"id", "route", "request", "soap_request", "soap_response"}
	recordColumns = append(slices.Clone(metaColumns), "answer", "created_at")
)

func recordSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Summary("Writes each message of a batch as one row of the table record in a SQLite database, in one transaction per batch.").
		Field(service.NewStringField("path").Description("The database file.")).
		Field(service.NewBatchPolicyField("batching")).
		Field(service.NewOutputMaxInFlightField().Default(1))
}

type record struct {
	path string
	db   *sql.DB
}

func newRecord(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
	path, err := conf.FieldString("path")
	if err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	policy, err := conf.FieldBatchPolicy("batching")
	if err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	inFlight, err := conf.FieldMaxInFlight()
	if err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	return &record{path: path}, policy, inFlight, nil
}

func (r *record) Connect(ctx context.Context) error {
	db, err := sql.Open("sqlite", r.path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS record (id TEXT PRIMARY KEY, route TEXT NOT NULL,
		request TEXT NOT NULL, soap_request TEXT NOT NULL, soap_response TEXT NOT NULL, answer TEXT NOT NULL, created_at TEXT NOT NULL)`); err != nil {
		db.Close()
		return fmt.Errorf("create table record: %w", err)
	}
	r.db = db
	return nil
}

func (r *record) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	row := "(" + strings.Repeat("?, ", len(recordColumns)-1) + "?)"
	q := "INSERT INTO record (" + strings.Join(recordColumns, ", ") + ") VALUES " + strings.Repeat(row+", ", len(batch)-1) + row
	args := make([]any, 0, len(batch)*len(recordColumns))
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, m := range batch {
		answer, err := m.AsBytes()
		if err != nil {
			return err
		}
		for _, k := range metaColumns {
			v, _ := m.MetaGet(k)
			args = append(args, v)
		}
		args = append(args, string(answer), now)
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("insert %d records: %w", len(batch), err)
	}
	return tx.Commit()
}

func (r *record) Close(context.Context) error {
	if r.db == nil {
		return nil
	}
	return r.db.Close()
}
