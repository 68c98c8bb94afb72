package mocks_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/all"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
)

func TestFaultRates(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 42}))
	defer srv.Close()
	mocktest.PutFault(t, srv.URL, "subscriber", `{"failRate":0.3,"status":503}`)
	const n = 1000
	failed := 0
	for i := 0; i < n; i++ {
		status, _ := mocktest.Do(t, "POST", srv.URL+"/subscriber/payments", []byte(`{"n":1}`), "Idempotency-Key", "k"+string(rune('a'+i%26)))
		switch status {
		case 200:
		case 503:
			failed++
		default:
			t.Fatalf("status %d", status)
		}
	}
	if failed < 250 || failed > 350 {
		t.Fatalf("failRate 0.3 gave %d/%d failures", failed, n)
	}
	r := mocktest.Received(t, srv.URL, "subscriber")
	if r.Total != int64(n-failed) || r.Rejected != int64(failed) || r.Unique != 26 || len(r.Items) != 26 {
		t.Fatalf("total %d rejected %d unique %d items %d, failed %d", r.Total, r.Rejected, r.Unique, len(r.Items), failed)
	}
	// Same seed, same sequence.
	srv2 := httptest.NewServer(mocks.New(mocks.Options{Seed: 42}))
	defer srv2.Close()
	mocktest.PutFault(t, srv2.URL, "subscriber", `{"failRate":0.3,"status":503}`)
	failed2 := 0
	for i := 0; i < n; i++ {
		if status, _ := mocktest.Do(t, "POST", srv2.URL+"/subscriber", []byte(`{}`)); status == 503 {
			failed2++
		}
	}
	if failed2 != failed {
		t.Fatalf("seeded runs differ: %d vs %d", failed, failed2)
	}
	// Cleared faults stop failing.
	if status, _ := mocktest.Do(t, "DELETE", srv.URL+"/_control/faults/subscriber", nil); status != 204 {
		t.Fatal(status)
	}
	for i := 0; i < 50; i++ {
		if status, _ := mocktest.Do(t, "POST", srv.URL+"/subscriber", []byte(`{}`)); status != 200 {
			t.Fatal(status)
		}
	}
}

func TestTimeouts(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1, MaxHang: 300 * time.Millisecond}))
	defer srv.Close()
	mocktest.PutFault(t, srv.URL, "subscriber", `{"timeoutRate":1}`)
	// A client that gives up first sees its own timeout…
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/subscriber", strings.NewReader(`{}`))
	start := time.Now()
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("hung %v", d)
	}
	// …one that waits gets 504 after MaxHang.
	if status, _ := mocktest.Do(t, "POST", srv.URL+"/subscriber", []byte(`{}`)); status != 504 {
		t.Fatal(status)
	}
}

func TestControlAPI(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{}))
	defer srv.Close()
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/_control/faults/nosuch", `{}`, 404},
		{"GET", "/_control/received/nosuch", ``, 404},
		{"PUT", "/_control/faults/shep", `{"failRate":2}`, 400},
		{"PUT", "/_control/faults/shep", `{"failRate":0.6,"timeoutRate":0.6}`, 400},
		{"PUT", "/_control/faults/shep", `{"status":200,"failRate":1}`, 400},
		{"PUT", "/_control/faults/shep", `{"fail":1}`, 400},
		{"PUT", "/_control/faults/gbdfl", `{"failRate":0.5}`, 200},
		{"GET", "/shep/sync", ``, 400},
		{"GET", "/shep/sync?file=../../../../etc/passwd", ``, 400},
	} {
		if status, b := mocktest.Do(t, c.method, srv.URL+c.path, []byte(c.body)); status != c.status {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, status, b)
		}
	}
	_, b := mocktest.Do(t, "GET", srv.URL+"/_control/faults", nil)
	var faults map[string]mocks.Fault
	if err := json.Unmarshal(b, &faults); err != nil || len(faults) != 1 || faults["gbdfl"].FailRate != 0.5 || faults["gbdfl"].Status != 503 {
		t.Fatalf("%s", b)
	}
}

// The agencies' clock is set and advanced through the control API, and
// every move wakes its watchers with the new time.
func TestClock(t *testing.T) {
	s := mocks.New(mocks.Options{Seed: 1})
	defer s.Close()
	woken := make(chan time.Time, 64)
	s.Clock().Watch(func(now time.Time) {
		select {
		case woken <- now:
		default:
		}
	})
	srv := httptest.NewServer(s)
	defer srv.Close()
	put := func(body string) (int, mocks.ClockAnswer) {
		status, raw := mocktest.Do(t, "PUT", srv.URL+"/_control/clock", []byte(body))
		var a mocks.ClockAnswer
		json.Unmarshal(raw, &a)
		return status, a
	}
	start := time.Date(2026, 12, 8, 11, 59, 0, 0, time.FixedZone("Astana", 5*3600))
	if status, a := put(`{"now":"2026-12-08T11:59:00+05:00"}`); status != 200 || a.Now.Before(start) || a.Now.Sub(start) > time.Minute {
		t.Fatalf("set: %d %s", status, a.Now)
	}
	if status, a := put(`{"advance":"26h"}`); status != 200 || a.Now.Sub(start) < 26*time.Hour || a.Now.Sub(start) > 26*time.Hour+time.Minute {
		t.Fatalf("advance: %d %s", status, a.Now)
	}
	for {
		// The watcher sees the moved time (ticks before the move show
		// the system's).
		if now := <-woken; now.Sub(start) >= 26*time.Hour {
			break
		}
	}
	_, raw := mocktest.Do(t, "GET", srv.URL+"/_control/clock", nil)
	var a mocks.ClockAnswer
	if err := json.Unmarshal(raw, &a); err != nil || a.Now.Sub(start) < 26*time.Hour {
		t.Fatalf("get: %s %v", raw, err)
	}
	for _, bad := range []string{`{}`, `{"now":"noon"}`, `{"advance":"-5m"}`, `{"advance":"soon"}`, `{"now":"2026-12-08T12:00:00Z","advance":"1h"}`, `{"later":"1h"}`} {
		if status, _ := put(bad); status != http.StatusBadRequest {
			t.Errorf("%s: %d", bad, status)
		}
	}
}
