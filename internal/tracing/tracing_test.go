package tracing

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// clearEnv unsets every variable FromEnv reads, for this test only.
func clearEnv(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_TRACES_EXPORTER",
		"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"} {
		t.Setenv(v, "")
	}
}

// With an OTLP endpoint set, spans reach it as OTLP/HTTP protobuf exports
// at /v1/traces, with the service name from OTEL_SERVICE_NAME, and
// Shutdown flushes what is still batched.
func TestExportsOTLPHTTPWhenEndpointSet(t *testing.T) {
	clearEnv(t)
	var (
		mu   sync.Mutex
		reqs []*collectortrace.ExportTraceServiceRequest
		bad  []string
	)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			bad = append(bad, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
		}
		var req collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			bad = append(bad, "undecodable body: "+err.Error())
		}
		reqs = append(reqs, &req)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(nil)
	}))
	defer sink.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.URL)
	t.Setenv("OTEL_SERVICE_NAME", "kopir-test")

	tr, err := FromEnv(context.Background(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Exporting() {
		t.Fatal("an endpoint is set, yet the provider does not export")
	}
	ctx, parent := tr.Tracer().Start(context.Background(), "call test.route")
	_, child := tr.Tracer().Start(ctx, "store")
	child.End()
	parent.End()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("unexpected exports: %v", bad)
	}
	names := map[string]string{}
	service := ""
	for _, req := range reqs {
		for _, rs := range req.ResourceSpans {
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					service = a.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names[s.Name] = string(s.TraceId)
				}
			}
		}
	}
	if len(names) != 2 || names["call test.route"] == "" || names["call test.route"] != names["store"] {
		t.Errorf("exported spans %v, want call test.route and store in one trace", mapKeys(names))
	}
	if service != "kopir-test" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's kopir-test", service)
	}
}

func mapKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// Without an endpoint the provider is the no-op one: no exporter, no
// goroutine, no span recorded, and Shutdown has nothing to do.
func TestNoEndpointNothingStarted(t *testing.T) {
	clearEnv(t)
	before := runtime.NumGoroutine()
	tr, err := FromEnv(context.Background(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Exporting() {
		t.Fatal("no endpoint set, yet the provider exports")
	}
	for range 100 {
		_, span := tr.Tracer().Start(context.Background(), "call test.route")
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Fatal("the no-op provider recorded a span")
		}
		span.End()
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Errorf("%d goroutines after building the provider, %d before", after, before)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	// OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none win over an endpoint.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
	for _, kv := range [][2]string{{"OTEL_SDK_DISABLED", "true"}, {"OTEL_TRACES_EXPORTER", "none"}} {
		t.Setenv(kv[0], kv[1])
		if tr, err := FromEnv(context.Background(), nil); err != nil || tr.Exporting() {
			t.Errorf("%s=%s: exporting %v, err %v", kv[0], kv[1], tr != nil && tr.Exporting(), err)
		}
		t.Setenv(kv[0], "")
	}
}

// A value the bus cannot honour is refused at start-up, naming the
// variable.
func TestRefusesWhatItCannotHonour(t *testing.T) {
	for _, c := range []struct{ env, value, want string }{
		{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"},
		{"OTEL_TRACES_SAMPLER", "jaeger_remote", "OTEL_TRACES_SAMPLER"},
		{"OTEL_TRACES_SAMPLER_ARG", "1.5", "OTEL_TRACES_SAMPLER_ARG"},
		{"OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER"},
	} {
		clearEnv(t)
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
		if c.env == "OTEL_TRACES_SAMPLER_ARG" {
			t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
		}
		t.Setenv(c.env, c.value)
		_, err := FromEnv(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: %v, want an error naming %s", c.env, c.value, err, c.want)
		}
	}
}

// parentbased_traceidratio follows a caller's decision and samples its own
// roots at the ratio.
func TestSamplerFromEnv(t *testing.T) {
	clearEnv(t)
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0.1")
	s, err := SamplerFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Description(); !strings.Contains(d, "ParentBased") || !strings.Contains(d, "TraceIDRatioBased{0.1}") {
		t.Errorf("sampler %s", d)
	}
}

// The agency listener's span continues an agency's traceparent, is the
// parent of what the channel does, and ends with the answer's status.
func TestInboundContinuesTheAgencysTrace(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	tr := New(tp)
	var inner trace.SpanContext
	h := tr.Inbound("shep", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusAccepted)
	}))
	req := httptest.NewRequest(http.MethodPost, "/shep/async", strings.NewReader("<x/>"))
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want 1", len(ended))
	}
	s := ended[0]
	if s.Name() != "inbound shep" || s.SpanKind() != trace.SpanKindServer ||
		s.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("span %q kind %s trace %s parent %s", s.Name(), s.SpanKind(), s.SpanContext().TraceID(), s.Parent().SpanID())
	}
	if inner.SpanID() != s.SpanContext().SpanID() {
		t.Error("the channel's handler does not run under the inbound span")
	}
	found := false
	for _, a := range s.Attributes() {
		if a.Key == "http.response.status_code" && a.Value.AsInt64() == http.StatusAccepted {
			found = true
		}
	}
	if !found {
		t.Errorf("attributes %v lack the answer's status 202", s.Attributes())
	}
}

// Stored and resumed, a trace context is the same context.
func TestStoreAndResume(t *testing.T) {
	ctx := Extract(context.Background(), http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		"Tracestate": {"ministry=budget"}})
	st := Store(ctx)
	if st.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || st.TraceParent != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" || st.TraceState != "ministry=budget" {
		t.Fatalf("stored %+v", st)
	}
	back := trace.SpanContextFromContext(Resume(context.Background(), st.TraceParent, st.TraceState))
	if back.TraceID().String() != st.TraceID || back.SpanID().String() != "00f067aa0ba902b7" || back.TraceState().Get("ministry") != "budget" {
		t.Errorf("resumed %v", back)
	}
	if (Store(context.Background()) != Stored{}) {
		t.Error("a context without a trace stored one")
	}
}
