package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The request bodies of docs/adapters/ekyzmet.md's curl lines, sent here
// exactly as written there.
const (
	ekyzmetACSEvents = `{"events":[
  {"iin":"931002451325","event":"IN","time":"2025-03-14T09:05:00+05:00","bin":"000740000728","floor":3,"building":"Дом министерств"},
  {"rfid":"04A2B9C1","event":"OUT","time":"2025-03-14T18:10:00+05:00","bin":"000740000728","floor":3,"building":"Дом министерств"}]}`
	ekyzmetDecisionInvitation = `{"iin":"931002451325","docUID":"D-2025-0017","decision":"ACCEPT"}`
	ekyzmetPersonnelReport    = `{"iin":"931002451325","position":"главный эксперт","bin":"000740000728","startDate":"2020-01-15","grounds":"приказ № 12-к от 14.01.2020"}`
)

// ekyzmetRoutes are the three routes as deploy/local.yaml has them, and an
// egov pass-through to the same service: the e-Kyzmet adapter cannot build
// unequal lists, so that is how the mock's refusal of them is reached.
func ekyzmetRoutes(h *harness) string {
	var b strings.Builder
	for _, op := range []string{"acs-events", "decision-invitation", "personnel-report"} {
		fmt.Fprintf(&b, `  - name: ekyzmet.%[1]s
    adapter: ekyzmet
    operation: %[1]s
    endpoints: [http://%[2]s/shep/sync]
    retry: {attempts: 3, backoff: 10ms, cap: 100ms}
    callers: [demo]
    personalData: {mask: [iin, rfid, value, password]}
    options: {serviceId: EKyzmetUniversalService, senderId: kopir, password: kopir-secret}
`, op, h.mocks)
	}
	fmt.Fprintf(&b, `  - name: ekyzmet.raw
    adapter: egov
    operation: send
    endpoints: [http://%s/shep/sync]
    callers: [demo]
    options: {serviceId: EKyzmetUniversalService, senderId: kopir, password: kopir-secret}
`, h.mocks)
	return b.String()
}

// TestEKyzmetRoutes: the three e-Kyzmet routes through the real bus and
// mocks, refusals before SHEP, and e-Kyzmet's error statuses mapped.
func TestEKyzmetRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	doc, err := os.ReadFile("../../docs/adapters/ekyzmet.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{ekyzmetACSEvents, ekyzmetDecisionInvitation, ekyzmetPersonnelReport,
		strings.Replace(ekyzmetDecisionInvitation, "931002451325", "931002451326", 1),
		strings.Replace(ekyzmetDecisionInvitation, "931002451325", "931002400003", 1)} {
		if !strings.Contains(string(doc), "-d '"+body+"'") {
			t.Errorf("docs/adapters/ekyzmet.md has no curl line sending %s", body)
		}
	}
	h := newHarnessWith(t, func(h *harness) string {
		return strings.Replace(demoConfig(h, "{attempts: 3}"), "routes:\n", "routes:\n"+ekyzmetRoutes(h), 1)
	})
	for _, c := range []struct {
		route, body string
		status      int
		field, code string
	}{
		{"ekyzmet.acs-events", ekyzmetACSEvents, 200, "", ""},
		{"ekyzmet.decision-invitation", ekyzmetDecisionInvitation, 200, "", ""},
		{"ekyzmet.personnel-report", ekyzmetPersonnelReport, 200, "", ""},
		{"ekyzmet.acs-events", strings.Replace(ekyzmetACSEvents, `"floor":3,"building":"Дом министерств"}]`, `"floor":3,"building":"Дом министерств"},{"iin":"931002451326","event":"IN","time":"2025-03-14T09:05:00+05:00","bin":"000740000728","floor":3,"building":"B"}]`, 1), 422, "events[2].iin", ""},
		{"ekyzmet.acs-events", strings.Replace(ekyzmetACSEvents, `"rfid":"04A2B9C1","event":"OUT","time":"2025-03-14T18:10:00+05:00","bin":"000740000728"`, `"rfid":"04A2B9C1","event":"OUT","time":"2025-03-14T18:10:00+05:00","bin":"000740000729"`, 1), 422, "events[1].bin", ""},
		{"ekyzmet.decision-invitation", strings.Replace(ekyzmetDecisionInvitation, "931002451325", "931002451326", 1), 422, "iin", ""},
		{"ekyzmet.personnel-report", strings.Replace(ekyzmetPersonnelReport, "000740000728", "000740000729", 1), 422, "bin", ""},
		// The mock has no civil servant under serial 0000: e-Kyzmet's ERR404.
		{"ekyzmet.personnel-report", strings.Replace(ekyzmetPersonnelReport, "931002451325", "931002400003", 1), 404, "", "ERR404"},
		{"ekyzmet.decision-invitation", strings.Replace(ekyzmetDecisionInvitation, "931002451325", "931002400003", 1), 404, "", "ERR404"},
	} {
		status, out, err := h.call(c.route, "", c.body)
		if err != nil {
			t.Fatal(err)
		}
		if status != c.status || c.status == 200 && out["status"] != "SCSS001" ||
			c.field != "" && out["field"] != c.field || c.code != "" && out["code"] != c.code {
			t.Errorf("%s %s: %d %v, want %d field %q code %q", c.route, c.body, status, out, c.status, c.field, c.code)
		}
	}

	// Unequal lists, written by hand: the mock refuses them with ERR001,
	// which the generic pass-through, knowing nothing of e-Kyzmet, passes
	// on as the agency's code.
	unequal := `<Request serviceName="sendEventFromACSList">` +
		`<param><key>ИИН</key><values><value>931002451325</value><value>931002451325</value></values></param>` +
		`<param><key>Событие</key><values><value>IN</value><value>OUT</value></values></param>` +
		`<param><key>Время</key><values><value>2025-03-14T09:05:00+05:00</value></values></param>` +
		`<param><key>БИН</key><values><value>000740000728</value><value>000740000728</value></values></param>` +
		`<param><key>Номер этажа</key><values><value>3</value><value>3</value></values></param>` +
		`<param><key>Наименование здания</key><values><value>B</value><value>B</value></values></param></Request>`
	body, _ := json.Marshal(map[string]string{"data": unequal})
	status, out, err := h.call("ekyzmet.raw", "", string(body))
	if err != nil || status != 502 || out["code"] != "ERR001" || !strings.Contains(fmt.Sprint(out["detail"]), "unequal length") {
		t.Errorf("unequal lists: %d %v %v", status, out, err)
	}

	// Every call that passed validation reached e-Kyzmet once; the refused
	// ones never left the bus.
	var got struct{ Total int }
	json.Unmarshal(h.mockControl("GET", "/_control/received/ekyzmet", ""), &got)
	if got.Total != 6 {
		t.Errorf("e-Kyzmet mock received %d calls, want 6", got.Total)
	}

	h.mockControl("PUT", "/_control/faults/ekyzmet", `{"failRate":1,"soapFault":true}`)
	if status, out, _ := h.call("ekyzmet.decision-invitation", "", ekyzmetDecisionInvitation); status != 502 || out["code"] != "MOCK_INJECTED_FAULT" {
		t.Errorf("e-Kyzmet down: %d %v", status, out)
	}
}
