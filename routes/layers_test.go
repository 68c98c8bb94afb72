package routes_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
