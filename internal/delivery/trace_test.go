package delivery

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/metrics"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/tracing"
	"github.com/minfin-kz/kopir/routes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// tracedAdapter posts the request's JSON and checks it first, so that a
// call has every layer that makes a span: validate, attempt, store.
type tracedAdapter struct{}

func (tracedAdapter) Validate(_ context.Context, r *adapters.Request) error {
	if !json.Valid(r.Body) {
		return adapters.Invalid("", "not JSON")
	}
	return nil
}

func (tracedAdapter) Encode(_ context.Context, r *adapters.Request) (*adapters.WireRequest, error) {
	return &adapters.WireRequest{Body: r.Body, Header: sharedHeader}, nil
}

func (tracedAdapter) Decode(_ context.Context, _ *adapters.Request, w *adapters.WireResponse) (*adapters.Response, error) {
	if w.StatusCode != http.StatusOK {
		return nil, adapters.HTTPFailure("receiver", "the message", w)
	}
	return &adapters.Response{Body: w.Body}, nil
}

// sharedHeader is one map for every request, as adapters keep them: the
// trace context must go on a copy, never into it.
var sharedHeader = http.Header{"Content-Type": {"application/json"}}

func init() {
	adapters.Register("test.traced", func(adapters.AdapterConfig, adapters.Resources) (adapters.Adapter, error) {
		return tracedAdapter{}, nil
	})
}

// receiver is an agency or subscriber that keeps the traceparent of each
// request; it answers 503 to the first request of a path when failFirst.
type receiver struct {
	mu        sync.Mutex
	parents   []string
	failFirst bool
	seen      int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.parents = append(rc.parents, r.Header.Get("traceparent"))
	rc.seen++
	fail := rc.failFirst && rc.seen == 1
	rc.mu.Unlock()
	if fail {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte(`{"ok":true}`))
}

func (rc *receiver) calls() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.seen
}

func (rc *receiver) traceparents() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.parents...)
}

type bus struct {
	table *routes.Table
	st    *store.SQLStore
	spans *tracetest.SpanRecorder
	tp    *sdktrace.TracerProvider
	queue *memQueue
	w     *Worker
}

type memQueue struct {
	mu sync.Mutex
	ms []*routes.Message
}

func (q *memQueue) Enqueue(_ context.Context, m *routes.Message) error {
	q.mu.Lock()
	q.ms = append(q.ms, m)
	q.mu.Unlock()
	return nil
}

// newBus builds the route table, ledger and delivery worker over st with
// a tracer provider that records every span in memory, as app.New wires
// them. Two buses over one store are the same bus before and after a
// restart.
func newBus(t *testing.T, st *store.SQLStore, specs []routes.Spec) *bus {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	tr := tracing.New(tp)
	l := ledger.New(st, specs, "", slog.New(slog.DiscardHandler))
	q := &memQueue{}
	tbl, err := routes.Build(specs, routes.Deps{Ledger: l, Queue: q, Meter: metrics.New(), Log: slog.New(slog.DiscardHandler), Tracer: tr.Tracer(),
		Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Retry: adapters.RetrySpec{Attempts: n, Backoff: 1, Cap: 1},
				Breakers: resilience.NewBreakers(nil)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{Routes: tbl, Store: st, Ledger: l, Metrics: metrics.New(), Log: slog.New(slog.DiscardHandler), Tracer: tr.Tracer(),
		Backoff: func(adapters.RetrySpec, int) time.Duration { return 0 }}
	return &bus{table: tbl, st: st, spans: spans, tp: tp, queue: q, w: w}
}

// tree indexes ended spans by name; each name is expected once unless
// said otherwise.
func tree(spans []sdktrace.ReadOnlySpan) map[string][]sdktrace.ReadOnlySpan {
	out := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		out[s.Name()] = append(out[s.Name()], s)
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}

func childOf(t *testing.T, child, parent sdktrace.ReadOnlySpan) {
	t.Helper()
	if child.Parent().SpanID() != parent.SpanContext().SpanID() || child.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("span %q: parent %s, want %q (%s)", child.Name(), child.Parent().SpanID(), parent.Name(), parent.SpanContext().SpanID())
	}
}

// callerContext is what the internal API makes of a caller's traceparent.
func callerContext(traceID string) context.Context {
	h := http.Header{"Traceparent": {"00-" + traceID + "-00f067aa0ba902b7-01"}, "Tracestate": {"ministry=budget"}}
	return tracing.Extract(context.Background(), h)
}

// A sync call is one server span continuing the caller's trace, with
// validate, each attempt (endpoint, number, status; the failed one marked)
// and the store write as its children; the agency gets the trace in
// traceparent, and the stored message and the exchange know its id.
func TestSyncCallSpanTree(t *testing.T) {
	agency := &receiver{failFirst: true}
	srv := httptest.NewServer(agency)
	defer srv.Close()
	st := openStore(t)
	b := newBus(t, st, []routes.Spec{{Name: "registry.lookup", Adapter: "test.traced", Mode: routes.Sync, Endpoints: []string{srv.URL},
		Callers: []string{"treasury"}, Retry: adapters.RetrySpec{Attempts: 2}, Deadline: 5e9, Timeout: 5e9}})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r, _ := b.table.Get("registry.lookup")
	x := &routes.Exchange{Route: r, Caller: "treasury", Started: time.Now(), Request: adapters.Request{
		Route: r.Name, MessageID: routes.NewMessageID(), CorrelationID: "corr-1", Body: json.RawMessage(`{"q":1}`)}}
	if err := r.Call(callerContext(traceID), x); err != nil {
		t.Fatal(err)
	}
	if x.TraceID != traceID {
		t.Errorf("exchange trace id %q, want the caller's %s", x.TraceID, traceID)
	}
	spans := tree(b.spans.Ended())
	call := one(t, spans, "call registry.lookup")
	if call.SpanContext().TraceID().String() != traceID || call.Parent().SpanID().String() != "00f067aa0ba902b7" || !call.Parent().IsRemote() {
		t.Errorf("call span: trace %s, parent %s: does not continue the caller's trace", call.SpanContext().TraceID(), call.Parent().SpanID())
	}
	if call.SpanKind() != trace.SpanKindServer {
		t.Errorf("call span kind %s, want server", call.SpanKind())
	}
	for key, want := range map[string]string{"kopir.route": "registry.lookup", "kopir.caller": "treasury",
		"kopir.message_id": x.Request.MessageID, "kopir.outcome": "delivered"} {
		if got := attr(call, key); got != want {
			t.Errorf("call span %s = %q, want %q", key, got, want)
		}
	}
	if got := call.SpanContext().TraceState().Get("ministry"); got != "budget" {
		t.Errorf("tracestate ministry=%q, want the caller's budget", got)
	}
	childOf(t, one(t, spans, "validate"), call)
	storeSpan := one(t, spans, "store")
	childOf(t, storeSpan, call)
	if got := attr(storeSpan, "kopir.message_id"); got != x.Request.MessageID {
		t.Errorf("store span message id %q", got)
	}
	attempts := spans["attempt POST"]
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans, want 2 (a 503, then the answer)", len(attempts))
	}
	for i, a := range attempts {
		childOf(t, a, call)
		if attr(a, "kopir.attempt") != []string{"1", "2"}[i] || attr(a, "kopir.endpoint") != srv.URL ||
			attr(a, "http.response.status_code") != []string{"503", "200"}[i] {
			t.Errorf("attempt span %d: attempt %s endpoint %s status %s", i+1, attr(a, "kopir.attempt"), attr(a, "kopir.endpoint"), attr(a, "http.response.status_code"))
		}
	}
	if attempts[0].Status().Code.String() != "Error" {
		t.Errorf("the 503 attempt's span status is %s, want Error", attempts[0].Status().Code)
	}
	// The agency got each attempt's own span as the parent, in the trace.
	got := agency.traceparents()
	for i, tp := range got {
		want := "00-" + traceID + "-" + attempts[i].SpanContext().SpanID().String() + "-01"
		if tp != want {
			t.Errorf("attempt %d sent traceparent %q, want %q", i+1, tp, want)
		}
	}
	if _, ok := sharedHeader["Traceparent"]; ok {
		t.Error("the trace context was written into the adapter's own header map")
	}
	m, err := st.Get(context.Background(), x.Request.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if m.TraceID != traceID {
		t.Errorf("stored trace id %q, want %s", m.TraceID, traceID)
	}
}

// An async call stores its trace with the message; the delivery, made by
// another bus over the same store (a restart in between), continues that
// trace: its span is a child of the call's, the attempt and the store
// write are its children, and the subscriber gets a traceparent of the
// same trace.
func TestAsyncDeliveryContinuesTheTraceAcrossARestart(t *testing.T) {
	sub, st, specs := asyncNotice(t)
	before := newBus(t, st, specs)
	const traceID = "0af7651916cd43dd8448eb211c80319c"
	r, _ := before.table.Get("budget.notice")
	x := &routes.Exchange{Route: r, Caller: "treasury", Started: time.Now(), Request: adapters.Request{
		Route: r.Name, MessageID: routes.NewMessageID(), CorrelationID: "corr-2", Body: json.RawMessage(`{"n":2}`)}}
	if err := r.Call(callerContext(traceID), x); err != nil {
		t.Fatal(err)
	}
	first := tree(before.spans.Ended())
	call := one(t, first, "call budget.notice")
	childOf(t, one(t, first, "enqueue"), call)
	childOf(t, one(t, first, "store"), call)
	if len(sub.traceparents()) != 0 {
		t.Fatal("the subscriber was called before the delivery")
	}

	after := newBus(t, st, specs) // the restart: nothing but the store is shared
	msg := message.NewMessage("m", []byte(x.Request.MessageID))
	msg.SetContext(context.Background())
	if err := after.w.handle(msg); err != nil {
		t.Fatal(err)
	}
	spans := tree(after.spans.Ended())
	deliver := one(t, spans, "deliver budget.notice")
	if deliver.SpanContext().TraceID().String() != traceID || deliver.Parent().SpanID() != call.SpanContext().SpanID() {
		t.Errorf("deliver span: trace %s parent %s, want trace %s parent %s (the call's span)",
			deliver.SpanContext().TraceID(), deliver.Parent().SpanID(), traceID, call.SpanContext().SpanID())
	}
	if deliver.SpanKind() != trace.SpanKindConsumer || attr(deliver, "kopir.message_id") != x.Request.MessageID || attr(deliver, "kopir.outcome") != "delivered" {
		t.Errorf("deliver span: kind %s, message %s, outcome %s", deliver.SpanKind(), attr(deliver, "kopir.message_id"), attr(deliver, "kopir.outcome"))
	}
	attempt := one(t, spans, "attempt POST")
	childOf(t, attempt, deliver)
	childOf(t, one(t, spans, "store"), deliver)
	got := sub.traceparents()
	if len(got) != 1 || !strings.HasPrefix(got[0], "00-"+traceID+"-"+attempt.SpanContext().SpanID().String()) {
		t.Errorf("subscriber got traceparent %q, want the delivery attempt's in trace %s", got, traceID)
	}
	m, err := st.Get(context.Background(), x.Request.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != store.Delivered || m.TraceID != traceID {
		t.Errorf("stored message %s with trace %q, want DELIVERED in %s", m.Status, m.TraceID, traceID)
	}
}

// Without a span recorder and without a caller's trace, nothing is traced
// and nothing is sent: the agency sees no traceparent.
func TestNoTraceNoHeader(t *testing.T) {
	agency := &receiver{}
	srv := httptest.NewServer(agency)
	defer srv.Close()
	st := openStore(t)
	spec := routes.Spec{Name: "registry.lookup", Adapter: "test.traced", Mode: routes.Sync, Endpoints: []string{srv.URL},
		Callers: []string{"treasury"}, Retry: adapters.RetrySpec{Attempts: 1}, Deadline: 5e9, Timeout: 5e9}
	l := ledger.New(st, []routes.Spec{spec}, "", slog.New(slog.DiscardHandler))
	tbl, err := routes.Build([]routes.Spec{spec}, routes.Deps{Ledger: l, Meter: metrics.New(), Log: slog.New(slog.DiscardHandler),
		Tracer: tracing.Noop().Tracer(),
		Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Breakers: resilience.NewBreakers(nil)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tbl.Get("registry.lookup")
	x := &routes.Exchange{Route: r, Caller: "treasury", Started: time.Now(), Request: adapters.Request{
		Route: r.Name, MessageID: routes.NewMessageID(), Body: json.RawMessage(`{}`)}}
	if err := r.Call(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	if got := agency.traceparents(); len(got) != 1 || got[0] != "" {
		t.Errorf("traceparents sent: %q, want one request without", got)
	}
	if x.TraceID != "" {
		t.Errorf("exchange trace id %q with tracing off and no caller trace", x.TraceID)
	}
	// A caller's trace passes through unrecorded: the no-op provider keeps
	// the caller's span as the parent.
	const traceID = "5bf92f3577b34da6a3ce929d0e0e4737"
	x.Request.MessageID = routes.NewMessageID()
	if err := r.Call(callerContext(traceID), x); err != nil {
		t.Fatal(err)
	}
	if got := agency.traceparents(); len(got) != 2 || !strings.HasPrefix(got[1], "00-"+traceID+"-00f067aa0ba902b7") {
		t.Errorf("traceparents sent: %q, want the caller's passed on", got)
	}
}

func one(t *testing.T, spans map[string][]sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	if len(spans[name]) != 1 {
		names := []string{}
		for n, s := range spans {
			names = append(names, n+"×"+string(rune('0'+len(s))))
		}
		t.Fatalf("%d spans %q, want 1; spans: %v", len(spans[name]), name, names)
	}
	return spans[name][0]
}

// asyncNotice is an async route, budget.notice, delivering to a receiver,
// and a store for a bus that has it.
func asyncNotice(t *testing.T) (*receiver, *store.SQLStore, []routes.Spec) {
	t.Helper()
	sub := &receiver{}
	srv := httptest.NewServer(sub)
	t.Cleanup(srv.Close)
	specs := []routes.Spec{{Name: "budget.notice", Adapter: "test.traced", Mode: routes.Async, Endpoints: []string{srv.URL},
		Callers: []string{"treasury"}, Retry: adapters.RetrySpec{Attempts: 3}, Timeout: 5e9}}
	return sub, openStore(t), specs
}

func openStore(t *testing.T) *store.SQLStore {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/kopir.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
