package store

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRecordParallel measures group commit from 32 goroutines. Each
// goroutine plays message lifecycles: a RECEIVED insert (bodies, payload,
// one audit entry), then a DELIVERED update (one attempt, one audit entry,
// payload dropped); each Record call is one op.
func BenchmarkRecordParallel(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			s := openStore(b, be.fresh(b))
			body := json.RawMessage(`{"iin":"***","name":"***","service":"egov.person","items":[1,2,3,4,5,6,7,8]}`)
			payload := []byte(`{"iin":"880101300123","name":"Айгерим Садыкова","service":"egov.person"}`)
			var gid atomic.Int64
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((32 + procs - 1) / procs)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				g := gid.Add(1)
				i := 0
				var m *Message
				for pb.Next() {
					var ev Event
					if i%2 == 0 {
						m = &Message{ID: fmt.Sprintf("b%d-%d", g, i), Route: "egov.person", Direction: Outbound,
							Caller: "tax", IdempotencyKey: fmt.Sprintf("k%d-%d", g, i), Status: Received,
							RequestBody: body, Payload: payload}
						ev = Event{Message: m, Audit: []AuditEntry{{Actor: "tax", Action: "RECEIVED"}}}
					} else {
						m.Status, m.HTTPStatus, m.ResponseBody = Delivered, 200, body
						ev = Event{Message: m, Attempts: []Attempt{{Endpoint: "https://egov.example/person", HTTPStatus: 200, LatencyMS: 12.5}},
							Audit: []AuditEntry{{Actor: "bus", Action: "DELIVERED"}}}
					}
					if err := s.Record(ctx, ev); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
			b.ReportMetric(float64(b.N)/float64(max(s.batches.Load(), 1)), "events/batch")
		})
	}
}

// lookupRows is the table size at which keyed acceptance was seen to fall
// from 660/s to 47/s while the idempotency lookup read the whole table.
const lookupRows = 86000

// BenchmarkLookups measures the intake's lookups and a listing page against
// a store holding lookupRows messages.
func BenchmarkLookups(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			dsn := be.fresh(b)
			s := openStore(b, dsn)
			raw, d := rawDB(b, dsn)
			fillMessages(b, raw, d, lookupRows)
			b.Run("FindByIdempotencyKey", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					n := (i * 7919 * 2) % lookupRows
					if _, err := s.FindByIdempotencyKey(ctx, fmt.Sprintf("c%d", n/3%5), fmt.Sprintf("k%d", n)); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("FindByExternalID", func(b *testing.B) {
				for i := 0; b.Loop(); i++ {
					n := (i * 7919 * 5) % lookupRows
					if _, err := s.FindByExternalID(ctx, fmt.Sprintf("r%d", n%8), fmt.Sprintf("x%d", n)); err != nil {
						b.Fatal(err)
					}
				}
			})
			// Ten pages of a status, as an operator or the recovery sweep
			// walks them.
			for _, st := range []Status{Queued, Delivered} {
				b.Run("List "+string(st)+" 10 pages", func(b *testing.B) {
					for b.Loop() {
						f := Filter{Status: st, Limit: 100}
						for range 10 {
							page, err := s.List(ctx, f)
							if err != nil || len(page) != f.Limit {
								b.Fatal(len(page), err)
							}
							f.AfterID = page[len(page)-1].ID
						}
					}
				})
			}
		})
	}
}
