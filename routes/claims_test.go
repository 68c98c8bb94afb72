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
	"github.com/minfin-kz/kopir/internal/cache"
	"github.com/minfin-kz/kopir/internal/idem"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/metrics"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/redisconn"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/testenv"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/routes"
)

// Two bus instances share Redis; a key claimed by the one whose call is in
// flight is refused by the other, so the agency is called once.
func TestIdempotencyKeyClaimedAcrossInstances(t *testing.T) {
	testenv.RequireTCP(t, "Redis", "127.0.0.1:6379")
	var calls atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		<-release
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	key := fmt.Sprintf("claim-%d", time.Now().UnixNano())
	instance := func() *routes.Route {
		st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/k.db")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		conn, err := redisconn.Open(context.Background(), "redis://127.0.0.1:6379/0")
		if err != nil {
			t.Fatal(err)
		}
		claims := idem.New(conn)
		t.Cleanup(func() { claims.Release(context.Background(), "demo", key); conn.Close() })
		spec := routes.Spec{Name: "c", Adapter: "http", Operation: "get", Mode: routes.Sync, Endpoints: []string{srv.URL},
			Retry: adapters.RetrySpec{Attempts: 1}, Deadline: units.Duration(5 * time.Second)}
		tbl, err := routes.Build([]routes.Spec{spec},
			routes.Deps{Ledger: ledger.New(st, []routes.Spec{spec}, "", slog.Default()), Cache: cache.New(conn), Claims: claims, Meter: metrics.New(), Log: slog.Default(),
				Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
					return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Retry: s.Retry, Breakers: resilience.NewBreakers(nil)})
				}})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := tbl.Get("c")
		return r
	}
	a, b := instance(), instance()
	first := make(chan error, 1)
	go func() { _, err := call(a, key, `{}`); first <- err }()
	for calls.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	_, err := call(b, key, `{}`)
	p := problem.From("", err)
	if p.Status != http.StatusConflict {
		t.Errorf("second instance, same key: %v", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("agency called %d times for one key", calls.Load())
	}
}

// recordingClaims grants every claim, as a cluster's reservations do that
// have forgotten every key (a Redis emptied), and records what it is asked:
// the last claim's and bind's TTLs, each key bound (key=message id) and
// each key released.
type recordingClaims struct {
	mu              sync.Mutex
	claim, bind     time.Duration
	bound, released []string
}

func (c *recordingClaims) Claim(_ context.Context, _, _ string, ttl time.Duration) (bool, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.claim = ttl
	return true, "", nil
}

func (c *recordingClaims) Bind(_ context.Context, _, key, id string, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bind = ttl
	c.bound = append(c.bound, key+"="+id)
	return nil
}

func (c *recordingClaims) Release(_ context.Context, _, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.released = append(c.released, key)
	return nil
}

// A key is claimed only for as long as its call can take before it is
// stored, and bound for the window once it is: a node that dies between
// the two must not block the caller's repeat on the other nodes for a day.
func TestClaimOutlivesOnlyTheCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"ok":true}`)) }))
	defer srv.Close()
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/k.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	claims := &recordingClaims{}
	spec := routes.Spec{Name: "c", Adapter: "http", Operation: "get", Mode: routes.Sync, Endpoints: []string{srv.URL},
		Retry: adapters.RetrySpec{Attempts: 1}, Deadline: units.Duration(5 * time.Second)}
	tbl, err := routes.Build([]routes.Spec{spec},
		routes.Deps{Ledger: ledger.New(st, []routes.Spec{spec}, "", slog.Default()), Claims: claims, Meter: metrics.New(), Log: slog.Default(),
			Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
				return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Retry: s.Retry, Breakers: resilience.NewBreakers(nil)})
			}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tbl.Get("c")
	if _, err := call(r, "ttl-key", `{}`); err != nil {
		t.Fatal(err)
	}
	if claims.claim < 5*time.Second || claims.claim > time.Minute {
		t.Errorf("claimed for %s: want the route's deadline (5s) and a margin, not more than a minute", claims.claim)
	}
	if claims.bind != routes.IdempotencyWindow {
		t.Errorf("bound for %s, want the window %s", claims.bind, routes.IdempotencyWindow)
	}
}
