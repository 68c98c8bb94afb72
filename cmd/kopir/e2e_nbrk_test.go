package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/nbrk"
)

// nbrkConfig is the bus with the nbrk.rates route as deploy/local.yaml has
// it, on a simulated clock, against the mock feed.
func nbrkConfig(h *harness) string {
	return fmt.Sprintf(`demo: true
clock: {simulated: true, start: "2026-12-01T10:00:00+05:00"}
listen: {internal: %q, agency: %q, admin: %q}
dataDir: %q
callers: [{name: demo, token: demo-token}]
admins: [{name: operator, token: admin-token, role: admin}]
limits: {http: {maxPerClient: 128}}   # the test's hundred callers share one address
routes:
  - name: nbrk.rates
    adapter: http
    operation: get-xml
    mode: sync
    endpoints: [http://%s/nbrk]
    timeout: 5s
    deadline: 12s
    retry: {attempts: 2, backoff: 10ms, cap: 50ms}
    breaker: {failures: 1000, openFor: 1s}
    maxBody: 1KiB
    cacheTTL: 24h
    callers: [demo]
    options:
      path: /rss/get_rates.cfm
      fields:
        date: {type: date, default: today, currentTTL: 5m}
      query: {fdate: "{{date:02.01.2006}}"}
      maxResponse: 256KiB
      response:
        root: rates
        fields:
          date: {type: date, layout: 02.01.2006}
          rates:
            from: item
            list: true
            fields:
              currency: {from: title}
              name: {from: fullname}
              rate: {from: description, type: decimal}
              quant: {type: integer}
`, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), h.mocks)
}

// feedCalls is how many requests for fdate reached the mock feed.
func (h *harness) feedCalls(fdate string) int64 {
	var r mocks.Received
	json.Unmarshal(h.mockControl(http.MethodGet, "/_control/received/nbrk?key="+fdate, ""), &r)
	var n int64
	for _, it := range r.Items {
		n += it.Count + it.Rejected
	}
	return n
}

type ratesAnswer struct {
	Date  string `json:"date"`
	Rates []struct {
		Currency string `json:"currency"`
		Name     string `json:"name"`
		Rate     string `json:"rate"`
		Quant    int    `json:"quant"`
	} `json:"rates"`
}

func (h *harness) rates(body string) (int, ratesAnswer, map[string]any) {
	h.t.Helper()
	status, out, err := h.call("nbrk.rates", "", body)
	if err != nil {
		h.t.Fatal(err)
	}
	raw, _ := json.Marshal(out)
	var a ratesAnswer
	json.Unmarshal(raw, &a)
	return status, a, out
}

func usdOn(day string) string {
	d, _ := time.Parse(time.DateOnly, day)
	return nbrk.Tenge(nbrk.Rate(nbrk.Currencies[2], d))
}

func TestNBRKRatesCachedPerDate(t *testing.T) {
	h := newHarnessWith(t, nbrkConfig)

	// A hundred callers asking for today's rates at once: one call to the
	// feed, the same answer for all.
	const n = 100
	var wg sync.WaitGroup
	answers := make([]ratesAnswer, n)
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := `{}`
			if i%2 == 1 {
				body = `{"date":"2026-12-01"}` // the same day, named
			}
			statuses[i], answers[i], _ = h.rates(body)
		}()
	}
	wg.Wait()
	for i := range n {
		if statuses[i] != 200 || answers[i].Date != "2026-12-01" || len(answers[i].Rates) != len(nbrk.Currencies) {
			t.Fatalf("caller %d: %d %+v", i, statuses[i], answers[i])
		}
	}
	if got := h.feedCalls("01.12.2026"); got != 1 {
		t.Fatalf("%d concurrent callers made %d calls to the feed", n, got)
	}
	usd := answers[0].Rates[2]
	if usd.Currency != "USD" || usd.Name != "ДОЛЛАР США" || usd.Rate != usdOn("2026-12-01") || usd.Quant != 1 {
		t.Errorf("USD: %+v, want rate %s", usd, usdOn("2026-12-01"))
	}

	// A past day is asked for once and then kept.
	for range 3 {
		if status, a, _ := h.rates(`{"date":"2026-11-02"}`); status != 200 || a.Date != "2026-11-02" || a.Rates[2].Rate != usdOn("2026-11-02") {
			t.Fatalf("past day: %d %+v", status, a)
		}
	}
	if got := h.feedCalls("02.11.2026"); got != 1 {
		t.Errorf("a past day asked thrice reached the feed %d times", got)
	}

	// After midnight in Astana "today" is the new day: a new entry, not
	// yesterday's answer.
	h.at("2026-12-02T00:01:00+05:00")
	if status, a, _ := h.rates(`{}`); status != 200 || a.Date != "2026-12-02" || a.Rates[2].Rate != usdOn("2026-12-02") {
		t.Fatalf("after midnight: %d %+v", status, a)
	}

	// The feed down: cached days are still answered, with their date; a
	// day never asked for is a 502 naming the feed's failure.
	h.mockControl(http.MethodPut, "/_control/faults/nbrk", `{"failRate":1,"status":503}`)
	if status, a, _ := h.rates(`{"date":"2026-11-02"}`); status != 200 || a.Date != "2026-11-02" {
		t.Errorf("cached day with the feed down: %d %+v", status, a)
	}
	status, _, problem := h.rates(`{"date":"2026-10-01"}`)
	if status != 502 || problem["code"] != "HTTP_503" || problem["detail"] != "endpoint answered HTTP 503 to GET /rss/get_rates.cfm?fdate=01.10.2026" {
		t.Errorf("uncached day with the feed down: %d %v", status, problem)
	}

	// Refused before the feed is asked.
	for body, field := range map[string]string{`{"date":"01.12.2026"}`: "date", `{"currency":"USD"}`: "currency"} {
		if status, _, problem := h.rates(body); status != 422 || problem["field"] != field {
			t.Errorf("%s: %d %v", body, status, problem)
		}
	}
	if got := h.feedCalls("01.12.2026"); got != 1 {
		t.Errorf("the feed was asked for 01.12.2026 %d times in all", got)
	}
}

// TestNBRKDocCurlLines runs the curl lines of docs/adapters/nbrk.md, in
// order, against the binary and the mocks on this test's ports.
func TestNBRKDocCurlLines(t *testing.T) {
	doc, err := os.ReadFile("../../docs/adapters/nbrk.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(l, "curl ") {
			lines = append(lines, l)
		}
	}
	// The status each line answers, and what its body must hold.
	want := []struct {
		status int
		holds  string
	}{
		{200, `"date":"2026-12-01"`},
		{200, `"date":"2026-11-02"`},
		{200, `"date":"2026-11-02"`},
		{200, `"key":"02.11.2026","count":1,`},
		{200, `"failRate":1`},
		{200, `"date":"2026-11-02"`},
		{502, `"code":"HTTP_503"`},
		{204, ``},
		{422, `"field":"`},
	}
	if len(lines) != len(want) {
		t.Fatalf("the doc has %d curl lines, this test knows %d", len(lines), len(want))
	}
	h := newHarnessWith(t, nbrkConfig)
	for i, l := range lines {
		l = strings.NewReplacer("127.0.0.1:8080", h.internal, "127.0.0.1:8090", h.mocks).Replace(l)
		out, err := exec.Command("sh", "-c", l+` -s -w '\n%{http_code}'`).Output()
		if err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		cut := bytes.LastIndexByte(out, '\n')
		body, code := string(out[:cut]), string(out[cut+1:])
		if code != strconv.Itoa(want[i].status) || !strings.Contains(body, want[i].holds) {
			t.Errorf("%s\n answered %s %s, want %d holding %s", lines[i], code, body, want[i].status, want[i].holds)
		}
	}
}
