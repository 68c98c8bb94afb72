package admin_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/clock"
)

// A simulated clock is set and advanced through the admin API; bad
// requests name their field; the system clock is shown but not moved.
func TestSimulatedClockThroughTheAdminAPI(t *testing.T) {
	s, _ := server(t)
	h := s.Handler()
	if rec := call(h, "PUT", "/admin/v1/clock", "admin-token", `{"advance":"1h"}`); rec.Code != http.StatusConflict {
		t.Fatalf("moving the system clock: %d %s", rec.Code, rec.Body)
	}
	s.Clock = clock.NewSimulated(time.Now())
	h = s.Handler()
	astana := time.FixedZone("Astana", 5*3600)
	start := time.Date(2026, 12, 1, 9, 0, 0, 0, astana)
	get := func(method, body string) admin.ClockAnswer {
		t.Helper()
		rec := call(h, method, "/admin/v1/clock", "admin-token", body)
		var a admin.ClockAnswer
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &a) != nil || !a.Simulated {
			t.Fatalf("%s %s: %d %s", method, body, rec.Code, rec.Body)
		}
		return a
	}
	if a := get("PUT", `{"now":"2026-12-01T09:00:00+05:00"}`); a.Now.Before(start) || a.Now.Sub(start) > time.Minute {
		t.Fatalf("set to %s, shows %s", start, a.Now)
	}
	if a := get("PUT", `{"advance":"6h30m"}`); a.Now.Sub(start) < 6*time.Hour+30*time.Minute || a.Now.Sub(start) > 6*time.Hour+31*time.Minute {
		t.Fatalf("advanced 6h30m from %s, shows %s", start, a.Now)
	}
	if a := get("GET", ""); a.Now.Sub(start) < 6*time.Hour+30*time.Minute {
		t.Fatalf("read back %s", a.Now)
	}
	for body, field := range map[string]string{
		`{"now":"tomorrow"}`:                            "now",
		`{"advance":"-1h"}`:                             "advance",
		`{"now":"2026-12-01T09:00:00Z","advance":"1h"}`: "now",
		`{}`: "now",
	} {
		rec := call(h, "PUT", "/admin/v1/clock", "admin-token", body)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"field":"`+field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming %s", body, rec.Code, rec.Body, field)
		}
	}
}
