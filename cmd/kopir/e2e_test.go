package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests drive the real binaries the way an operator runs
// them: bin/kopir-mocks and bin/kopir serve as separate processes.

var kopirBin, mocksBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kopir-e2e")
	if err != nil {
		panic(err)
	}
	kopirBin = filepath.Join(dir, "kopir")
	mocksBin = filepath.Join(dir, "kopir-mocks")
	for bin, pkg := range map[string]string{kopirBin: ".", mocksBin: "../kopir-mocks"} {
		if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", filepath.Base(bin), err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type harness struct {
	t                              *testing.T
	dir, config                    string
	workDir                        string // the bus's working directory; "": the test's
	internal, admin, agency, mocks string
	bus, mockProc                  *exec.Cmd
	logs                           *os.File
}

func newHarness(t *testing.T, retry string) *harness {
	return newHarnessWith(t, func(h *harness) string { return demoConfig(h, retry) })
}

// newHarnessWith starts the mocks and the bus with the config config
// writes for h's ports and folder.
//
// A port freePort found free may be taken before the bus or the mocks bind
// it (by another process's listener, or as the ephemeral port of an
// outgoing connection); the harness then starts again on other ports.
func newHarnessWith(t *testing.T, config func(h *harness) string) *harness {
	return newHarnessIn(t, "", config)
}

// newHarnessIn is newHarnessWith with the bus started in workDir, where a
// config's relative paths (schemas, keys) are read from.
func newHarnessIn(t *testing.T, workDir string, config func(h *harness) string) *harness {
	h := &harness{t: t, dir: t.TempDir(), workDir: workDir}
	h.config = filepath.Join(h.dir, "kopir.yaml")
	var err error
	if h.logs, err = os.Create(filepath.Join(h.dir, "kopir.log")); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; ; attempt++ {
		h.internal, h.admin, h.agency, h.mocks = freePort(t), freePort(t), freePort(t), freePort(t)
		if err := os.WriteFile(h.config, []byte(config(h)), 0o600); err != nil {
			t.Fatal(err)
		}
		from, _ := h.logs.Seek(0, io.SeekCurrent)
		h.startMocks()
		if h.portTaken(from, "http://"+h.mocks+"/_control/faults") {
			if attempt < 3 {
				h.stopProcesses()
				continue
			}
			t.Fatal("the mocks could not bind their port three times")
		}
		h.bus = exec.Command(kopirBin, "serve", "-config", h.config, "-log-level", "warn")
		h.bus.Stderr, h.bus.Dir = h.logs, h.workDir
		if err := h.bus.Start(); err != nil {
			t.Fatal(err)
		}
		if h.portTaken(from, "http://"+h.admin+"/readyz") {
			if attempt < 3 {
				h.stopProcesses()
				continue
			}
			t.Fatal("the bus could not bind its ports three times")
		}
		return h
	}
}

// portTaken waits for url to answer 200 and reports false; it reports true
// at once when the log, from offset from on, says an address was in use.
// Anything else that keeps url from answering fails the test.
func (h *harness) portTaken(from int64, url string) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return false
			}
		}
		if log, err := os.ReadFile(h.logs.Name()); err == nil && int64(len(log)) > from && bytes.Contains(log[from:], []byte("address already in use")) {
			h.t.Logf("a port was taken before it was bound; starting again on others")
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("%s did not answer 200 within 30s", url)
	return false
}

// stopProcesses stops the mocks and the bus of a start that failed.
func (h *harness) stopProcesses() {
	for _, p := range []*exec.Cmd{h.mockProc, h.bus} {
		if p != nil && p.Process != nil {
			p.Process.Kill()
			p.Wait()
		}
	}
	h.bus = nil
}

// startMocks starts the mock agencies, logging to h.logs, and has them and
// the bus stopped when the test ends.
func (h *harness) startMocks() {
	t := h.t
	h.mockProc = exec.Command(mocksBin, "-listen", h.mocks, "-payments-callback", "http://"+h.agency+"/iso20022",
		"-kase-callback", "http://"+h.agency+"/kase", "-csd-callback", "http://"+h.agency+"/csd")
	h.mockProc.Stderr = h.logs
	if err := h.mockProc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.mockProc.Process.Kill()
		h.mockProc.Wait()
		if h.bus != nil {
			h.bus.Process.Kill()
			h.bus.Wait()
		}
		if t.Failed() {
			log, _ := os.ReadFile(h.logs.Name())
			t.Logf("kopir log (tail):\n%s", tail(string(log), 4000))
		}
	})
	h.waitHTTP("http://" + h.mocks + "/_control/faults")
}

// demoConfig is the routes and channels most end-to-end tests use.
func demoConfig(h *harness, retry string) string {
	return fmt.Sprintf(`demo: true
listen: {internal: %q, agency: %q, admin: %q}
dataDir: %q
callers: [{name: demo, token: demo-token}]
admins: [{name: operator, token: admin-token, role: admin}]
routes:
  - name: gbdfl.person
    adapter: gbdfl
    operation: person
    endpoints: [http://%s/shep/sync]
    retry: {attempts: 3, backoff: 10ms, cap: 100ms}
    callers: [demo]
    personalData: {mask: [iin, lastName, firstName, middleName, birthDate]}
    options: {senderId: kopir, password: kopir-secret}
  - name: subscriber.deliver
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%s/subscriber/e2e]
    timeout: 2s
    retry: %s
    breaker: {failures: 1000, openFor: 1s}
    callers: [demo]
  - name: payments.credit-transfer
    adapter: iso20022
    operation: credit-transfer
    mode: async
    endpoints: [http://%[5]s/payments]
    retry: {attempts: 5, backoff: 20ms, cap: 200ms}
    callers: [demo]
    options: {senderBIC: KKMFKZ2A, receiverBIC: NBRKKZKX}
  - name: payments.status
    inbound: {channel: iso20022, key: pacs.002}
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/payments/status]
    retry: {attempts: 5, backoff: 20ms, cap: 200ms}
  - name: payments.statement
    inbound: {channel: iso20022, key: camt.053}
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/payments/statement]
    retry: {attempts: 5, backoff: 20ms, cap: 200ms}
  - name: gbdul.organization
    adapter: gbdul
    operation: organization
    endpoints: [http://%[5]s/shep/sync]
    callers: [demo]
    personalData: {mask: [password]}
    options: {senderId: kopir, password: kopir-secret, declarantId: "000740000728", signing: {cert: %[8]q, key: %[9]q}}
  - name: minfin.payment-notify
    inbound: {channel: shep, key: MINFIN_PaymentNotify}
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/payment-notify]
    retry: {attempts: 5, backoff: 20ms, cap: 200ms}
channels:
  - name: iso20022
    options: {senders: [NBRKKZKX]}
  - name: shep
    options:
      senders: [{id: demo-agency, password: demo-secret, signers: {bins: ["151240001235"]}}]
      requireSignature: true
      trust: {roots: [%[10]q], crls: [%[11]q]}
evidence: {trust: {roots: [%[10]q]}}
`, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), h.mocks, h.mocks, retry, pki("kopir.pem"), pki("kopir.key"), pki("ca.pem"), pki("crl.pem"))
}

// pki is a file of the demo PKI the mock gateway trusts and signs with.
func pki(name string) string {
	p, err := filepath.Abs(filepath.Join("..", "..", "mocks", "pki", name))
	if err != nil {
		panic(err)
	}
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (h *harness) start() {
	h.bus = exec.Command(kopirBin, "serve", "-config", h.config, "-log-level", "warn")
	h.bus.Stderr, h.bus.Dir = h.logs, h.workDir
	if err := h.bus.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.waitHTTP("http://" + h.admin + "/readyz")
}

// kill9 stops the bus the hard way, as a crash would.
func (h *harness) kill9() {
	h.bus.Process.Signal(syscall.SIGKILL)
	h.bus.Wait()
}

func (h *harness) waitHTTP(url string) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("%s did not answer 200 within 30s", url)
}

func (h *harness) call(route, key string, body string) (int, map[string]any, error) {
	req, _ := http.NewRequest("POST", "http://"+h.internal+"/v1/routes/"+route, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer demo-token")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

func (h *harness) adminGet(path string, out any) int {
	req, _ := http.NewRequest("GET", "http://"+h.admin+path, nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("admin %s: %v", path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func (h *harness) mockControl(method, path string, body string) []byte {
	req, _ := http.NewRequest(method, "http://"+h.mocks+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("mock control %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		h.t.Fatalf("mock control %s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	return raw
}

// TestAsyncSurvivesKill9 sends 500 async messages to a subscriber failing
// 30% of calls and kills the bus with SIGKILL twice on the way. Every
// message answered 202 must reach the subscriber, and the store's counts
// must reconcile.
func TestAsyncSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 30, backoff: 20ms, cap: 300ms}")
	h.mockControl("PUT", "/_control/faults/subscriber", `{"failRate":0.3,"status":503}`)

	const total = 500
	accepted := map[string]string{} // idempotency key → message id
	var mu sync.Mutex
	send := func(i int) {
		key := fmt.Sprintf("e2e-%04d", i)
		body := fmt.Sprintf(`{"seq":%d,"iin":"880501300124"}`, i)
		for try := 0; ; try++ {
			status, out, err := h.call("subscriber.deliver", key, body)
			if err == nil && status == http.StatusAccepted {
				mu.Lock()
				if prev, ok := accepted[key]; ok && prev != out["id"] {
					t.Errorf("key %s accepted twice as different messages %s and %v", key, prev, out["id"])
				}
				accepted[key] = out["id"].(string)
				mu.Unlock()
				return
			}
			if try > 400 {
				t.Errorf("message %s never accepted: status %d err %v", key, status, err)
				return
			}
			time.Sleep(50 * time.Millisecond) // the bus is restarting: send again with the same key
		}
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				send(i)
			}
		}()
	}
	for i := range total {
		if i == 150 || i == 350 {
			h.kill9()
			h.start()
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if len(accepted) != total {
		t.Fatalf("accepted %d of %d", len(accepted), total)
	}

	// Wait for the queue to drain.
	var counts map[string]int
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var st struct{ Counts map[string]int }
		h.adminGet("/admin/v1/stats?route=subscriber.deliver", &st)
		counts = st.Counts
		if counts["QUEUED"] == 0 && counts["DELIVERED"]+counts["DEAD"] >= total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue did not drain: %v", counts)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if counts["DELIVERED"]+counts["DEAD"] != total {
		t.Errorf("store does not reconcile: accepted %d, delivered %d + dead %d", total, counts["DELIVERED"], counts["DEAD"])
	}

	var received struct {
		Total, Unique int
		Items         []struct {
			Key   string
			Count int
		}
	}
	json.Unmarshal(h.mockControl("GET", "/_control/received/subscriber", ""), &received)
	got := map[string]int{}
	for _, it := range received.Items {
		got[it.Key] = it.Count
	}
	missing := 0
	for key := range accepted {
		if got[key] == 0 {
			missing++
		}
	}
	dead := counts["DEAD"]
	if missing > dead {
		t.Errorf("%d accepted messages never reached the subscriber (dead: %d)", missing, dead)
	}
	t.Logf("accepted %d, delivered %d, dead %d; subscriber saw %d unique keys in %d successful deliveries (repeats after the kills are expected and dropped by key)",
		total, counts["DELIVERED"], dead, received.Unique, received.Total)

	var v struct {
		OK      bool
		Records int
	}
	if code := h.adminGet("/admin/v1/audit/verify", &v); code != 200 || !v.OK {
		t.Errorf("audit chain after two kills: %d %+v", code, v)
	}
}

// TestSyncRouteAndCLI calls the GBD FL route through the SHEP mock and reads
// the exchange back through the CLI, personal data masked.
func TestSyncRouteAndCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3}")
	status, person, err := h.call("gbdfl.person", "", `{"iin":"880501300124"}`)
	if err != nil || status != 200 {
		t.Fatalf("gbdfl.person: %d %v %v", status, person, err)
	}
	for _, f := range []string{"iin", "lastName", "firstName", "birthDate"} {
		if person[f] == nil || person[f] == "" {
			t.Errorf("person lacks %s: %v", f, person)
		}
	}
	if person["birthDate"] != "1988-05-01" {
		t.Errorf("birthDate %v, want 1988-05-01 (from the IIN)", person["birthDate"])
	}

	// A wrong check digit never leaves the bus.
	h.mockControl("DELETE", "/_control/received/shep", "")
	status, prob, _ := h.call("gbdfl.person", "", `{"iin":"880501300125"}`)
	if status != 422 || prob["field"] != "iin" {
		t.Errorf("bad IIN: %d %v", status, prob)
	}
	var rec struct{ Total int }
	json.Unmarshal(h.mockControl("GET", "/_control/received/shep", ""), &rec)
	if rec.Total != 0 {
		t.Errorf("a request with a bad IIN reached the gateway %d times", rec.Total)
	}

	env := append(os.Environ(), "KOPIR_ADMIN_URL=http://"+h.admin, "KOPIR_ADMIN_TOKEN=admin-token")
	out := runCLI(t, env, "messages", "list", "-route", "gbdfl.person")
	if !strings.Contains(out, "DELIVERED") || !strings.Contains(out, "REJECTED") {
		t.Fatalf("messages list:\n%s", out)
	}
	id := strings.Fields(strings.Split(out, "\n")[2])[0] // newest first: header, rejected, delivered
	show := runCLI(t, env, "messages", "show", id)
	for _, want := range []string{"DELIVERED", "**********24", "/shep/sync", "audit:", "RECEIVED"} {
		if !strings.Contains(show, want) {
			t.Errorf("messages show lacks %q:\n%s", want, show)
		}
	}
	if strings.Contains(show, "880501300124") {
		t.Errorf("messages show reveals the IIN:\n%s", show)
	}
	if v := runCLI(t, env, "audit", "verify"); !strings.Contains(v, "intact") {
		t.Errorf("audit verify: %s", v)
	}
}

func runCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kopirBin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("kopir %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}
