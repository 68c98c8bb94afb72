package routes_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	_ "github.com/minfin-kz/kopir/adapters/httpjson"
	"github.com/minfin-kz/kopir/internal/cache"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/metrics"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/ratelimit"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/testenv"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/routes"
)

// agency is a real HTTP server standing in for an agency; it counts calls
// and can be slowed down.
type agency struct {
	*httptest.Server
	calls             atomic.Int64
	inFlight, maxSeen atomic.Int64
	delay             time.Duration
}

func newAgency(t *testing.T, delay time.Duration) *agency {
	a := &agency{delay: delay}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := a.calls.Add(1)
		select { // a caller that gave up is no longer in flight
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
		fmt.Fprintf(w, `{"call":%d}`, n)
	}))
	t.Cleanup(a.Close)
	return a
}

func build(t *testing.T, spec routes.Spec) (*routes.Route, *store.SQLStore) {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/k.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if spec.Adapter == "" {
		spec.Adapter, spec.Operation, spec.Mode = "http", "get", routes.Sync
	}
	if spec.Retry.Attempts == 0 {
		spec.Retry = adapters.RetrySpec{Attempts: 1}
	}
	if spec.Deadline == 0 {
		spec.Deadline = units.Duration(5 * time.Second)
	}
	tbl, err := routes.Build([]routes.Spec{spec}, routes.Deps{Ledger: ledger.New(st, []routes.Spec{spec}, "", slog.Default()), Cache: cache.NewLocal(), Limiter: ratelimit.NewLocal(), Meter: metrics.New(), Log: slog.Default(),
		Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Retry: s.Retry, Breakers: resilience.NewBreakers(nil)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tbl.Get(spec.Name)
	return r, st
}

func call(r *routes.Route, key, body string) (*routes.Exchange, error) {
	x := &routes.Exchange{Route: r, Caller: "demo", Started: time.Now(), Request: adapters.Request{
		Route: r.Name, MessageID: routes.NewMessageID(), CorrelationID: "c", IdempotencyKey: key, Body: []byte(body)}}
	return x, r.Call(context.Background(), x)
}

func TestCachedAnswersRepeatsWithoutTheAgency(t *testing.T) {
	a := newAgency(t, 0)
	r, st := build(t, routes.Spec{Name: "c", Endpoints: []string{a.URL}, CacheTTL: units.Duration(time.Minute)})
	x1, err1 := call(r, "", `{"q":1}`)
	x2, err2 := call(r, "", `{"q":1}`)
	x3, _ := call(r, "", `{"q":2}`)
	if err1 != nil || err2 != nil || string(x1.Response.Body) != string(x2.Response.Body) || a.calls.Load() != 2 {
		t.Fatalf("cache: %v %v %s %s, agency calls %d", err1, err2, x1.Response.Body, x2.Response.Body, a.calls.Load())
	}
	if x2.Outcome != routes.OutcomeCached || x3.Outcome != routes.OutcomeDelivered {
		t.Errorf("outcomes %s %s", x2.Outcome, x3.Outcome)
	}
	m, _ := st.Get(context.Background(), x2.Request.MessageID)
	if m == nil || m.Status != store.Delivered || m.Attempts != 0 {
		t.Errorf("cached answer stored as %+v", m)
	}
}

func TestBulkheadCapsInFlightCalls(t *testing.T) {
	// The agency holds every call until released, so what it sees in
	// flight is exactly what the bulkhead let through.
	var inFlight atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	r, _ := build(t, routes.Spec{Name: "b", Endpoints: []string{srv.URL}, Concurrency: 2, Deadline: units.Duration(2 * time.Second)})
	run := func(ctx context.Context, n int) []error {
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := &routes.Exchange{Route: r, Caller: "demo", Started: time.Now(), Request: adapters.Request{MessageID: routes.NewMessageID(), Body: []byte(`{}`)}}
				errs[i] = r.Call(ctx, x)
			}()
		}
		wg.Wait()
		return errs
	}
	holders := make(chan []error, 1)
	go func() { holders <- run(context.Background(), 2) }()
	for inFlight.Load() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	// Three more callers, whose deadline passes while both slots are held.
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	for _, err := range run(ctx, 3) {
		p := problem.From("", err)
		if p.Status != 503 || p.Title != "Route busy" || p.RetryAfter <= 0 {
			t.Errorf("a caller without a slot got %v", err)
		}
	}
	if n := inFlight.Load(); n != 2 {
		t.Errorf("agency saw %d calls, the route allows 2 at once", n)
	}
	release <- struct{}{}
	release <- struct{}{}
	for _, err := range <-holders {
		if err != nil {
			t.Errorf("a caller holding a slot: %v", err)
		}
	}
}

func TestRateLimitRefusesOverTheRate(t *testing.T) {
	a := newAgency(t, 0)
	r, _ := build(t, routes.Spec{Name: "rl", Endpoints: []string{a.URL}, RateLimit: 3})
	refused := 0
	for range 10 {
		if _, err := call(r, "", `{}`); err != nil {
			p := problem.From("", err)
			if p.Status == 503 && p.RetryAfter > 0 {
				refused++
			}
		}
	}
	if a.calls.Load() != 3 || refused != 7 {
		t.Errorf("agency calls %d, refused %d", a.calls.Load(), refused)
	}
}

func TestDeadlineBoundsTheWholeCall(t *testing.T) {
	a := newAgency(t, 300*time.Millisecond)
	r, st := build(t, routes.Spec{Name: "d", Endpoints: []string{a.URL}, Deadline: units.Duration(50 * time.Millisecond)})
	x, err := call(r, "", `{}`)
	if problem.From("", err).Status != http.StatusGatewayTimeout {
		t.Fatalf("got %v (status %d)", err, problem.From("", err).Status)
	}
	m, _ := st.Get(context.Background(), x.Request.MessageID)
	if m == nil || m.Status != store.Failed || m.HTTPStatus != 504 {
		t.Errorf("stored %+v", m)
	}
}

func TestIdempotencyKeyOnAnotherRouteIsRefused(t *testing.T) {
	a := newAgency(t, 0)
	r, st := build(t, routes.Spec{Name: "i", Endpoints: []string{a.URL}})
	if _, err := call(r, "k", `{}`); err != nil {
		t.Fatal(err)
	}
	// The same key, stored for a message of another route.
	prev, _ := st.FindByIdempotencyKey(context.Background(), "demo", "k")
	prev.Route, prev.ID, prev.IdempotencyKey = "other", routes.NewMessageID(), "k2"
	st.Record(context.Background(), store.Event{Message: prev})
	_, err := call(r, "k2", `{}`)
	p := problem.From("", err)
	if p.Status != 422 || p.Field != "Idempotency-Key" {
		t.Errorf("reused key: %v", err)
	}
	if a.calls.Load() != 1 {
		t.Errorf("agency called %d times", a.calls.Load())
	}
}

// A key stands for one request: the same key with another body is refused
// with 422 naming the body, recorded as REJECTED under the new call's id
// (the key stays with the first message), and the agency is not called.
// The same body with its keys in another order is a true repeat.
func TestIdempotencyKeyWithAnotherBodyIsRefused(t *testing.T) {
	a := newAgency(t, 0)
	r, st := build(t, routes.Spec{Name: "i", Endpoints: []string{a.URL}})
	first, err := call(r, "k", `{"iin":"880501300124","n":1}`)
	if err != nil {
		t.Fatal(err)
	}
	if x, err := call(r, "k", "{ \"n\": 1, \"iin\": \"880501300124\" }"); err != nil || x.Outcome != routes.OutcomeDuplicate {
		t.Fatalf("same body, keys reordered: %v %s", err, x.Outcome)
	}
	for _, body := range []string{`{"iin":"990101300123","n":1}`, `{"iin":"880501300124","n":1.0}`, `not json`} {
		x, err := call(r, "k", body)
		p := problem.From("i", err)
		if p.Status != 422 || p.Type != "urn:kopir:problem:idempotency-key-reused" || p.Field != "Idempotency-Key" ||
			fmt.Sprint(p.Differs) != "[body]" || p.MessageID != "" {
			t.Errorf("%s: %d %s %s %v %q", body, p.Status, p.Type, p.Field, p.Differs, p.MessageID)
		}
		m, err := st.Get(context.Background(), x.Request.MessageID)
		if err != nil || m.Status != store.Rejected || m.HTTPStatus != 422 || m.IdempotencyKey != "" {
			t.Errorf("%s: stored %+v %v", body, m, err)
		}
	}
	if a.calls.Load() != 1 {
		t.Errorf("agency called %d times", a.calls.Load())
	}
	held, err := st.FindByIdempotencyKey(context.Background(), "demo", "k")
	if err != nil || held.ID != first.Request.MessageID || held.RequestFingerprint != routes.Fingerprint([]byte(`{"n":1,"iin":"880501300124"}`)) {
		t.Errorf("key held by %+v %v", held, err)
	}
}

// failingLedger is a store that answers every write and lookup with a
// driver's error text, which must never reach the caller.
type failingLedger struct{ routes.Ledger }

var errDriver = fmt.Errorf(`ERROR: index row size 4104 exceeds btree version 4 maximum 2704 for index "messages_idempotency_uq" (SQLSTATE 54000)`)

func (failingLedger) Exchanged(context.Context, *routes.Exchange, error) error { return errDriver }
func (failingLedger) ByIdempotencyKey(context.Context, string, string) (*routes.Message, error) {
	return nil, errDriver
}

func TestStoreFailureIsUnavailableWithoutTheDriverText(t *testing.T) {
	a := newAgency(t, 0)
	spec := routes.Spec{Name: "s", Adapter: "http", Operation: "get", Mode: routes.Sync, Endpoints: []string{a.URL},
		Retry: adapters.RetrySpec{Attempts: 1}, Deadline: units.Duration(5 * time.Second)}
	tbl, err := routes.Build([]routes.Spec{spec}, routes.Deps{Ledger: failingLedger{}, Meter: metrics.New(), Log: slog.Default(),
		Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Retry: s.Retry, Breakers: resilience.NewBreakers(nil)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tbl.Get("s")
	for _, key := range []string{"", "k"} {
		_, err := call(r, key, `{}`)
		p := problem.From("s", err)
		if p.Status != 503 || p.Type != "urn:kopir:problem:store-unavailable" || p.RetryAfter <= 0 || strings.Contains(p.Detail, "SQLSTATE") {
			t.Errorf("key %q: %d %s %q", key, p.Status, p.Type, p.Detail)
		}
		if !errors.Is(err, errDriver) {
			t.Errorf("key %q: the cause is lost for the log: %v", key, err)
		}
	}
}

// A repeat whose first call failed is refused with 409, and that refusal
// is recorded under its own id, the key left with the first message.
func TestRepeatOfAFailedCallIsRecorded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"no"}`, http.StatusNotFound)
	}))
	defer srv.Close()
	r, st := build(t, routes.Spec{Name: "f", Endpoints: []string{srv.URL}})
	first, err := call(r, "k", `{}`)
	if err == nil {
		t.Fatal("the agency's 404 was not an error")
	}
	x, err := call(r, "k", `{}`)
	p := problem.From("f", err)
	if p.Status != 409 || p.Type != "urn:kopir:problem:earlier-call-failed" || p.MessageID != "" || !strings.Contains(p.Detail, first.Request.MessageID) {
		t.Fatalf("repeat of a failed call: %d %s %q %s", p.Status, p.Type, p.MessageID, p.Detail)
	}
	m, err := st.Get(context.Background(), x.Request.MessageID)
	if err != nil || m.Status != store.Rejected || m.HTTPStatus != 409 || m.IdempotencyKey != "" {
		t.Errorf("the refused repeat is stored as %+v %v", m, err)
	}
	if held, _ := st.FindByIdempotencyKey(context.Background(), "demo", "k"); held == nil || held.ID != first.Request.MessageID {
		t.Errorf("the key is held by %+v", held)
	}
}

// countingLedger counts the Idempotency-Key lookups a pipeline makes.
type countingLedger struct {
	routes.Ledger
	lookups atomic.Int64
}

func (l *countingLedger) ByIdempotencyKey(ctx context.Context, caller, key string) (*routes.Message, error) {
	l.lookups.Add(1)
	return l.Ledger.ByIdempotencyKey(ctx, caller, key)
}

// queue holds what an async route hands to the broker, or refuses it.
type queue struct {
	mu     sync.Mutex
	ids    []string
	refuse error
}

func (q *queue) Enqueue(_ context.Context, m *routes.Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.refuse != nil {
		return q.refuse
	}
	q.ids = append(q.ids, m.ID)
	return nil
}

func (q *queue) queued() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.ids...)
}

// buildAsync is an async route on a SQLite store, its ledger counting key
// lookups, its queue and cluster claims in memory.
func buildAsync(tb testing.TB) (*routes.Route, *store.SQLStore, *countingLedger, *queue, *recordingClaims) {
	tb.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+tb.TempDir()+"/k.db")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	spec := routes.Spec{Name: "a", Adapter: "http", Operation: "deliver", Mode: routes.Async, Endpoints: []string{"http://127.0.0.1:9"},
		Retry: adapters.RetrySpec{Attempts: 1}, Timeout: units.Duration(time.Second)}
	l := &countingLedger{Ledger: ledger.New(st, []routes.Spec{spec}, "", slog.Default())}
	q, c := &queue{}, &recordingClaims{}
	tbl, err := routes.Build([]routes.Spec{spec}, routes.Deps{Ledger: l, Queue: q, Claims: c, Meter: metrics.New(), Log: slog.Default(),
		Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Retry: s.Retry, Breakers: resilience.NewBreakers(nil)})
		}})
	if err != nil {
		tb.Fatal(err)
	}
	r, _ := tbl.Get("a")
	return r, st, l, q, c
}

// BenchmarkAsyncAcceptKeyed accepts async calls, each with a key of its
// own, from 32 callers as make bench's load has: validation, the record
// (group commit on SQLite) and publishing to a queue held in memory.
func BenchmarkAsyncAcceptKeyed(b *testing.B) {
	r, _, _, _, _ := buildAsync(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	defer testenv.CPUPerOp(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := call(r, fmt.Sprintf("key-%d", n.Add(1)), `{"event":"payment.settled","amount":"125000.00"}`); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// An async call stores its message before anything leaves the bus, and the
// store refuses a second message under one key: a new key is not looked up
// at all, and a repeat, found once the store refused it, is answered
// exactly as a lookup first would have answered it.
func TestAsyncKeyIsLookedUpOnlyWhenTheStoreRefusesIt(t *testing.T) {
	r, st, l, q, c := buildAsync(t)
	ctx := context.Background()

	first, err := call(r, "k", `{"n":1}`)
	if err != nil || first.Outcome != routes.OutcomeQueued || l.lookups.Load() != 0 {
		t.Fatalf("new key: %v %s, %d lookups", err, first.Outcome, l.lookups.Load())
	}

	again, err := call(r, "k", `{ "n": 1 }`)
	if err != nil || again.Outcome != routes.OutcomeDuplicate || again.Message == nil || again.Message.ID != first.Request.MessageID {
		t.Fatalf("repeat: %v %s %+v", err, again.Outcome, again.Message)
	}
	if got := q.queued(); len(got) != 1 || got[0] != first.Request.MessageID {
		t.Errorf("queued %v", got)
	}
	if _, err := st.Get(ctx, again.Request.MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the repeat was stored as a message of its own: %v", err)
	}
	c.mu.Lock()
	if fmt.Sprint(c.bound) != "[k="+first.Request.MessageID+"]" || fmt.Sprint(c.released) != "[k]" {
		t.Errorf("claims: bound %v, released %v; the repeat's claim is given back, not bound to it", c.bound, c.released)
	}
	c.mu.Unlock()

	for _, body := range []string{`{"n":2}`, `not json`} {
		x, err := call(r, "k", body)
		p := problem.From("a", err)
		if p.Status != 422 || p.Type != "urn:kopir:problem:idempotency-key-reused" || fmt.Sprint(p.Differs) != "[body]" {
			t.Errorf("%s: %d %s %v", body, p.Status, p.Type, p.Differs)
		}
		m, err := st.Get(ctx, x.Request.MessageID)
		if err != nil || m.Status != store.Rejected || m.IdempotencyKey != "" {
			t.Errorf("%s: stored %+v %v", body, m, err)
		}
	}
	audit, err := st.Audit(ctx, first.Request.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	repeats := 0
	for _, e := range audit {
		if e.Action == string(ledger.Duplicate) {
			repeats++
		}
	}
	if repeats != 3 {
		t.Errorf("the first message's audit notes %d repeats, want 3: %+v", repeats, audit)
	}

	// Stored, then refused by the broker: the call's own message holds the
	// key, and it is not answered as a repeat of itself.
	q.refuse = errors.New("broker down")
	before := l.lookups.Load()
	x, err := call(r, "k2", `{"n":3}`)
	if p := problem.From("a", err); p.Status != 503 || p.Type != "urn:kopir:problem:broker-unavailable" || x.Outcome == routes.OutcomeDuplicate {
		t.Errorf("broker refused: %d %s %s", p.Status, p.Type, x.Outcome)
	}
	if l.lookups.Load() != before {
		t.Errorf("a stored call looked its own key up")
	}
	if m, err := st.Get(ctx, x.Request.MessageID); err != nil || m.Status != store.Queued || m.IdempotencyKey != "k2" {
		t.Errorf("stored %+v %v", m, err)
	}
}
