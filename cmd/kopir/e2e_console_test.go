package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/minfin-kz/kopir/internal/testenv"
)

// The console's tests drive Debian's Chromium (installed by
// deploy/browser-deps.sh from make test) against the bus as make run
// starts it: deploy/local.yaml, only on ports of the test's own.

// repoRoot is where make run starts the bus: the config's relative paths
// (schemas, keys) are read from there.
func repoRoot(t *testing.T) string {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// localConfig is deploy/local.yaml on h's ports and folder.
func localConfig(t *testing.T) func(h *harness) string {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "local.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return func(h *harness) string {
		return strings.NewReplacer(
			"127.0.0.1:8080", h.internal, "127.0.0.1:8081", h.agency, "127.0.0.1:8082", h.admin, "127.0.0.1:8090", h.mocks,
			"dataDir: ./data", "dataDir: "+filepath.Join(h.dir, "data"),
		).Replace(string(raw))
	}
}

// browser starts a headless Chromium for the test. Under CI=true a missing
// browser fails the test; make test installs it.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Unavailable(t, "chromium is not installed (deploy/browser-deps.sh installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
		// The machine's network is closed: Chromium's own calls home
		// would only be refused.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// shots saves screenshots under test-output/console.
type shots struct {
	t   *testing.T // its name prefixes the files
	dir string
	n   int
}

func newShots(t *testing.T) *shots {
	dir := filepath.Join(repoRoot(t), "test-output", "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &shots{t: t, dir: dir}
}

func (s *shots) take(ctx context.Context, name string) {
	s.t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	s.n++
	if err := os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("%s-%02d-%s.png", strings.TrimPrefix(s.t.Name(), "TestConsole"), s.n, name)), png, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// waitText reloads the page until sel reads want.
func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if got := text(t, ctx, sel); got == want {
			return
		} else if time.Now().After(deadline) {
			t.Fatalf("%s reads %q, not %q, after 30s", sel, got, want)
		}
		time.Sleep(300 * time.Millisecond)
		do(t, ctx, "reloading", chromedp.Reload())
	}
}

// signIn signs in from the keyboard alone: the token field has the focus,
// and Enter sends the form.
func signIn(t *testing.T, ctx context.Context, h *harness, token string) {
	t.Helper()
	do(t, ctx, "signing in",
		chromedp.Navigate("http://"+h.admin+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#token")))
	if !eval[bool](t, ctx, `document.activeElement && document.activeElement.id === "token"`) {
		t.Error("the sign-in page does not put the focus on the token field")
	}
	do(t, ctx, "typing the token", chromedp.KeyEvent(token+"\r"), chromedp.WaitVisible(chromedp.CSS("#results")))
	labelled(t, ctx)
}

// labelled fails the test for a visible form control the page does not
// name (a <label for>, a wrapping <label> or aria-label).
func labelled(t *testing.T, ctx context.Context) {
	t.Helper()
	bare := eval[[]string](t, ctx, `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
	  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
	  .map(e => e.outerHTML)`)
	if len(bare) > 0 {
		t.Errorf("form controls without a label: %v", bare)
	}
}

func signOut(t *testing.T, ctx context.Context) {
	do(t, ctx, "signing out", chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#token")))
}

// deadMessages sends n async messages to a subscriber refusing them with
// 400, which the bus does not retry, and waits until all are DEAD.
func deadMessages(t *testing.T, h *harness, n int) []string {
	t.Helper()
	h.mockControl("PUT", "/_control/faults/subscriber", `{"failRate":1,"status":400}`)
	defer h.mockControl("DELETE", "/_control/faults/subscriber", "")
	var ids []string
	for i := range n {
		code, out, err := h.call("subscriber.deliver", fmt.Sprintf("console-%d-%d", time.Now().UnixNano(), i), `{"event":"paid","iin":"880501300124"}`)
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("async call: %d %v %v", code, out, err)
		}
		ids = append(ids, out["id"].(string))
	}
	for _, id := range ids {
		deadline := time.Now().Add(30 * time.Second)
		for {
			var d struct{ Message struct{ Status string } }
			h.adminGet("/admin/v1/messages/"+id, &d)
			if d.Message.Status == "DEAD" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %s is %s, not DEAD, after 30s", id, d.Message.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return ids
}

// TestConsoleReplaysInBrowser is what a new operator does on make run:
// sign in with the printed token, find a dead message by filter, open it,
// replay it, and see it delivered with the replay on its audit trail; then
// replay a whole search with its progress shown.
func TestConsoleReplaysInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ctx := browser(t)
	h := newHarnessIn(t, repoRoot(t), localConfig(t))
	shot := newShots(t)
	one := deadMessages(t, h, 1)[0]

	// Signed out, the console sends the browser to sign in; a wrong token
	// is refused in words.
	do(t, ctx, "a wrong token",
		chromedp.Navigate("http://"+h.admin+"/console/messages/"+one),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#sign-in-error")))
	shot.take(ctx, "sign-in-refused")
	signIn(t, ctx, h, "admin-token")
	shot.take(ctx, "messages")

	// Find it by filter: DEAD on subscriber.deliver.
	do(t, ctx, "searching",
		chromedp.SetValue(chromedp.CSS("#f-status"), "DEAD"),
		chromedp.SendKeys(chromedp.CSS("#f-route"), "subscriber.deliver"),
		chromedp.Click(chromedp.CSS("#search")))
	// The message is on the unfiltered page too: wait for the search's own
	// page before reading it.
	waitScript(t, ctx, `location.search.includes("status=DEAD") && document.readyState === "complete"`)
	do(t, ctx, "the results", chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+one+`"]`)))
	if got := text(t, ctx, `[data-count="DEAD"]`); got != "1" {
		t.Errorf("the DEAD count of the search reads %q, want 1", got)
	}
	shot.take(ctx, "dead-found")
	do(t, ctx, "opening it", chromedp.Click(chromedp.CSS(`tr[data-id="`+one+`"] a`)), chromedp.WaitVisible(chromedp.CSS("#status")))
	if got := text(t, ctx, "#status"); got != "DEAD" {
		t.Fatalf("the exchange view shows %q, want DEAD", got)
	}
	if body := text(t, ctx, "details.body pre"); !strings.Contains(body, `"event": "paid"`) || strings.Contains(body, "880501300124") {
		t.Errorf("the stored request is not shown formatted and masked: %s", body)
	}
	labelled(t, ctx)
	shot.take(ctx, "dead-message")

	// Replay asks first, then shows its audit entry.
	do(t, ctx, "replaying", chromedp.Click(chromedp.CSS("#replay")), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	shot.take(ctx, "confirm-replay")
	do(t, ctx, "confirming", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := text(t, ctx, "tr.highlight"); !strings.Contains(got, "operator") || !strings.Contains(got, "REPLAY") {
		t.Errorf("the highlighted audit entry reads %q, want the operator's REPLAY", got)
	}
	waitText(t, ctx, "#status", "DELIVERED")
	audit := text(t, ctx, "table.audit")
	if !strings.Contains(audit, "REPLAY") || !strings.Contains(audit, "DELIVERED") {
		t.Errorf("audit trail after the replay: %s", audit)
	}
	shot.take(ctx, "replayed-delivered")

	// Bulk replay of a search, with its progress.
	dead := deadMessages(t, h, 5)
	do(t, ctx, "bulk search",
		chromedp.Navigate("http://"+h.admin+"/console/messages?status=DEAD&route=subscriber.deliver"),
		chromedp.WaitVisible(chromedp.CSS("#bulk-replay")),
		chromedp.Click(chromedp.CSS("#bulk-replay")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if got := text(t, ctx, "#confirm"); got != "Replay 5 messages" {
		t.Errorf("the bulk confirmation reads %q, want it to say 5 messages", got)
	}
	do(t, ctx, "bulk confirm", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#progress")))
	deadline := time.Now().Add(30 * time.Second)
	for text(t, ctx, "#state") != "finished" || text(t, ctx, "#replayed") != "5" {
		if time.Now().After(deadline) {
			t.Fatalf("the bulk replay's page reads %q after 30s", text(t, ctx, "#job-status"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	progress, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[float64](chromedp.CSS("#progress"), "value"))
	if err != nil {
		t.Fatal(err)
	}
	if progress != 100 {
		t.Errorf("the progress bar stands at %v, want 100", progress)
	}
	shot.take(ctx, "bulk-replay-finished")
	for _, id := range dead {
		var d struct{ Message struct{ Status string } }
		deadline := time.Now().Add(30 * time.Second)
		for h.adminGet("/admin/v1/messages/"+id, &d); d.Message.Status != "DELIVERED"; h.adminGet("/admin/v1/messages/"+id, &d) {
			if time.Now().After(deadline) {
				t.Fatalf("bulk-replayed %s is %s", id, d.Message.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Health: breakers, queues, traffic, and the audit chain verified.
	do(t, ctx, "health", chromedp.Navigate("http://"+h.admin+"/console/health"), chromedp.WaitVisible(chromedp.CSS("#verify")),
		chromedp.Click(chromedp.CSS("#verify")), chromedp.WaitVisible(chromedp.CSS("#verify-result")))
	if got := text(t, ctx, "#verify-result"); !strings.HasPrefix(got, "Intact:") {
		t.Errorf("audit verification from the console: %q", got)
	}
	if got := text(t, ctx, "table.routes"); !strings.Contains(got, "subscriber.deliver") {
		t.Errorf("the health page's routes lack subscriber.deliver: %s", got)
	}
	labelled(t, ctx)
	shot.take(ctx, "health")
	signOut(t, ctx)
}

// TestConsoleRolesAndCSRF: a viewer sees but cannot replay, a change
// without the session's CSRF token or from another origin is refused, and
// a signed-out session is gone.
func TestConsoleRolesAndCSRF(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ctx := browser(t)
	h := newHarnessIn(t, repoRoot(t), localConfig(t))
	shot := newShots(t)
	id := deadMessages(t, h, 1)[0]

	signIn(t, ctx, h, "viewer-token")
	do(t, ctx, "viewer opens a dead message", chromedp.Navigate("http://"+h.admin+"/console/messages/"+id), chromedp.WaitVisible(chromedp.CSS("#status")))
	buttons := eval[int](t, ctx, `document.querySelectorAll("#replay").length`)
	if buttons != 0 {
		t.Errorf("a viewer is offered a replay button")
	}
	do(t, ctx, "viewer tries the replay page", chromedp.Navigate("http://"+h.admin+"/console/messages/"+id+"/replay"), chromedp.WaitVisible(chromedp.CSS("#error-detail")))
	if got := text(t, ctx, "#error-detail"); !strings.Contains(got, "needs role operator") {
		t.Errorf("the viewer's refusal reads %q", got)
	}
	shot.take(ctx, "viewer-refused")
	// The viewer's own CSRF token does not make a replay allowed either.
	post := func(js string) int { return eval[int](t, ctx, js) }
	csrfJS := `document.querySelector('input[name=csrf]').value`
	if got := post(`fetch("/console/messages/` + id + `/replay", {method: "POST", body: new URLSearchParams({csrf: ` + csrfJS + `})}).then(r => r.status)`); got != http.StatusForbidden {
		t.Errorf("a viewer's replay with its CSRF token: %d, want 403", got)
	}
	signOut(t, ctx)

	signIn(t, ctx, h, "admin-token")
	do(t, ctx, "opening", chromedp.Navigate("http://"+h.admin+"/console/messages/"+id), chromedp.WaitVisible(chromedp.CSS("#status")))
	if got := post(`fetch("/console/messages/` + id + `/replay", {method: "POST", body: new URLSearchParams({csrf: "forged"})}).then(r => r.status)`); got != http.StatusForbidden {
		t.Errorf("a replay with a forged CSRF token: %d, want 403", got)
	}
	if got := post(`fetch("/console/messages/` + id + `/replay", {method: "POST"}).then(r => r.status)`); got != http.StatusForbidden {
		t.Errorf("a replay without a CSRF token: %d, want 403", got)
	}
	if got := text(t, ctx, "#status"); got != "DEAD" {
		t.Fatalf("refused replays changed the message: %s", got)
	}
	// The denials are on the audit trail.
	var d struct{ Message struct{ Status string } }
	h.adminGet("/admin/v1/messages/"+id, &d)
	if d.Message.Status != "DEAD" {
		t.Errorf("after refused replays the message is %s", d.Message.Status)
	}

	// Another origin, even with the session's cookie and token, is refused
	// before any handler.
	cookies, err := storageCookies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse("http://" + h.admin + "/console/")
	jar.SetCookies(u, cookies)
	csrf := eval[string](t, ctx, csrfJS)
	req, _ := http.NewRequest("POST", "http://"+h.admin+"/console/messages/"+id+"/replay", strings.NewReader(url.Values{"csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://elsewhere.example")
	resp, err := (&http.Client{Jar: jar}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site replay: %d, want 403", resp.StatusCode)
	}

	// After signing out, the old cookie opens nothing.
	signOut(t, ctx)
	req, _ = http.NewRequest("GET", "http://"+h.admin+"/console/messages", nil)
	resp, err = (&http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/sign-in") {
		t.Errorf("a signed-out session's cookie: %d %s, want a redirect to sign in", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// storageCookies are the browser's cookies, for a plain HTTP client.
func storageCookies(ctx context.Context) ([]*http.Cookie, error) {
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		return nil, err
	}
	var out []*http.Cookie
	for _, c := range res.Cookies {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path})
	}
	return out, nil
}

// eval runs js in the page, waiting for the promise it may return.
func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// TestConsoleHeldFourEyes: a bank statement entry with a mistyped
// end-to-end id is held; an operator edits it in the console, seeing the
// checks re-run as they type, and proposes the fix; they cannot approve it
// themselves; a second operator does, and the statement is delivered.
func TestConsoleHeldFourEyes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	ctx := browser(t)
	h := newHarnessIn(t, repoRoot(t), localConfig(t))
	shot := newShots(t)
	e2e := fmt.Sprintf("E2E-CONSOLE-%d", time.Now().UnixNano())
	order := fmt.Sprintf(`{"endToEndId":%q,"amount":{"value":"150000.00","currency":"KZT"},
	  "debtor":{"name":"Комитет казначейства","iban":"KZ77070105KZT0000001","bic":"KKMFKZ2A","bin":"990240000030"},
	  "creditor":{"name":"ТОО Дорстрой","iban":"KZ42601KZT0000123456","bic":"HSBKKZKX","bin":"050540004455"},
	  "remittanceInformation":"Оплата по договору 17","knp":"911","kod":"11","kbe":"17"}`, e2e)
	status, out, err := h.call("payments.credit-transfer", "", order)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("payment order: %d %v %v", status, out, err)
	}
	payment := out["id"].(string)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, hist := h.raw("GET", "/v1/payments/"+e2e, "demo-token", nil, ""); hist["paymentStatus"] == "ACSC" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the payment never settled")
		}
		time.Sleep(100 * time.Millisecond)
	}
	typo := e2e + "X"
	h.mockControl("POST", "/payments/_control/statement",
		fmt.Sprintf(`{"type":"camt.053","extraEntries":[{"creditDebit":"DBIT","amount":"150000.00","endToEndId":%q}]}`, typo))
	var page struct{ Items []struct{ ID string } }
	for h.adminGet("/admin/v1/held?route=payments.statement", &page); len(page.Items) == 0; h.adminGet("/admin/v1/held?route=payments.statement", &page) {
		if time.Now().After(deadline) {
			t.Fatal("the statement was never held")
		}
		time.Sleep(100 * time.Millisecond)
	}
	id := page.Items[0].ID

	signIn(t, ctx, h, "admin-token")
	// The payment's page leads to the status report the bank sent about it.
	do(t, ctx, "the payment", chromedp.Navigate("http://"+h.admin+"/console/messages/"+payment), chromedp.WaitVisible(chromedp.CSS("ul.related")))
	if got := text(t, ctx, "ul.related"); !strings.Contains(got, "payments.status") {
		t.Errorf("the payment's related messages lack its status report: %s", got)
	}
	shot.take(ctx, "payment-related")
	do(t, ctx, "the held queue", chromedp.Navigate("http://"+h.admin+"/console/held"), chromedp.WaitVisible(chromedp.CSS(`tr[data-id="`+id+`"]`)))
	if got := text(t, ctx, `tr[data-id="`+id+`"]`); !strings.Contains(got, typo) {
		t.Errorf("the held queue does not say why: %s", got)
	}
	shot.take(ctx, "held-queue")
	do(t, ctx, "opening it", chromedp.Click(chromedp.CSS(`tr[data-id="`+id+`"] a`)), chromedp.WaitVisible(chromedp.CSS("#edit")),
		chromedp.Click(chromedp.CSS("#edit")), chromedp.WaitVisible(chromedp.CSS("#payload")))
	waitScript(t, ctx, `document.getElementById("check-state").textContent === "1 problem(s)"`)
	if got := text(t, ctx, "#problems"); !strings.Contains(got, typo) {
		t.Errorf("the live check names %q", got)
	}
	labelled(t, ctx)
	shot.take(ctx, "held-edit-problem")
	// The operator corrects the id; the checks run again as they type.
	eval[bool](t, ctx, `(() => { const a = document.getElementById("payload"); a.value = a.value.replace(`+"`"+typo+"`"+`, `+"`"+e2e+"`"+`); a.dispatchEvent(new Event("input")); return true })()`)
	waitScript(t, ctx, `document.getElementById("check-state").textContent === "No problem found"`)
	shot.take(ctx, "held-edit-fixed")
	do(t, ctx, "proposing", chromedp.SendKeys(chromedp.CSS("#reason"), "end-to-end id mistyped by the bank"),
		chromedp.Click(chromedp.CSS("#propose")), chromedp.WaitVisible(chromedp.CSS("#done")))
	if got := text(t, ctx, "#changes"); !strings.Contains(got, "PENDING") || !strings.Contains(got, "operator") {
		t.Fatalf("the proposed change: %s", got)
	}
	shot.take(ctx, "held-change-pending")
	// Four eyes: the proposer's own approval is refused.
	do(t, ctx, "approving one's own change", chromedp.Click(chromedp.CSS("a.approve")), chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#error-detail")))
	if got := text(t, ctx, "#error-detail"); !strings.Contains(got, "operator") {
		t.Errorf("the proposer's approval was answered %q", got)
	}
	shot.take(ctx, "held-four-eyes-refused")
	signOut(t, ctx)

	signIn(t, ctx, h, "second-operator-token")
	do(t, ctx, "second operator reviews", chromedp.Navigate("http://"+h.admin+"/console/held/"+id), chromedp.WaitVisible(chromedp.CSS("a.approve")),
		chromedp.Click(chromedp.CSS("a.approve")), chromedp.WaitVisible(chromedp.CSS("#proposed")))
	if got := text(t, ctx, "#proposed"); !strings.Contains(got, e2e) || strings.Contains(got, typo) {
		t.Errorf("the approver is shown %s", got)
	}
	shot.take(ctx, "held-approve")
	do(t, ctx, "approving", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#done")))
	do(t, ctx, "the exchange", chromedp.Navigate("http://"+h.admin+"/console/messages/"+id), chromedp.WaitVisible(chromedp.CSS("#status")))
	waitText(t, ctx, "#status", "DELIVERED")
	audit := text(t, ctx, "table.audit")
	for _, want := range []string{"CHANGE_PROPOSED", "CHANGE_APPROVED", "second-operator"} {
		if !strings.Contains(audit, want) {
			t.Errorf("the audit trail lacks %s:\n%s", want, audit)
		}
	}
	shot.take(ctx, "held-delivered")
}

// waitScript waits until js is true in the page. A page being replaced
// (a form sent, a link followed) cannot answer for a moment: that is
// "not yet", not a failure.
func waitScript(t *testing.T, ctx context.Context, js string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js, chromedp.EvalAwaitPromise))
		if err == nil && v {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not true within 15s (last error: %v)", js, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
