package console

import (
	"context"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/config"
)

func TestSessionsExpire(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	mem := &memorySessions{m: map[string][]byte{}}
	ss := newSessions(mem, 30*time.Minute, 8*time.Hour, func() time.Time { return now })
	id, s, err := ss.start(context.Background(), config.Admin{Caller: config.Caller{Name: "op"}, Role: config.RoleOperator})
	if err != nil {
		t.Fatal(err)
	}
	get := func(v string) bool {
		r := httptest.NewRequest("GET", "/console/messages", nil)
		r.Header.Set("Cookie", cookieName+"="+v)
		_, ok := ss.get(r)
		return ok
	}
	if !get(id) {
		t.Fatal("a new session is not found by its cookie")
	}
	if get(s.CSRF) || get(id+"x") {
		t.Fatal("a session is found by a value that is not its cookie")
	}
	for k, v := range mem.m {
		if strings.Contains(k, id) || strings.Contains(string(v), id) {
			t.Fatal("the cookie value is kept in clear")
		}
	}
	// Used every 20 minutes, it lives until its maximum age.
	for i := 0; i < 23; i++ {
		now = now.Add(20 * time.Minute)
		if !get(id) {
			t.Fatalf("an active session ended after %v", time.Duration(i+1)*20*time.Minute)
		}
	}
	now = now.Add(21 * time.Minute) // past 8h in all
	if get(id) {
		t.Fatal("a session outlived its maximum age")
	}
	id, _, _ = ss.start(context.Background(), config.Admin{Caller: config.Caller{Name: "op"}, Role: config.RoleOperator})
	now = now.Add(31 * time.Minute)
	if get(id) {
		t.Fatal("an idle session outlived its idle time")
	}
	if len(mem.m) != 0 {
		t.Fatalf("expired sessions are kept: %d", len(mem.m))
	}
}

func TestSafeNextStaysOnTheConsole(t *testing.T) {
	for in, want := range map[string]string{
		"/console/messages/abc":   "/console/messages/abc",
		"//evil.example/console/": "/console/messages",
		"https://evil.example/":   "/console/messages",
		"/console/\r\nSet-Cookie": "/console/messages",
		"/admin/v1/messages":      "/console/messages",
		"":                        "/console/messages",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatBody(t *testing.T) {
	x := formatBody([]byte(`<?xml version="1.0"?><s:Envelope xmlns:s="urn:s"><s:Body><a x="1&amp;2">t&lt;u</a><b/></s:Body></s:Envelope>`))
	want := "<?xml version=\"1.0\"?>\n<s:Envelope xmlns:s=\"urn:s\">\n  <s:Body>\n    <a x=\"1&amp;2\">t&lt;u</a>\n    <b></b>\n  </s:Body>\n</s:Envelope>"
	if x.Kind != "XML" || x.Text != want {
		t.Errorf("XML shown as %s:\n%s\nwant:\n%s", x.Kind, x.Text, want)
	}
	j := formatBody([]byte(`{"a":[1,2],"b":"c"}`))
	if j.Kind != "JSON" || j.Text != "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"c\"\n}" {
		t.Errorf("JSON shown as %s:\n%s", j.Kind, j.Text)
	}
	big := formatBody([]byte("<a>" + strings.Repeat("x", maxShown) + "</a>"))
	if !big.Truncated || len(big.Text) > maxShown+16 || big.Size != maxShown+7 {
		t.Errorf("a large body: truncated %v, %d bytes shown of %d", big.Truncated, len(big.Text), big.Size)
	}
	if formatBody(nil) != nil {
		t.Error("an empty body is shown")
	}
	if bad := formatBody([]byte{0xff, 'a'}); bad.Kind != "text" || !strings.Contains(bad.Text, "\uFFFD") {
		t.Errorf("bytes that are not UTF-8: %+v", bad)
	}
}

func TestQuantileInterpolatesLikePromQL(t *testing.T) {
	h := histogram{bounds: []float64{0.01, 0.1, 1}, counts: []float64{50, 90, 100}, total: 100}
	for q, want := range map[float64]float64{0.5: 0.01, 0.25: 0.005, 0.7: 0.055, 0.95: 0.55} {
		if got := h.quantile(q); math.Abs(got-want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	inf := histogram{bounds: []float64{0.01, 0.1}, counts: []float64{0, 0}, total: 10}
	if got := inf.quantile(0.5); got != 0.1 {
		t.Errorf("observations above every bound: %v, want the largest bound", got)
	}
	if !math.IsNaN((histogram{}).quantile(0.5)) {
		t.Error("no observation gives a number")
	}
	d := histogram{bounds: []float64{1}, counts: []float64{30}, total: 30}.minus(histogram{bounds: []float64{1}, counts: []float64{10}, total: 10})
	if d.total != 20 || d.counts[0] != 20 {
		t.Errorf("a window's histogram: %+v", d)
	}
}
