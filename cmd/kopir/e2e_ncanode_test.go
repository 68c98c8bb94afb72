package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/mocks/ncanode"
)

// TestNCANodeBothWays runs the bus with NCANode as the signing provider of
// an outbound route and the verification provider of the SHEP channel,
// against kopir-mocks' NCANode. The envelope the gateway accepted carries
// the signature the mock NCANode produced, and no call to NCANode is an
// attempt of the exchange (their bodies hold the key); a signed push is
// verified by NCANode and accepted; an unsigned one is refused without
// asking it; an NCANode answering 503 is named NCANODE_ERROR on both
// sides.
func TestNCANodeBothWays(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarnessWith(t, ncanodeConfig)

	status, person, err := h.call("gbdfl.person.ncanode", "", `{"iin":"880501300124"}`)
	if err != nil || status != 200 || person["iin"] != "880501300124" {
		t.Fatalf("GBD FL signed through NCANode: %d %v %v", status, person, err)
	}
	sent := h.sentEnvelopes("gbdfl.person.ncanode")
	if len(sent) != 1 {
		t.Fatalf("want one attempt, at the gateway; got %d", len(sent))
	}
	sig := ncanode.SignatureValue(sent[0])
	if sig == "" {
		t.Fatalf("the sent envelope is not signed:\n%s", sent[0])
	}
	if n := h.ncanodeLog()["sign "+sig]; n != 1 {
		t.Errorf("the signature the gateway accepted was produced by the mock NCANode %d times, want once", n)
	}

	push := func(id string, sign bool) (int, string) {
		return h.shepPush(id, "<payment><amount>1</amount></payment>", sign)
	}
	verified := func() int {
		n := 0
		for k, c := range h.ncanodeLog() {
			if strings.HasPrefix(k, "verify ") {
				n += c
			}
		}
		return n
	}
	id := fmt.Sprintf("5a1c0e2a-0000-4000-8000-%012d", time.Now().UnixNano()%1e12)
	if s, ack := push(id, true); s != 200 || verified() != 1 {
		t.Fatalf("signed push: %d (NCANode verified %d)\n%s", s, verified(), ack)
	}
	if s, fault := push(strings.Replace(id, "5a1c", "5a1d", 1), false); s != 500 || !strings.Contains(fault, "SIGNATURE_MISSING") || verified() != 1 {
		t.Errorf("unsigned push: %d, NCANode asked %d times\n%s", s, verified(), fault)
	}

	h.mockControl("PUT", "/_control/faults/"+ncanode.Name, `{"failRate":1,"status":503}`)
	status, p, _ := h.call("gbdfl.person.ncanode", "", `{"iin":"880501300124"}`)
	if status != 502 || p["code"] != "NCANODE_ERROR" {
		t.Errorf("NCANode answering 503, outbound: %d %v", status, p)
	}
	if s, fault := push(strings.Replace(id, "5a1c", "5a1e", 1), true); s != 500 || !strings.Contains(fault, "soap:Server") || !strings.Contains(fault, "NCANODE_ERROR") {
		t.Errorf("NCANode answering 503, inbound: %d\n%s", s, fault)
	}
	var failed struct {
		Items []struct{ Status, Error string }
	}
	h.adminGet("/admin/v1/messages?route=gbdfl.person.ncanode&status=FAILED", &failed)
	if len(failed.Items) != 1 || !strings.Contains(failed.Items[0].Error, "NCANODE_ERROR") {
		t.Errorf("the failed call is stored as %+v", failed.Items)
	}
}

// ncanodeConfig has a route signing through the mock NCANode and the SHEP
// channel verifying through it.
func ncanodeConfig(h *harness) string {
	return fmt.Sprintf(`demo: true
listen: {internal: %q, agency: %q, admin: %q}
dataDir: %q
callers: [{name: demo, token: demo-token}]
admins: [{name: operator, token: admin-token, role: admin}]
routes:
  - name: gbdfl.person.ncanode
    adapter: gbdfl
    operation: person
    endpoints: [http://%[5]s/shep/sync]
    retry: {attempts: 2, backoff: 10ms, cap: 50ms}
    callers: [demo]
    personalData: {mask: [iin, lastName, firstName, middleName, birthDate, password]}
    options:
      senderId: kopir
      password: kopir-secret
      signing: {provider: ncanode, url: "http://%[5]s/ncanode", pkcs12: %[6]q, passwordFile: %[7]q, revocationCheck: [CRL], retry: {attempts: 2, backoff: 10ms, cap: 50ms}}
  - name: minfin.payment-notify
    inbound: {channel: shep, key: MINFIN_PaymentNotify}
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/payment-notify]
    retry: {attempts: 5, backoff: 20ms, cap: 200ms}
channels:
  - name: shep
    options:
      senders: [{id: demo-agency, password: demo-secret}]
      requireSignature: true
      trust: {provider: ncanode, url: "http://%[5]s/ncanode", revocationCheck: [CRL], policy: 1.2.398.5.19.1.2.2.1.2, retry: {attempts: 1}}
`, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), h.mocks, pki("kopir.p12"), pki("kopir.p12.password"))
}

// sentEnvelopes are the wire bodies of route's first message's attempts,
// as stored (personal data masked, signature untouched).
func (h *harness) sentEnvelopes(route string) [][]byte {
	var page struct{ Items []struct{ ID string } }
	h.adminGet("/admin/v1/messages?route="+route, &page)
	if len(page.Items) == 0 {
		h.t.Fatalf("no message of %s stored", route)
	}
	var d struct {
		Attempts []struct {
			Endpoint    string
			RequestBody []byte
		}
	}
	h.adminGet("/admin/v1/messages/"+page.Items[len(page.Items)-1].ID, &d)
	var out [][]byte
	for _, a := range d.Attempts {
		if strings.Contains(a.Endpoint, "ncanode") {
			h.t.Errorf("a call to NCANode is stored as an attempt: %s", a.Endpoint)
		}
		out = append(out, a.RequestBody)
	}
	return out
}

// shepPush has the mock gateway push a sendMessage for
// MINFIN_PaymentNotify to the bus's shep channel, signed with the demo
// gateway key or not; it returns the bus's HTTP status and answer.
func (h *harness) shepPush(id, data string, sign bool) (int, string) {
	body := fmt.Sprintf(`{"serviceId":"MINFIN_PaymentNotify","messageId":%q,"data":%q,"url":"http://%s/shep","sign":%v}`, id, data, h.agency, sign)
	var res struct {
		Status   int
		Response string
	}
	json.Unmarshal(h.mockControl("POST", "/_control/shep/push", body), &res)
	return res.Status, res.Response
}

// ncanodeLog is what the mock NCANode was asked, by log key.
func (h *harness) ncanodeLog() map[string]int {
	var rec struct {
		Items []struct {
			Key   string
			Count int
		}
	}
	json.Unmarshal(h.mockControl("GET", "/_control/received/"+ncanode.Name, ""), &rec)
	out := map[string]int{}
	for _, it := range rec.Items {
		out[it.Key] = it.Count
	}
	return out
}
