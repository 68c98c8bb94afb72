package httpguard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/units"
)

// refusals keeps what the guard recorded, by message id.
type refusals struct {
	mu sync.Mutex
	by map[string]ledger.Refusal
}

func (r *refusals) Refused(_ context.Context, rf ledger.Refusal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.by == nil {
		r.by = map[string]ledger.Refusal{}
	}
	r.by[rf.ID] = rf
	return nil
}

func (r *refusals) get(id string) (ledger.Refusal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rf, ok := r.by[id]
	return rf, ok
}

func (r *refusals) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.by)
}

func guard(rec *refusals, edit func(*config.HTTPLimits)) *httpguard.Listener {
	lim := config.DefaultHTTPLimits
	if edit != nil {
		edit(&lim)
	}
	return &httpguard.Listener{Name: "test", Limits: lim, Ledger: rec, Log: slog.New(slog.DiscardHandler)}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func serve(h http.Handler, r *http.Request) answer {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	a := answer{status: w.Code, header: w.Header()}
	json.Unmarshal(w.Body.Bytes(), &a.body)
	return a
}

// mux is a listener's mux: one route per method, no catch-all.
func mux(h http.HandlerFunc) *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("POST /things/{id}", h)
	m.HandleFunc("GET /things/{id}", h)
	return m
}

func ok(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Write([]byte("done"))
}

// Each refusal the guard makes is problem+json with its exact status, and
// (but for the 503s past a cap) recorded under the message id it gives.
func TestRefusalsAreProblemsAndRecorded(t *testing.T) {
	rec := &refusals{}
	g := guard(rec, func(l *config.HTTPLimits) { l.MaxURIBytes = 256; l.MaxHeaderBytes = 2048 })
	h := g.Handler(mux(ok), nil)
	cases := []struct {
		name, method, target string
		header               map[string]string
		status               int
		typ, field, allow    string
	}{
		{"served", "POST", "/things/1", nil, 200, "", "", ""},
		{"wrong method", "DELETE", "/things/1", nil, 405, "urn:kopir:problem:method-not-allowed", "", "GET, HEAD, POST"},
		{"unknown path", "GET", "/nothing", nil, 404, "urn:kopir:problem:not-found", "", ""},
		{"long URI", "GET", "/things/" + strings.Repeat("x", 300), nil, 414, "urn:kopir:problem:uri-too-long", "", ""},
		{"large header", "GET", "/things/1", map[string]string{"X-Correlation-Id": strings.Repeat("c", 4000)}, 431,
			"urn:kopir:problem:request-headers-too-large", "X-Correlation-Id", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, c.target, strings.NewReader("{}"))
		for k, v := range c.header {
			r.Header.Set(k, v)
		}
		a := serve(h, r)
		if a.status != c.status {
			t.Errorf("%s: %d %v", c.name, a.status, a.body)
			continue
		}
		if c.status == 200 {
			continue
		}
		if a.header.Get("Content-Type") != "application/problem+json" || a.body["type"] != c.typ || c.field != "" && a.body["field"] != c.field {
			t.Errorf("%s: %v %v", c.name, a.header, a.body)
		}
		if a.header.Get("Allow") != c.allow {
			t.Errorf("%s: Allow %q, want %q", c.name, a.header.Get("Allow"), c.allow)
		}
		id, _ := a.body["messageId"].(string)
		rf, found := rec.get(id)
		if !found || rf.HTTPStatus != c.status || rf.Caller != "anonymous" || !strings.HasPrefix(rf.Route, "test:/") {
			t.Errorf("%s: recorded %v %+v", c.name, found, rf)
		}
	}
}

// Past the listener's cap, and past one address's cap, a request is 503
// with Retry-After at once; it is not recorded.
func TestCapsAnswerBusy(t *testing.T) {
	rec := &refusals{}
	g := guard(rec, func(l *config.HTTPLimits) {
		l.MaxConcurrent = 3
		l.MaxPerClient = 2
		l.RetryAfter = units.Duration(2 * time.Second)
	})
	entered, release := make(chan struct{}), make(chan struct{})
	h := g.Handler(mux(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}), nil)
	from := func(addr string) *http.Request {
		r := httptest.NewRequest("GET", "/things/1", nil)
		r.RemoteAddr = addr
		return r
	}
	done := make(chan answer, 3)
	for _, addr := range []string{"10.0.0.1:1000", "10.0.0.1:1001", "10.0.0.2:1000"} {
		go func() { done <- serve(h, from(addr)) }()
		<-entered
	}
	for _, c := range []struct{ addr, why string }{
		{"10.0.0.3:1000", "the listener is full"},
		{"10.0.0.1:1002", "the address is at its cap"},
	} {
		a := serve(h, from(c.addr))
		if a.status != 503 || a.header.Get("Retry-After") != "2" || a.body["type"] != "urn:kopir:problem:too-many-requests-in-flight" {
			t.Errorf("%s: %d %v %v", c.why, a.status, a.header, a.body)
		}
	}
	close(release)
	for range 3 {
		if a := <-done; a.status != 200 {
			t.Errorf("a request within the caps: %d", a.status)
		}
	}
	if rec.count() != 0 {
		t.Errorf("busy answers were recorded: %d", rec.count())
	}
}

// listen serves h behind the guard's own http.Server on a real connection,
// where read deadlines apply.
func listen(t *testing.T, g *httpguard.Listener, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := g.Server(ln.Addr().String(), h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// A body that trickles in is cut off at bodyReadTimeout with 408, recorded
// once, whatever the handler answers after its read fails.
func TestSlowBodyIsCutOffWith408(t *testing.T) {
	rec := &refusals{}
	g := guard(rec, func(l *config.HTTPLimits) { l.BodyReadTimeout = units.Duration(200 * time.Millisecond) })
	var handlerErr error
	addr := listen(t, g, g.Handler(mux(func(w http.ResponseWriter, r *http.Request) {
		_, handlerErr = io.ReadAll(r.Body)
		// A channel answers a failed read in its own contract's words,
		// and records its own refusal: the guard's is the one kept.
		g.Record(r, httpguard.Refusal{}, 400, "reading the body failed")
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(500)
		w.Write([]byte("<Fault/>"))
	}), nil))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /things/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil) // the rest of the body never comes
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p map[string]any
	json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != 408 || resp.Header.Get("Content-Type") != "application/problem+json" || !resp.Close || p["type"] != "urn:kopir:problem:request-body-too-slow" {
		t.Fatalf("slow body: %d %v %v", resp.StatusCode, resp.Header, p)
	}
	if rf, ok := rec.get(p["messageId"].(string)); !ok || rf.HTTPStatus != 408 || rec.count() != 1 {
		t.Errorf("recorded %v %+v (%d refusals)", ok, rf, rec.count())
	}
	if handlerErr != httpguard.ErrBodyTimeout {
		t.Errorf("the handler read %v", handlerErr)
	}
}

// The clock starts when the handler reads, not at the headers: a request
// held before it reads (a large document waiting for its turn) is not cut
// off for waiting.
func TestDeadlineStartsAtTheFirstRead(t *testing.T) {
	rec := &refusals{}
	g := guard(rec, func(l *config.HTTPLimits) { l.BodyReadTimeout = units.Duration(100 * time.Millisecond) })
	addr := listen(t, g, g.Handler(mux(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Write(body)
	}), nil))
	echoed(t, addr, "a body read after a wait")
}

// echoed posts a small body to a handler that echoes it, and wants it back.
func echoed(t *testing.T, addr, what string) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/things/1", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != `{"a":1}` {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, b)
	}
}

// Once the body is in, the deadline is lifted: a call that takes longer
// than bodyReadTimeout afterwards keeps its context and answers.
func TestDeadlineEndsWithTheBody(t *testing.T) {
	rec := &refusals{}
	g := guard(rec, func(l *config.HTTPLimits) { l.BodyReadTimeout = units.Duration(100 * time.Millisecond) })
	addr := listen(t, g, g.Handler(mux(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case <-time.After(400 * time.Millisecond):
		case <-r.Context().Done():
			http.Error(w, "context ended", 500)
			return
		}
		w.Write(body)
	}), nil))
	for range 2 { // the second on the kept-alive connection
		echoed(t, addr, "a long call after its body")
	}
	if rec.count() != 0 {
		t.Errorf("recorded %d refusals", rec.count())
	}
}

// A request answered without its body being read — here refused past the
// per-address cap — is answered within bodyReadTimeout and its connection
// closed, even when the rest of its body never comes: net/http reads what
// is left of a body before writing the answer, and without a deadline it
// waited for ever.
func TestUnreadBodyDoesNotHoldTheAnswer(t *testing.T) {
	rec := &refusals{}
	g := guard(rec, func(l *config.HTTPLimits) {
		l.MaxPerClient = 1
		l.BodyReadTimeout = units.Duration(200 * time.Millisecond)
	})
	entered, release := make(chan struct{}), make(chan struct{})
	addr := listen(t, g, g.Handler(mux(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}), nil))
	held := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/things/1")
		if err == nil {
			resp.Body.Close()
		}
		held <- err
	}()
	<-entered
	defer func() {
		close(release)
		if err := <-held; err != nil {
			t.Error(err)
		}
	}()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "POST /things/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil) // the rest of the body never comes
	if err != nil {
		t.Fatalf("no answer past the cap while the body is missing: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Errorf("past the cap: %d %v (close %v)", resp.StatusCode, resp.Header, resp.Close)
	}
}

// A body the handler leaves unread but the client sends at once is drained
// by net/http as before, and the connection is used again.
func TestUnreadBodySentAtOnceKeepsTheConnection(t *testing.T) {
	g := guard(&refusals{}, func(l *config.HTTPLimits) { l.BodyReadTimeout = units.Duration(100 * time.Millisecond) })
	addr := listen(t, g, g.Handler(mux(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }), nil))
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	var reused []bool
	for range 2 {
		var got bool
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { got = i.Reused }})
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+addr+"/things/1", strings.NewReader(`{"a":1}`))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("unread body: %d, close %v", resp.StatusCode, resp.Close)
		}
		time.Sleep(200 * time.Millisecond) // past bodyReadTimeout: the kept connection must not have been cut
		reused = append(reused, got)
	}
	if !reused[1] {
		t.Errorf("the second request did not reuse the connection: %v", reused)
	}
}
