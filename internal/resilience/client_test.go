package resilience

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/units"
)

// server is a real HTTP endpoint that counts the requests it receives.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, h func(n int64, w http.ResponseWriter, r *http.Request)) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h(s.hits.Add(1), w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func status(code int) func(int64, http.ResponseWriter, *http.Request) {
	return func(_ int64, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

// hang answers only once the client gives up.
func hang(_ int64, _ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// refusedURL is an address nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func fast(attempts int) adapters.RetrySpec {
	return adapters.RetrySpec{Attempts: attempts, Backoff: units.Duration(time.Millisecond), Cap: units.Duration(5 * time.Millisecond)}
}

func newClient(t *testing.T, o Options) *Client {
	t.Helper()
	c, err := NewClient(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type recorder struct {
	mu sync.Mutex
	a  []adapters.AttemptInfo
}

func (r *recorder) observe(a adapters.AttemptInfo) { r.mu.Lock(); r.a = append(r.a, a); r.mu.Unlock() }
func (r *recorder) attempts() []adapters.AttemptInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]adapters.AttemptInfo(nil), r.a...)
}

func (r *recorder) ctx() context.Context {
	return adapters.WithAttemptObserver(context.Background(), r.observe)
}

func body(s string) *adapters.WireRequest { return &adapters.WireRequest{Body: []byte(s)} }

func TestRetries503ThenSucceeds(t *testing.T) {
	s := newServer(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "busy")
			return
		}
		io.WriteString(w, "ok")
	})
	var retries []int
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(3),
		Hooks: Hooks{OnRetry: func(ep string, n int) { retries = append(retries, n) }}})
	var rec recorder
	resp, err := c.Do(rec.ctx(), body("<req/>"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || string(resp.Body) != "ok" || resp.Endpoint != s.URL {
		t.Fatalf("got %d %q from %s", resp.StatusCode, resp.Body, resp.Endpoint)
	}
	at := rec.attempts()
	if len(at) != 2 {
		t.Fatalf("observer saw %d attempts, want 2", len(at))
	}
	for i, want := range []int{503, 200} {
		a := at[i]
		if a.StatusCode != want || a.Attempt != i+1 || a.Endpoint != s.URL || string(a.RequestBody) != "<req/>" || a.Err != nil {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	if string(at[0].ResponseBody) != "busy" || string(at[1].ResponseBody) != "ok" {
		t.Errorf("response bodies %q, %q", at[0].ResponseBody, at[1].ResponseBody)
	}
	if len(retries) != 1 || retries[0] != 2 {
		t.Errorf("OnRetry saw %v, want [2]", retries)
	}
}

func TestHonoursRetryAfter(t *testing.T) {
	for _, code := range []int{http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(code)
				}
			})
			c := newClient(t, Options{Endpoints: []string{s.URL},
				Retry: adapters.RetrySpec{Attempts: 2, Backoff: units.Duration(time.Millisecond), Cap: units.Duration(2 * time.Second)}})
			start := time.Now()
			resp, err := c.Do(context.Background(), body("x"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || s.hits.Load() != 2 {
				t.Fatalf("status %d after %d hits", resp.StatusCode, s.hits.Load())
			}
			if waited := time.Since(start); waited < time.Second {
				t.Fatalf("retried after %s, Retry-After said 1s", waited)
			}
		})
	}
}

func TestRetryAfterIsCapped(t *testing.T) {
	c := newClient(t, Options{Endpoints: []string{"http://127.0.0.1:1"},
		Retry: adapters.RetrySpec{Attempts: 3, Backoff: units.Duration(time.Millisecond), Cap: units.Duration(50 * time.Millisecond)}})
	resp := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"3600"}}}
	if d := c.backoff(0, 0, 0, resp); d != 50*time.Millisecond {
		t.Fatalf("backoff %s, want the 50ms cap", d)
	}
	resp.Header.Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
	if d := c.backoff(0, 0, 0, resp); d != 50*time.Millisecond {
		t.Fatalf("backoff for an HTTP-date %s, want the 50ms cap", d)
	}
	// Retry-After on other statuses is not a promise; plain backoff applies.
	resp.StatusCode = 502
	if d := c.backoff(0, 0, 0, resp); d > time.Millisecond {
		t.Fatalf("backoff on 502 %s, want at most the 1ms base", d)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0": 0, "7": 7 * time.Second, now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Minute).Format(http.TimeFormat): 0,
	} {
		if d, ok := retryAfter(http.Header{"Retry-After": {v}}, now); !ok || d != want {
			t.Errorf("Retry-After %q: %s %v, want %s", v, d, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "soon"} {
		if _, ok := retryAfter(http.Header{"Retry-After": {v}}, now); ok {
			t.Errorf("Retry-After %q accepted", v)
		}
	}
}

func TestNoRetryOnFinalStatuses(t *testing.T) {
	for _, code := range []int{400, 401, 404, 409, 422, 500, 501} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(code)
				io.WriteString(w, "<fault/>")
			})
			c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(4)})
			resp, err := c.Do(context.Background(), body("x"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != code || string(resp.Body) != "<fault/>" {
				t.Fatalf("got %d %q", resp.StatusCode, resp.Body)
			}
			if n := s.hits.Load(); n != 1 {
				t.Fatalf("%d hits, want 1", n)
			}
		})
	}
}

func TestRetries429And502And504(t *testing.T) {
	for _, code := range []int{429, 502, 504} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			t.Parallel()
			s := newServer(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
				if n < 3 {
					w.WriteHeader(code)
				}
			})
			c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(3)})
			resp, err := c.Do(context.Background(), body("x"))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || s.hits.Load() != 3 {
				t.Fatalf("status %d after %d hits", resp.StatusCode, s.hits.Load())
			}
		})
	}
}

func TestExhaustedRetriesReturnTheLastStatus(t *testing.T) {
	s := newServer(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "down")
	})
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(3)})
	resp, err := c.Do(context.Background(), body("x"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 || string(resp.Body) != "down" || s.hits.Load() != 3 {
		t.Fatalf("got %d %q after %d hits", resp.StatusCode, resp.Body, s.hits.Load())
	}
}

func TestSingleAttempt(t *testing.T) {
	for _, attempts := range []int{0, 1} {
		s := newServer(t, status(503))
		c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(attempts)})
		resp, err := c.Do(context.Background(), body("x"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 503 || s.hits.Load() != 1 {
			t.Fatalf("attempts %d: %d after %d hits", attempts, resp.StatusCode, s.hits.Load())
		}
	}
}

func TestConnectionRefusedRetriedThenNamed(t *testing.T) {
	ep := refusedURL(t)
	c := newClient(t, Options{Endpoints: []string{ep}, Retry: fast(3)})
	var rec recorder
	resp, err := c.Do(rec.ctx(), body("x"))
	if err == nil {
		t.Fatalf("got %d, want an error", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), ep) || !strings.Contains(err.Error(), "3 attempts") {
		t.Errorf("error %q does not name the endpoint and the attempts", err)
	}
	var ce *CallError
	if !errors.As(err, &ce) || len(ce.Failures) != 1 || ce.Failures[0].Attempts != 3 || ce.Failures[0].Endpoint != ep {
		t.Fatalf("error %#v", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %q does not unwrap to ECONNREFUSED", err)
	}
	if at := rec.attempts(); len(at) != 3 || at[2].Err == nil || at[2].StatusCode != 0 {
		t.Errorf("observer saw %+v", at)
	}
}

// transitions keeps a registry's state changes as "name from>to".
type transitions struct {
	mu   sync.Mutex
	seen []string
}

func (tr *transitions) record(name, from, to string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.seen = append(tr.seen, name+" "+from+">"+to)
}

func (tr *transitions) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.seen...)
}

func TestBreakerOpensThenFailsFast(t *testing.T) {
	s := newServer(t, status(503))
	var changes transitions
	bs := NewBreakers(changes.record)
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(1), Breakers: bs,
		Breaker: adapters.BreakerSpec{Failures: 3, OpenFor: units.Duration(time.Minute)}})
	for i := range 3 {
		resp, err := c.Do(context.Background(), body("x"))
		if err != nil || resp.StatusCode != 503 {
			t.Fatalf("call %d: %v %v", i+1, resp, err)
		}
	}
	var rec recorder
	_, err := c.Do(rec.ctx(), body("x"))
	var open *BreakerOpenError
	if !errors.As(err, &open) || !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("got %v, want a BreakerOpenError", err)
	}
	if open.Endpoint != s.URL || open.RetryAfter <= 0 || open.RetryAfter > time.Minute {
		t.Errorf("breaker error %+v", open)
	}
	if n := s.hits.Load(); n != 3 {
		t.Errorf("server hit %d times, want 3", n)
	}
	if len(rec.attempts()) != 0 {
		t.Errorf("a refused call was observed as an attempt")
	}
	snap := bs.Snapshot()
	if len(snap) != 1 || snap[0].Endpoint != s.URL || snap[0].State != "open" || snap[0].OpenUntil == nil {
		t.Errorf("snapshot %+v", snap)
	}
	if got := changes.list(); len(got) != 1 || got[0] != s.URL+" closed>open" {
		t.Errorf("state changes %v", got)
	}
}

// Services behind one URL fail apart: the failing one opens its own
// breaker, the other still answers through the same endpoint, and two
// routes naming one service share its breaker.
func TestServicesBehindOneEndpointHaveTheirOwnBreakers(t *testing.T) {
	s := newServer(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Registry") == "down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	var changes transitions
	bs := NewBreakers(changes.record)
	spec := adapters.BreakerSpec{Failures: 2, OpenFor: units.Duration(time.Minute)}
	routeA := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(1), Breaker: spec, Breakers: bs})
	routeA2 := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(1), Breaker: spec, Breakers: bs})
	routeB := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(1), Breaker: spec, Breakers: bs})
	call := func(c *Client, service, b string) (*adapters.WireResponse, error) {
		return c.Do(context.Background(), &adapters.WireRequest{Body: []byte("x"), Header: http.Header{"X-Registry": {b}}, Service: service})
	}
	for range 2 {
		if resp, err := call(routeA, "REGISTRY_A", "down"); err != nil || resp.StatusCode != 503 {
			t.Fatalf("%v %v", resp, err)
		}
	}
	_, err := call(routeA2, "REGISTRY_A", "up")
	var open *BreakerOpenError
	if !errors.As(err, &open) || open.Endpoint != s.URL || open.Service != "REGISTRY_A" || !strings.Contains(err.Error(), s.URL+"#REGISTRY_A") {
		t.Fatalf("the second route of the failed service: %v", err)
	}
	if resp, err := call(routeB, "REGISTRY_B", "up"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the other service behind the same URL: %v %v", resp, err)
	}
	snap := bs.Snapshot()
	if len(snap) != 2 || snap[0].Service != "REGISTRY_A" || snap[0].State != "open" || snap[1].Service != "REGISTRY_B" || snap[1].State != "closed" ||
		snap[0].Name() != s.URL+"#REGISTRY_A" {
		t.Fatalf("snapshot %+v", snap)
	}
	if got := changes.list(); len(got) != 1 || got[0] != s.URL+"#REGISTRY_A closed>open" {
		t.Fatalf("state changes %v", got)
	}
}

func TestOpenBreakerStopsRetries(t *testing.T) {
	s := newServer(t, status(503))
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(5), Breaker: adapters.BreakerSpec{Failures: 2, OpenFor: units.Duration(time.Minute)}})
	resp, err := c.Do(context.Background(), body("x"))
	if err != nil || resp.StatusCode != 503 {
		t.Fatalf("%v %v", resp, err)
	}
	if n := s.hits.Load(); n != 2 {
		t.Fatalf("server hit %d times; retries should stop when the breaker opens after 2", n)
	}
}

func TestClientErrorsDoNotOpenBreaker(t *testing.T) {
	s := newServer(t, status(404))
	bs := NewBreakers(nil)
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(1), Breakers: bs, Breaker: adapters.BreakerSpec{Failures: 2}})
	for range 5 {
		if resp, err := c.Do(context.Background(), body("x")); err != nil || resp.StatusCode != 404 {
			t.Fatalf("%v %v", resp, err)
		}
	}
	if st := bs.Snapshot()[0]; st.State != "closed" || st.TotalSuccesses != 5 {
		t.Fatalf("breaker %+v", st)
	}
}

func TestHalfOpenProbeClosesBreaker(t *testing.T) {
	var healthy atomic.Bool
	s := newServer(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	var mu sync.Mutex
	var changes []string
	bs := NewBreakers(func(_, from, to string) { mu.Lock(); changes = append(changes, from+">"+to); mu.Unlock() })
	openFor := 100 * time.Millisecond
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(1), Breakers: bs,
		Breaker: adapters.BreakerSpec{Failures: 1, OpenFor: units.Duration(openFor), HalfOpenProbes: 1}})
	if resp, err := c.Do(context.Background(), body("x")); err != nil || resp.StatusCode != 502 {
		t.Fatalf("%v %v", resp, err)
	}
	if _, err := c.Do(context.Background(), body("x")); !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("got %v, want breaker open", err)
	}
	time.Sleep(openFor + 50*time.Millisecond)
	healthy.Store(true)
	resp, err := c.Do(context.Background(), body("x"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("probe: %v %v", resp, err)
	}
	if st := bs.Snapshot()[0].State; st != "closed" {
		t.Fatalf("breaker %s after a good probe", st)
	}
	if n := s.hits.Load(); n != 2 {
		t.Errorf("server hit %d times, want 2", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(changes, ",") != "closed>open,open>half-open,half-open>closed" {
		t.Errorf("state changes %v", changes)
	}
}

func TestAttemptTimeoutRetriedThenDeadline(t *testing.T) {
	s := newServer(t, hang)
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(3), AttemptTimeout: 50 * time.Millisecond})
	var rec recorder
	start := time.Now()
	_, err := c.Do(rec.ctx(), body("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	var te *AttemptTimeoutError
	if !errors.As(err, &te) || te.Endpoint != s.URL {
		t.Errorf("got %v, want an AttemptTimeoutError", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("three 50ms attempts took only %s", waited)
	}
	if at := rec.attempts(); len(at) != 3 || !errors.Is(at[0].Err, context.DeadlineExceeded) || at[0].Latency < 50*time.Millisecond {
		t.Errorf("observer saw %+v", at)
	}
	if n := s.hits.Load(); n != 3 {
		t.Errorf("server hit %d times, want 3", n)
	}
}

func TestCallerDeadlineEndsRetries(t *testing.T) {
	s := newServer(t, hang)
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(100), AttemptTimeout: 40 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Do(ctx, body("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("gave up after %s, before the caller's deadline", waited)
	}
	if n := s.hits.Load(); n < 2 || n >= 100 {
		t.Errorf("server hit %d times", n)
	}
}

func TestFailsOverToNextEndpoint(t *testing.T) {
	bad := newServer(t, status(503))
	good := newServer(t, func(_ int64, w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "second") })
	c := newClient(t, Options{Endpoints: []string{bad.URL, good.URL}, Retry: fast(2)})
	var rec recorder
	resp, err := c.Do(rec.ctx(), body("x"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Endpoint != good.URL || resp.StatusCode != 200 || string(resp.Body) != "second" {
		t.Fatalf("got %d %q from %s", resp.StatusCode, resp.Body, resp.Endpoint)
	}
	if bad.hits.Load() != 2 || good.hits.Load() != 1 {
		t.Errorf("hits %d, %d; want 2, 1", bad.hits.Load(), good.hits.Load())
	}
	at := rec.attempts()
	if len(at) != 3 || at[0].Endpoint != bad.URL || at[2].Endpoint != good.URL || at[2].Attempt != 1 {
		t.Errorf("observer saw %+v", at)
	}
}

func TestFailsOverPastRefusedAndOpenEndpoints(t *testing.T) {
	dead := refusedURL(t)
	good := newServer(t, status(200))
	c := newClient(t, Options{Endpoints: []string{dead, good.URL}, Retry: fast(3), Breaker: adapters.BreakerSpec{Failures: 1, OpenFor: units.Duration(time.Minute)}})
	for i := range 2 {
		var rec recorder
		resp, err := c.Do(rec.ctx(), body("x"))
		if err != nil || resp.Endpoint != good.URL {
			t.Fatalf("call %d: %v %v", i+1, resp, err)
		}
		// First call: one refused attempt opens the dead endpoint's breaker
		// and ends its retries; second call: it is skipped outright.
		if at := rec.attempts(); len(at) != 2-i {
			t.Errorf("call %d: observer saw %d attempts, want %d", i+1, len(at), 2-i)
		}
	}
}

func TestAllBreakersOpen(t *testing.T) {
	a, b := newServer(t, status(200)), newServer(t, status(200))
	bs := NewBreakers(nil)
	spec := adapters.BreakerSpec{Failures: 1, OpenFor: units.Duration(time.Minute)}
	for _, ep := range []string{a.URL, b.URL} {
		bs.Breaker(ep, "", spec).Execute(func() (*http.Response, error) { return nil, errors.New("down") })
	}
	c := newClient(t, Options{Endpoints: []string{a.URL, b.URL}, Retry: fast(3), Breaker: spec, Breakers: bs})
	_, err := c.Do(context.Background(), body("x"))
	if _, ok := err.(*BreakerOpenError); !ok {
		t.Fatalf("got %T %v, want *BreakerOpenError", err, err)
	}
	if a.hits.Load() != 0 || b.hits.Load() != 0 {
		t.Errorf("hits %d, %d; want none", a.hits.Load(), b.hits.Load())
	}
}

func TestResponseTooLarge(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		s := newServer(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
			if chunked {
				io.WriteString(w, "aaaa")
				w.(http.Flusher).Flush()
			}
			io.WriteString(w, strings.Repeat("a", 100))
		})
		c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(3), MaxResponseBytes: 10})
		_, err := c.Do(context.Background(), body("x"))
		if !errors.Is(err, ErrResponseTooLarge) {
			t.Fatalf("chunked=%v: got %v", chunked, err)
		}
		if n := s.hits.Load(); n != 1 {
			t.Errorf("chunked=%v: %d hits, want 1", chunked, n)
		}
	}
}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	var gotBody string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("X-Agency", "yes")
		w.Header().Set("Location", "/elsewhere")
		w.WriteHeader(http.StatusFound)
	}))
	defer s.Close()
	c := newClient(t, Options{Endpoints: []string{s.URL + "/svc/"}, Retry: fast(1)})
	resp, err := c.Do(context.Background(), &adapters.WireRequest{Method: "PUT", Path: "/op?x=1",
		Header: http.Header{"Soapaction": {"urn:op"}}, Body: []byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "PUT" || got.URL.Path != "/svc/op" || got.URL.RawQuery != "x=1" || got.Header.Get("SOAPAction") != "urn:op" {
		t.Errorf("server got %s %s %v", got.Method, got.URL, got.Header)
	}
	if gotBody != "b" {
		t.Errorf("server got body %q", gotBody)
	}
	if resp.StatusCode != http.StatusFound || resp.Header.Get("X-Agency") != "yes" {
		t.Errorf("redirect was followed or headers lost: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = c.Do(context.Background(), &adapters.WireRequest{})
	if err != nil || got.Method != "POST" || got.URL.Path != "/svc/" {
		t.Errorf("default request: %v, %s %s", err, got.Method, got.URL)
	}
}

func TestJoinURL(t *testing.T) {
	for _, c := range [][3]string{
		{"http://h/a", "", "http://h/a"},
		{"http://h/a/", "/b", "http://h/a/b"},
		{"http://h/a", "/b", "http://h/a/b"},
		{"http://h/a", "b", "http://h/a/b"},
		{"http://h/a/", "b", "http://h/a/b"},
		{"http://h/a", "?wsdl", "http://h/a?wsdl"},
	} {
		if got := joinURL(c[0], c[1]); got != c[2] {
			t.Errorf("joinURL(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

func TestNewClientRejectsBadEndpoints(t *testing.T) {
	for _, eps := range [][]string{nil, {"localhost:80"}, {"ftp://h/x"}, {"http://%zz"}} {
		if _, err := NewClient(Options{Endpoints: eps}); err == nil {
			t.Errorf("endpoints %q accepted", eps)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	spec := adapters.RetrySpec{Backoff: units.Duration(10 * time.Millisecond), Cap: units.Duration(80 * time.Millisecond)}
	for attempt := 1; attempt <= 8; attempt++ {
		ceiling := min(80*time.Millisecond, 10*time.Millisecond<<(attempt-1))
		var maxSeen time.Duration
		for range 500 {
			d := Backoff(spec, attempt)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: %s outside [0, %s]", attempt, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < ceiling/2 {
			t.Errorf("attempt %d: largest of 500 waits %s, jitter should reach towards %s", attempt, maxSeen, ceiling)
		}
	}
	if d := Backoff(spec, 1000); d > 80*time.Millisecond {
		t.Errorf("attempt 1000: %s over the cap", d)
	}
	if d := Backoff(adapters.RetrySpec{}, 1); d > DefaultBackoff {
		t.Errorf("default first backoff %s", d)
	}
}

func BenchmarkDo(b *testing.B) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"ok":true}`)
	}))
	defer s.Close()
	c, err := NewClient(Options{Endpoints: []string{s.URL}, Retry: fast(3), AttemptTimeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx := adapters.WithAttemptObserver(context.Background(), func(adapters.AttemptInfo) {})
	w := &adapters.WireRequest{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"iin":"900101300123"}`)}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Do(ctx, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A failed call must not cost the other calls their pooled connections:
// retryablehttp closes idle connections after every failure, which on a
// shared pool would mean a new TCP (and TLS) handshake for everyone.
func TestFailuresKeepPooledConnections(t *testing.T) {
	var conns atomic.Int64
	var fail atomic.Bool
	fail.Store(true)
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	defer s.Close()
	c := newClient(t, Options{Endpoints: []string{s.URL}, Retry: fast(2), Breaker: adapters.BreakerSpec{Failures: 100}})
	for i := range 6 {
		fail.Store(i < 3)
		if _, err := c.Do(context.Background(), body("x")); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections opened for 9 sequential requests, want 1", n)
	}
}
