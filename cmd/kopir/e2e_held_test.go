package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// heldConfig is the demo config with statements held when an entry
// matches no sent payment, changes to them approved by a second operator,
// and a viewer.
func heldConfig(h *harness) string {
	cfg := demoConfig(h, "{attempts: 3}")
	for old, repl := range map[string]string{
		"admins: [{name: operator, token: admin-token, role: admin}]": "admins: [{name: operator, token: admin-token, role: admin}, " +
			"{name: second-operator, token: second-token, role: operator}, {name: viewer, token: viewer-token, role: viewer}]",
		"    endpoints: [http://" + h.mocks + "/subscriber/payments/statement]\n": "    endpoints: [http://" + h.mocks + "/subscriber/payments/statement]\n    held: {fourEyes: true}\n",
		"options: {senders: [NBRKKZKX]}":                                          "options: {senders: [NBRKKZKX], holdUnmatched: [camt.053]}",
	} {
		if !strings.Contains(cfg, old) {
			panic("demo config changed: " + old)
		}
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	return cfg
}

// TestHeldStatementIsFixedAndDelivered: a statement whose entry names an
// end-to-end id Köpir never sent is held, not delivered; an operator
// corrects the entry through the CLI, their own approval is refused, a
// second operator approves, and the subscriber gets the corrected
// statement with the entry matched.
func TestHeldStatementIsFixedAndDelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarnessWith(t, heldConfig)
	e2e := fmt.Sprintf("E2E-HELD-%d", time.Now().UnixNano())
	order := fmt.Sprintf(`{"endToEndId":%q,"amount":{"value":"150000.00","currency":"KZT"},
	  "debtor":{"name":"Комитет казначейства","iban":"KZ77070105KZT0000001","bic":"KKMFKZ2A","bin":"990240000030"},
	  "creditor":{"name":"ТОО Дорстрой","iban":"KZ42601KZT0000123456","bic":"HSBKKZKX","bin":"050540004455"},
	  "remittanceInformation":"Оплата по договору 17","knp":"911","kod":"11","kbe":"17"}`, e2e)
	if status, out, err := h.call("payments.credit-transfer", "", order); err != nil || status != 202 {
		t.Fatalf("order: %d %v %v", status, out, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, hist := h.raw("GET", "/v1/payments/"+e2e, "demo-token", nil, "")
		if hist["paymentStatus"] == "ACSC" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment never settled: %v", hist)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The bank books a second entry with a typo in the end-to-end id.
	typo := e2e + "X"
	h.mockControl("POST", "/payments/_control/statement",
		fmt.Sprintf(`{"type":"camt.053","extraEntries":[{"creditDebit":"DBIT","amount":"150000.00","endToEndId":%q}]}`, typo))
	type heldItem struct {
		ID      string
		Status  string
		Reasons []struct{ Field, Reason string }
	}
	var page struct{ Items []heldItem }
	for {
		h.adminGet("/admin/v1/held?route=payments.statement", &page)
		if len(page.Items) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("statement never held: %+v", page)
		}
		time.Sleep(100 * time.Millisecond)
	}
	it := page.Items[0]
	if it.Status != "HELD" || len(it.Reasons) != 1 || !strings.HasSuffix(it.Reasons[0].Field, ".endToEndId") || !strings.Contains(it.Reasons[0].Reason, typo) {
		t.Fatalf("held statement: %+v", it)
	}
	id := it.ID
	received := func() bool {
		var got struct{ Items []struct{ Key string } }
		json.Unmarshal(h.mockControl("GET", "/_control/received/subscriber", ""), &got)
		for _, r := range got.Items {
			if r.Key == id {
				return true
			}
		}
		return false
	}
	time.Sleep(300 * time.Millisecond)
	if received() {
		t.Fatal("the held statement reached the subscriber")
	}

	// The held queue's answers are what the admin document says.
	adm := h.apiCheck(t, h.admin, "")
	adm.exchange("GET", "/admin/v1/held?route=payments.statement&limit=10", "viewer-token", nil, "", 200)
	adm.exchange("GET", "/admin/v1/held/counts", "viewer-token", nil, "", 200)
	adm.exchange("GET", "/admin/v1/held/"+id, "viewer-token", nil, "", 200)
	adm.exchange("POST", "/admin/v1/held/"+id+"/check", "viewer-token", nil, `{"msgId":"x"}`, 200)
	adm.exchange("POST", "/admin/v1/held/"+id+"/resubmit", "admin-token", nil, `{"reason":"try"}`, 422)
	adm.exchange("POST", "/admin/v1/held/"+id+"/discard", "viewer-token", nil, `{"reason":"no"}`, 403)
	adm.refused("POST", "/admin/v1/held/"+id+"/discard", "admin-token", nil, `{"why":"no"}`, 400)

	env := func(token string) []string {
		return append(os.Environ(), "KOPIR_ADMIN_URL=http://"+h.admin, "KOPIR_ADMIN_TOKEN="+token)
	}
	cli := func(token string, args ...string) (string, error) {
		cmd := exec.Command(kopirBin, append([]string{"held"}, args...)...)
		cmd.Env = env(token)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	payload := runCLI(t, env("admin-token"), "held", "payload", id)
	if !strings.Contains(payload, typo) {
		t.Fatalf("payload lacks the entry: %s", payload)
	}
	fix := filepath.Join(t.TempDir(), "fix.json")
	os.WriteFile(fix, []byte(strings.Replace(payload, typo, e2e, 1)), 0o600)
	if out := runCLI(t, env("viewer-token"), "held", "check", id, fix); !strings.Contains(out, "ok: the payload passes its checks") {
		t.Fatalf("check: %s", out)
	}
	if out, err := cli("viewer-token", "edit", "-reason", "typo", id, fix); err == nil || !strings.Contains(out, "needs role operator") {
		t.Fatalf("a viewer edited: %v %s", err, out)
	}
	out := runCLI(t, env("admin-token"), "held", "edit", "-json", "-reason", "end-to-end id mistyped by the bank", id, fix)
	var proposed struct {
		Status string
		Change struct{ ID, State string }
	}
	if err := json.Unmarshal([]byte(out), &proposed); err != nil || proposed.Status != "HELD" || proposed.Change.State != "PENDING" {
		t.Fatalf("edit: %v %s", err, out)
	}
	if out, err := cli("admin-token", "approve", id, proposed.Change.ID); err == nil || !strings.Contains(out, "needs a different operator") {
		t.Fatalf("the proposer approved their own change: %v %s", err, out)
	}
	time.Sleep(300 * time.Millisecond)
	if received() {
		t.Fatal("delivered before a second operator approved")
	}
	if out := runCLI(t, env("second-token"), "held", "approve", id, proposed.Change.ID); !strings.Contains(out, id+": QUEUED") {
		t.Fatalf("approve: %s", out)
	}

	var msg struct {
		Message struct {
			Status      string
			RequestBody struct {
				Statements []struct {
					Entries []struct {
						EndToEndID string `json:"endToEndId"`
						Matched    bool
					}
				}
				Summary struct{ Matched, Unmatched int }
			}
		}
		Audit []struct{ Actor, Action string }
	}
	for {
		h.adminGet("/admin/v1/messages/"+id, &msg)
		if msg.Message.Status == "DELIVERED" && received() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("approved statement not delivered: %s", msg.Message.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, st := range msg.Message.RequestBody.Statements {
		for _, e := range st.Entries {
			if !e.Matched || e.EndToEndID != e2e {
				t.Errorf("delivered entry %+v", e)
			}
		}
	}
	if s := msg.Message.RequestBody.Summary; s.Unmatched != 0 || s.Matched != 2 {
		t.Errorf("delivered summary %+v", s)
	}
	var trail []string
	for _, a := range msg.Audit {
		trail = append(trail, a.Actor+" "+a.Action)
	}
	want := "operator PAYLOAD_READ|operator CHANGE_PROPOSED|second-operator CHANGE_APPROVED|second-operator RESUBMIT|bus QUEUED|bus DELIVERED"
	if got := strings.Join(trail, "|"); !strings.HasPrefix(got, "NBRKKZKX RECEIVED|bus HELD|") || !strings.Contains(got, want) {
		t.Errorf("trail %s\nwant RECEIVED, HELD, …, %s", got, want)
	}
	var v struct{ OK bool }
	if h.adminGet("/admin/v1/audit/verify", &v); !v.OK {
		t.Error("audit chain broken")
	}
}
