package routes

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/units"
)

// clockCache is a Cache on a clock the test moves, recording the TTL of
// every entry. store=false makes it keep nothing, so that only coalescing
// can spare the agency a call.
type clockCache struct {
	mu      sync.Mutex
	now     time.Time
	store   bool
	entries map[string]clockEntry
}

type clockEntry struct {
	value   []byte
	expires time.Time
	ttl     time.Duration
}

func newClockCache(store bool) *clockCache {
	return &clockCache{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), store: store, entries: map[string]clockEntry{}}
}

func (c *clockCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now.Before(e.expires) {
		return nil, false, nil
	}
	return e.value, true, nil
}

func (c *clockCache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.store && ttl > 0 {
		c.entries[key] = clockEntry{value: value, expires: c.now.Add(ttl), ttl: ttl}
	}
	return nil
}

func (c *clockCache) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *clockCache) ttls() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, e := range c.entries {
		out = append(out, e.ttl)
	}
	return out
}

// agencyStub answers each call with its number, or fails while down; the
// answer asks to be kept for ttl.
type agencyStub struct {
	calls atomic.Int64
	down  atomic.Bool
	ttl   time.Duration
	gate  chan struct{} // when set, every call waits for it to close
}

func (a *agencyStub) handler(ctx context.Context, x *Exchange) error {
	n := a.calls.Add(1)
	if a.gate != nil {
		<-a.gate
	}
	if a.down.Load() {
		return &adapters.Error{Status: 502, Code: "HTTP_503", Detail: "endpoint answered HTTP 503"}
	}
	x.Response = &adapters.Response{Body: fmt.Appendf(nil, `{"call":%d}`, n), CacheTTL: a.ttl}
	return nil
}

func exchange(route *Route, body string) *Exchange {
	return &Exchange{Route: route, Caller: "demo", Request: adapters.Request{MessageID: NewMessageID(), Body: []byte(body)}}
}

func cacheRoute(ttl time.Duration) *Route {
	return &Route{Spec: Spec{Name: "ref.rates", Mode: Sync, CacheTTL: units.Duration(ttl)}}
}

func TestCachedKeepsAnAnswerForTheShorterOfRouteAndAnswerTTL(t *testing.T) {
	for _, c := range []struct {
		name      string
		route     time.Duration
		answer    time.Duration
		kept      time.Duration
		stillHeld time.Duration // later than this, the agency is asked again
	}{
		{"past day: the route's TTL", 24 * time.Hour, 0, 24 * time.Hour, 23 * time.Hour},
		{"today: the answer's shorter TTL", 24 * time.Hour, 5 * time.Minute, 5 * time.Minute, 4 * time.Minute},
		{"an answer cannot outlive its route", time.Minute, time.Hour, time.Minute, 59 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			cache, agency := newClockCache(true), &agencyStub{ttl: c.answer}
			h := Cached(cache)(agency.handler)
			route := cacheRoute(c.route)
			ask := func() *Exchange {
				x := exchange(route, `{"date":"2026-12-01"}`)
				if err := h(context.Background(), x); err != nil {
					t.Fatal(err)
				}
				return x
			}
			ask()
			if got := cache.ttls(); len(got) != 1 || got[0] != c.kept {
				t.Fatalf("kept for %v, want %v", got, c.kept)
			}
			cache.advance(c.stillHeld)
			if x := ask(); x.Outcome != OutcomeCached || string(x.Response.Body) != `{"call":1}` || agency.calls.Load() != 1 {
				t.Fatalf("within its TTL: %s %s, %d calls", x.Outcome, x.Response.Body, agency.calls.Load())
			}
			cache.advance(c.kept - c.stillHeld)
			if x := ask(); x.Outcome == OutcomeCached || string(x.Response.Body) != `{"call":2}` {
				t.Fatalf("expired entry answered: %s %s", x.Outcome, x.Response.Body)
			}
		})
	}
}

func TestCachedCoalescesConcurrentMisses(t *testing.T) {
	// The cache keeps nothing, so only coalescing keeps the followers from
	// the agency; the agency holds the leader until every follower waits.
	cache, agency := newClockCache(false), &agencyStub{gate: make(chan struct{})}
	flights := &flightGroup{}
	h := cached(cache, flights)(agency.handler)
	route := cacheRoute(time.Hour)
	const n = 100
	xs := make([]*Exchange, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			xs[i] = exchange(route, `{"date":"2026-12-01"}`)
			errs[i] = h(context.Background(), xs[i])
		}()
	}
	start(0)
	waitUntil(t, func() bool { return agency.calls.Load() > 0 })
	for i := 1; i < n; i++ {
		start(i)
	}
	waitUntil(t, func() bool { return flights.waitingAny() == n-1 })
	close(agency.gate)
	wg.Wait()
	if agency.calls.Load() != 1 {
		t.Fatalf("%d concurrent callers made %d agency calls", n, agency.calls.Load())
	}
	cachedOutcomes := 0
	for i := range xs {
		if errs[i] != nil || string(xs[i].Response.Body) != `{"call":1}` {
			t.Fatalf("caller %d: %v %+v", i, errs[i], xs[i].Response)
		}
		if xs[i].Outcome == OutcomeCached {
			cachedOutcomes++
		}
	}
	if cachedOutcomes != n-1 {
		t.Errorf("%d followers answered as cached, want %d (the leader is delivered)", cachedOutcomes, n-1)
	}
}

func TestCachedFollowersShareTheLeadersFailure(t *testing.T) {
	cache, agency := newClockCache(true), &agencyStub{gate: make(chan struct{})}
	agency.down.Store(true)
	flights := &flightGroup{}
	h := cached(cache, flights)(agency.handler)
	route := cacheRoute(time.Hour)
	errs := make(chan error, 2)
	go func() { errs <- h(context.Background(), exchange(route, `{}`)) }()
	waitUntil(t, func() bool { return agency.calls.Load() > 0 })
	go func() { errs <- h(context.Background(), exchange(route, `{}`)) }()
	waitUntil(t, func() bool { return flights.waitingAny() == 1 })
	close(agency.gate)
	for range 2 {
		var ae *adapters.Error
		if err := <-errs; !errors.As(err, &ae) || ae.Code != "HTTP_503" {
			t.Fatalf("want the agency's failure, got %v", err)
		}
	}
	if agency.calls.Load() != 1 {
		t.Errorf("a failing agency was called %d times by two coalesced callers", agency.calls.Load())
	}
}

func TestCachedWaiterRetriesWhenTheLeaderHangsUp(t *testing.T) {
	cache := newClockCache(true)
	flights := &flightGroup{}
	var calls atomic.Int64
	release := make(chan struct{})
	next := func(ctx context.Context, x *Exchange) error {
		if calls.Add(1) == 1 {
			<-ctx.Done() // the first caller hangs up mid-call
			return ctx.Err()
		}
		<-release
		x.Response = &adapters.Response{Body: []byte(`{"ok":true}`)}
		return nil
	}
	h := cached(cache, flights)(next)
	route := cacheRoute(time.Hour)
	leaderCtx, hangUp := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() { leaderErr <- h(leaderCtx, exchange(route, `{}`)) }()
	waitUntil(t, func() bool { return calls.Load() > 0 })
	follower := exchange(route, `{}`)
	followerErr := make(chan error, 1)
	go func() { followerErr <- h(context.Background(), follower) }()
	waitUntil(t, func() bool { return flights.waitingAny() == 1 })
	hangUp()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader: %v", err)
	}
	close(release)
	if err := <-followerErr; err != nil || string(follower.Response.Body) != `{"ok":true}` {
		t.Fatalf("the follower inherited the leader's hang-up: %v", err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want the leader's and the follower's own", calls.Load())
	}
}

func TestCachedFeedDownAnswersFromTheCacheOrFails(t *testing.T) {
	cache, agency := newClockCache(true), &agencyStub{}
	h := Cached(cache)(agency.handler)
	route := cacheRoute(time.Hour)
	if err := h(context.Background(), exchange(route, `{"date":"2026-11-30"}`)); err != nil {
		t.Fatal(err)
	}
	agency.down.Store(true)
	x := exchange(route, `{"date":"2026-11-30"}`)
	if err := h(context.Background(), x); err != nil || x.Outcome != OutcomeCached || string(x.Response.Body) != `{"call":1}` {
		t.Fatalf("cached date while the agency is down: %v %s", err, x.Outcome)
	}
	var ae *adapters.Error
	if err := h(context.Background(), exchange(route, `{"date":"2026-12-01"}`)); !errors.As(err, &ae) || ae.Status != 502 {
		t.Fatalf("uncached date while the agency is down: %v", err)
	}
}

// waitingAny is the number of callers waiting on the one flight in
// progress, -1 when there is none.
func (g *flightGroup) waitingAny() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, f := range g.m {
		return f.waiters
	}
	return -1
}

// waitUntil polls cond: the goroutines it waits for have no other way to
// say they got there. Ten seconds is a hang, not a slow machine.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the callers never got there")
		}
	}
}
