package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func (h *harness) raw(method, path, token string, header map[string]string, body string) (*http.Response, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(method, "http://"+h.internal+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(raw, &out)
	return resp, out
}

func (h *harness) adminPost(path, body string, out any) int {
	req, _ := http.NewRequest("POST", "http://"+h.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestBadInputIsRejectedAndRecorded sends every kind of bad call: each gets
// a precise problem+json, is stored as REJECTED, and the bus keeps serving.
func TestBadInputIsRejectedAndRecorded(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3}")
	cases := []struct {
		name, route, token, body string
		status                   int
		field, detail            string
	}{
		{"no token", "gbdfl.person", "", `{"iin":"880501300124"}`, 401, "", "Bearer"},
		{"wrong token", "gbdfl.person", "nope", `{"iin":"880501300124"}`, 401, "", "Bearer"},
		{"unknown route", "gbdfl.nobody", "demo-token", `{}`, 404, "", "gbdfl.person"},
		{"malformed JSON", "gbdfl.person", "demo-token", `{"iin":`, 400, "", "not valid JSON"},
		{"not an object", "gbdfl.person", "demo-token", `["880501300124"]`, 400, "", "JSON object"},
		{"oversize", "gbdfl.person", "demo-token", `{"iin":"` + strings.Repeat("1", 70<<10) + `"}`, 413, "", "bytes"},
		{"bad check digit", "gbdfl.person", "demo-token", `{"iin":"880501300125"}`, 422, "iin", "check digit"},
		{"short IIN", "gbdfl.person", "demo-token", `{"iin":"88050130012"}`, 422, "iin", "12 digits"},
		{"unknown field", "gbdfl.person", "demo-token", `{"iin":"880501300124","extra":1}`, 422, "extra", ""},
	}
	for _, c := range cases {
		resp, p := h.raw("POST", "/v1/routes/"+c.route, c.token, nil, c.body)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s %v", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), p)
			continue
		}
		if c.field != "" && p["field"] != c.field {
			t.Errorf("%s: field %v, want %s (%v)", c.name, p["field"], c.field, p)
		}
		if !strings.Contains(fmt.Sprint(p["detail"]), c.detail) {
			t.Errorf("%s: detail %q lacks %q", c.name, p["detail"], c.detail)
		}
		if p["messageId"] == nil {
			t.Errorf("%s: no messageId in %v", c.name, p)
		}
		var d struct {
			Message struct{ Status string }
			Audit   []struct{ Action string }
		}
		if code := h.adminGet("/admin/v1/messages/"+fmt.Sprint(p["messageId"]), &d); code != 200 || d.Message.Status != "REJECTED" || len(d.Audit) < 2 {
			t.Errorf("%s: stored as %d %+v", c.name, code, d)
		}
	}
	if status, person, _ := h.call("gbdfl.person", "", `{"iin":"880501300124"}`); status != 200 || person["iin"] != "880501300124" {
		t.Errorf("bus stopped serving after bad input: %d %v", status, person)
	}
}

// TestDeadThenBulkReplay lets every delivery fail until the policy marks the
// message DEAD, then replays it in bulk once the subscriber is back.
func TestDeadThenBulkReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3, backoff: 10ms, cap: 50ms}")
	h.mockControl("PUT", "/_control/faults/subscriber", `{"failRate":1,"status":503}`)
	var ids []string
	for i := range 5 {
		status, out, err := h.call("subscriber.deliver", "", fmt.Sprintf(`{"n":%d}`, i))
		if err != nil || status != 202 {
			t.Fatalf("%d %v %v", status, out, err)
		}
		ids = append(ids, out["id"].(string))
	}
	waitCounts(t, h, 30*time.Second, func(c map[string]int) bool { return c["DEAD"] == 5 })
	var d struct {
		Message struct {
			Status       string
			AttemptCount int
		}
		Attempts []struct{ HTTPStatus int }
	}
	h.adminGet("/admin/v1/messages/"+ids[0], &d)
	if d.Message.AttemptCount != 3 || len(d.Attempts) != 3 || d.Attempts[2].HTTPStatus != 503 {
		t.Errorf("dead message after its 3 attempts: %+v", d)
	}

	h.mockControl("DELETE", "/_control/faults/subscriber", "")
	env := append([]string{}, "KOPIR_ADMIN_URL=http://"+h.admin, "KOPIR_ADMIN_TOKEN=admin-token")
	out := runCLI(t, env, "replay", "-status", "DEAD", "-route", "subscriber.deliver")
	if !strings.Contains(out, "5/5 replayed, 0 failed") {
		t.Errorf("bulk replay progress:\n%s", out)
	}
	waitCounts(t, h, 30*time.Second, func(c map[string]int) bool { return c["DELIVERED"] == 5 })
	var audit struct {
		Audit []struct{ Actor, Action string }
	}
	h.adminGet("/admin/v1/messages/"+ids[0], &audit)
	actions := []string{}
	for _, a := range audit.Audit {
		actions = append(actions, a.Actor+":"+a.Action)
	}
	if got := strings.Join(actions, " "); got != "demo:RECEIVED bus:QUEUED bus:DEAD operator:REPLAY bus:QUEUED bus:DELIVERED" {
		t.Errorf("audit trail: %s", got)
	}
	// The caller reads its own message's status; others' ids look absent.
	if resp, m := h.raw("GET", "/v1/messages/"+ids[0], "demo-token", nil, ""); resp.StatusCode != 200 || m["status"] != "DELIVERED" || m["attempts"].(float64) != 4 {
		t.Errorf("GET /v1/messages/{id}: %d %v", resp.StatusCode, m)
	}
	if resp, _ := h.raw("GET", "/v1/messages/"+ids[0], "", nil, ""); resp.StatusCode != 401 {
		t.Errorf("GET without a token: %d", resp.StatusCode)
	}
	if resp, _ := h.raw("GET", "/v1/messages/no-such-id", "demo-token", nil, ""); resp.StatusCode != 404 {
		t.Errorf("GET unknown id: %d", resp.StatusCode)
	}
	// Replaying a delivered message is refused.
	if code := h.adminPost("/admin/v1/messages/"+ids[0]+"/replay", "", nil); code != http.StatusConflict {
		t.Errorf("replay of a delivered message: %d", code)
	}
}

// waitCounts polls the subscriber route's counts until ok holds, failing
// the test after within.
func waitCounts(t *testing.T, h *harness, within time.Duration, ok func(map[string]int) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var st struct{ Counts map[string]int }
		h.adminGet("/admin/v1/stats?route=subscriber.deliver", &st)
		if ok(st.Counts) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts never reached the expected state: %v", st.Counts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIdempotentSyncCallReachesAgencyOnce repeats a call with the same key.
func TestIdempotentSyncCallReachesAgencyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3}")
	hdr := map[string]string{"Idempotency-Key": "k-1", "X-Correlation-Id": "corr-42"}
	r1, p1 := h.raw("POST", "/v1/routes/gbdfl.person", "demo-token", hdr, `{"iin":"880501300124"}`)
	r2, p2 := h.raw("POST", "/v1/routes/gbdfl.person", "demo-token", hdr, `{"iin":"880501300124"}`)
	if r1.StatusCode != 200 || r2.StatusCode != 200 || p1["lastName"] != p2["lastName"] || p1["lastName"] == nil {
		t.Fatalf("repeat: %d %v / %d %v", r1.StatusCode, p1, r2.StatusCode, p2)
	}
	if r2.Header.Get("Idempotent-Replayed") != "true" || r1.Header.Get("X-Kopir-Message-Id") != r2.Header.Get("X-Kopir-Message-Id") {
		t.Errorf("repeat headers: %v", r2.Header)
	}
	if r1.Header.Get("X-Correlation-Id") != "corr-42" {
		t.Errorf("correlation id not echoed: %v", r1.Header)
	}
	var rec struct{ Total int }
	json.Unmarshal(h.mockControl("GET", "/_control/received/shep", ""), &rec)
	if rec.Total != 1 {
		t.Errorf("agency called %d times for one idempotency key", rec.Total)
	}

	// An async repeat is answered 202 with the first message, marked as a
	// replay like a sync one.
	body := `{"event":"paid","iin":"880501300124"}`
	a1, q1 := h.raw("POST", "/v1/routes/subscriber.deliver", "demo-token", map[string]string{"Idempotency-Key": "k-async"}, body)
	a2, q2 := h.raw("POST", "/v1/routes/subscriber.deliver", "demo-token", map[string]string{"Idempotency-Key": "k-async"}, body)
	if a1.StatusCode != 202 || a2.StatusCode != 202 || q1["id"] == nil || q1["id"] != q2["id"] || a2.Header.Get("X-Kopir-Message-Id") != q1["id"] {
		t.Fatalf("async repeat: %d %v / %d %v", a1.StatusCode, q1, a2.StatusCode, q2)
	}
	if a1.Header.Get("Idempotent-Replayed") != "" || a2.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("async replay headers: first %v, repeat %v", a1.Header, a2.Header)
	}
}

// TestBreakerOpensAndFailsFast makes the gateway fail every call.
func TestBreakerOpensAndFailsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3}")
	h.mockControl("PUT", "/_control/faults/shep", `{"failRate":1,"status":503}`)
	var last *http.Response
	var p map[string]any
	for range 4 { // 3 attempts each; the default breaker opens after 5 failures
		last, p = h.raw("POST", "/v1/routes/gbdfl.person", "demo-token", nil, `{"iin":"880501300124"}`)
	}
	if last.StatusCode != 503 || last.Header.Get("Retry-After") == "" || !strings.Contains(fmt.Sprint(p["title"]), "breaker") {
		t.Fatalf("after repeated failures: %d %v %v", last.StatusCode, last.Header, p)
	}
	var b struct {
		Breakers []struct{ Endpoint, State string }
	}
	h.adminGet("/admin/v1/breakers", &b)
	states := map[string]string{}
	for _, br := range b.Breakers {
		states[br.Endpoint] = br.State
	}
	// Breakers are per endpoint and SHEP service.
	if states["http://"+h.mocks+"/shep/sync#GBDFL_UniversalServiceSync"] != "open" || states["http://"+h.mocks+"/subscriber/e2e"] == "open" {
		t.Errorf("breakers: %+v", b)
	}
}
