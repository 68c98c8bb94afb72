package console

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"

	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/store"
)

func draw(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// What a message carries comes from outside (a caller's route name, an
// agency's error text, a body): every page writes it as text, never as
// markup, in element text and in attributes alike.
func TestPagesEscapeWhatMessagesCarry(t *testing.T) {
	hostile := `"><script>alert(1)</script>`
	m := &store.Message{ID: "0b7f8a52-1c1e-4b2a-9d0e-2f3c4d5e6f70", Route: hostile, Caller: hostile, Error: hostile,
		ExternalID: hostile, Status: store.Dead, Attempts: 2, CreatedAt: time.Now()}
	s := &session{Admin: hostile, Role: config.RoleOperator, CSRF: `a"b`}
	pages := map[string]templ.Component{
		"exchange": layout(frame{S: s, Path: "/console/messages", Title: hostile}, exchangePage(exchangeView{
			M: m, Request: formatBody([]byte(hostile)), CanReplay: true, Done: 7,
			Audit:   []store.AuditRecord{{Seq: 7, Actor: hostile, Action: "REPLAY", Detail: hostile}},
			Related: []related{{ID: m.ID, Route: hostile, Status: store.Delivered, Why: hostile}},
		})),
		"results": messageResults(messagesView{Items: []store.Message{*m}, Fragment: "/console/messages?route=" + hostile,
			Counts: []statusCount{{Status: store.Dead, N: 1, Selected: true, Link: "/console/messages?status=DEAD"}}}),
		"confirm": confirmReplayPage(s, m),
	}
	for name, p := range pages {
		out := draw(t, p)
		if strings.Contains(out, "<script>") || strings.Contains(out, `"><`) && strings.Contains(out, `alert(1)</script>`) {
			t.Errorf("%s: a value from a message is written as markup:\n%s", name, out)
		}
		if !strings.Contains(out, "&lt;script&gt;") && !strings.Contains(out, "&#34;&gt;&lt;script") {
			t.Errorf("%s: the hostile value is not on the page at all:\n%s", name, out)
		}
	}
	out := draw(t, pages["exchange"])
	for _, want := range []string{`aria-current="page"`, `<input type="hidden" name="csrf" value="a&#34;b">`,
		`<tr id="audit-7" class="highlight">`, `id="replay" href="/console/messages/` + m.ID + `/replay"`, "Request: text, 27 bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("the exchange page lacks %s:\n%s", want, out)
		}
	}
	if res := draw(t, pages["results"]); !strings.Contains(res, `<a href="/console/messages?status=DEAD" aria-current="true">DEAD <strong data-count="DEAD">1</strong>`) {
		t.Errorf("the selected status is not marked:\n%s", res)
	}
}

// The health page's chart: one pair of bars per interval, scaled to the
// busiest one, 40 pixels high.
func TestHealthChartScalesToTheBusiestInterval(t *testing.T) {
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	rh := RouteHealth{Route: "gbdfl.person", OK: 30, Errors: 10, ErrorRate: 0.25, HasTraffic: true, MaxPerBar: 20,
		Bars: []bar{{OK: 10, Errors: 10, At: at}, {OK: 20, At: at.Add(time.Minute)}}}
	out := draw(t, healthPage(&session{Role: config.RoleViewer}, healthView{Now: at, Routes: []RouteHealth{rh}, AuditLast: at}))
	for _, want := range []string{
		`<svg class="chart" width="8" height="40" role="img" aria-label="gbdfl.person: done and failed per interval since —">`,
		`<rect class="ok" x="0" y="0" width="3" height="20"><title>2026-11-30 09:00:00 UTC: 10 done, 10 failed</title></rect>`,
		`<rect class="err" x="0" y="20" width="3" height="20"></rect>`,
		`<rect class="ok" x="4" y="0" width="3" height="40">`,
		`<rect class="err" x="4" y="40" width="3" height="0">`,
		"(25.0%)", "Last verification: 2026-11-30 09:00:00 UTC", "Verifying needs the auditor role.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the health page lacks %s:\n%s", want, out)
		}
	}
}

// The *_templ.go files are what runs; a page edited in its .templ file
// and not generated again would not be.
func TestPagesAreGeneratedFromTheirTemplates(t *testing.T) {
	out, err := exec.Command("go", "tool", "templ", "generate", "-check").CombinedOutput()
	if err != nil {
		t.Fatalf("run go generate ./internal/console: %v\n%s", err, out)
	}
}
