package routes_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// ttlClaims records the TTLs it is asked for.
type ttlClaims struct{ claim, bind time.Duration }

func (c *ttlClaims) Claim(_ context.Context, _, _ string, ttl time.Duration) (bool, string, error) {
	c.claim = ttl
	return true, "", nil
}

func (c *ttlClaims) Bind(_ context.Context, _, _, _ string, ttl time.Duration) error {
	c.bind = ttl
	return nil
}

func (c *ttlClaims) Release(context.Context, string, string) error { return nil }

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
	claims := &ttlClaims{}
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
