package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestTraceCrossesTheBus: a caller's traceparent continues through the
// running bus — the subscriber receives the same trace, the message
// stores its id, and the spans reach an OTLP/HTTP collector.
func TestTraceCrossesTheBus(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	var mu sync.Mutex
	spans := map[string][]string{} // trace id → span names
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					id := hex.EncodeToString(s.TraceId)
					spans[id] = append(spans[id], s.Name)
				}
			}
		}
		mu.Unlock()
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	defer collector.Close()
	got := make(chan string, 4)
	subscriber := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Traceparent")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer subscriber.Close()
	// The bus reads the standard variables; the child process inherits them.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
	h := newHarnessWith(t, func(h *harness) string {
		return fmt.Sprintf(`demo: true
listen: {internal: %q, agency: %q, admin: %q}
dataDir: %q
callers: [{name: demo, token: demo-token}]
admins: [{name: operator, token: admin-token, role: admin}]
routes:
  - name: traced.deliver
    adapter: http
    operation: deliver
    mode: async
    endpoints: [%s/in]
    callers: [demo]
`, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), subscriber.URL)
	})
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp, out := h.raw("POST", "/v1/routes/traced.deliver", "demo-token",
		map[string]string{"traceparent": "00-" + trace + "-00f067aa0ba902b7-01", "Idempotency-Key": "trace-1"}, `{"event":"paid"}`)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("call: %d %v", resp.StatusCode, out)
	}
	select {
	case tp := <-got:
		if parts := strings.Split(tp, "-"); len(parts) != 4 || parts[1] != trace || parts[2] == "00f067aa0ba902b7" {
			t.Errorf("the subscriber got traceparent %q: not a child in trace %s", tp, trace)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("nothing delivered")
	}
	var d struct{ Message struct{ TraceID string } }
	h.adminGet("/admin/v1/messages/"+out["id"].(string), &d)
	if d.Message.TraceID != trace {
		t.Errorf("stored trace id %q, want %s", d.Message.TraceID, trace)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		names := strings.Join(spans[trace], " ")
		mu.Unlock()
		if strings.Contains(names, "call traced.deliver") && strings.Contains(names, "deliver traced.deliver") && strings.Contains(names, "attempt POST") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collector has for trace %s only: %s", trace, names)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
