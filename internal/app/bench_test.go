package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	_ "github.com/minfin-kz/kopir/adapters/all"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/httpapi"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/all"
)

// BenchmarkSyncPipeline is one translated, durably recorded sync call as
// make bench drives it, in one process: the internal API's handler, the
// route's pipeline, the gbdfl adapter and the resilience transport to the
// SHEP mock over loopback, and the SQLite store. Its allocs/op is the
// figure issue 14 asks to halve. The mock runs in the same process, so its
// allocations are counted in "bus" too; the "mock" sub-benchmark is its
// handler alone, and bus − mock is the bus's own share.
func BenchmarkSyncPipeline(b *testing.B) {
	agencies := mocks.New(mocks.Options{})
	mock := httptest.NewServer(agencies)
	b.Cleanup(func() { mock.Close(); agencies.Close() })

	raw, err := os.ReadFile("../../deploy/local.yaml")
	if err != nil {
		b.Fatal(err)
	}
	raw = []byte(strings.ReplaceAll(string(raw), "http://127.0.0.1:8090", mock.URL))
	b.Chdir("../..") // the demo config names its key files from the repository root
	cfg, err := config.Parse("deploy/local.yaml", raw)
	if err != nil {
		b.Fatal(err)
	}
	cfg.DataDir = b.TempDir()
	cfg.Database = ""
	cfg.NATS = ""
	cfg.Redis = ""
	ctx, cancel := context.WithCancel(b.Context())
	b.Cleanup(cancel)
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(a.Close)
	h := a.internalAPI(a.guard("internal", httpapi.RouteOf)).Handler()

	body := []byte(`{"iin":"880501300124"}`)
	call := func(b *testing.B) bool {
		req := httptest.NewRequest(http.MethodPost, "/v1/routes/gbdfl.person", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer demo-token")
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Errorf("status %d: %s", w.Code, w.Body)
			return false
		}
		return true
	}
	shep, err := os.ReadFile("deploy/bench/shep-gbdfl.xml")
	if err != nil {
		b.Fatal(err)
	}
	for range 50 { // connection pools, compiled schemas, the writer's first batches
		if !call(b) {
			b.FailNow()
		}
	}
	b.Run("bus", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() && call(b) {
			}
		})
	})
	// The mock's handler alone, called in process: what of "bus" is the
	// agency's and not the bus's.
	b.Run("mock", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodPost, "/shep/sync", bytes.NewReader(shep))
			req.Header.Set("Content-Type", "text/xml; charset=utf-8")
			w := httptest.NewRecorder()
			agencies.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("mock status %d: %s", w.Code, w.Body)
			}
		}
	})
}
