package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters/csdchannel"
	"github.com/minfin-kz/kopir/contracts/securities"
)

// securitiesConfig is the bus with the exchange's and the depository's
// routes and channels, on a simulated clock, and the mocks' subscriber.
func securitiesConfig(h *harness) string {
	inbound := func(name, channel, key string) string {
		return fmt.Sprintf(`  - name: %s
    inbound: {channel: %s, key: %s}
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%s/subscriber/securities/%s]
    retry: {attempts: 8, backoff: 20ms, cap: 200ms}
    maxBody: 1MiB
`, name, channel, key, h.mocks, key)
	}
	return fmt.Sprintf(`demo: true
clock: {simulated: true, start: "2026-12-01T10:00:00+05:00"}
listen: {internal: %[1]q, agency: %[2]q, admin: %[3]q}
dataDir: %[4]q
callers: [{name: demo, token: demo-token}]
admins: [{name: operator, token: admin-token, role: admin}]
routes:
  - name: securities.register-issue
    adapter: csd
    operation: register-issue
    mode: async
    endpoints: [http://%[5]s/csd/iso20022]
    retry: {attempts: 5, backoff: 20ms, cap: 200ms}
    callers: [demo]
    options: {ministryBIC: KKMFKZ2A, depositoryBIC: CEDUKZKA}
  - name: securities.holders
    adapter: csd
    operation: holders
    endpoints: [http://%[5]s/csd]
    callers: [demo]
    options: {ministryBIC: KKMFKZ2A, depositoryBIC: CEDUKZKA}
  - name: securities.announce-placement
    adapter: kase
    operation: announce
    mode: async
    endpoints: [http://%[5]s/kase]
    retry: {attempts: 5, backoff: 20ms, cap: 200ms}
    callers: [demo]
  - name: securities.cutoff
    adapter: kase
    operation: cutoff
    endpoints: [http://%[5]s/kase]
    callers: [demo]
%[6]schannels:
  - name: kase
  - name: csd
    options:
      instruments: [{prefix: KZKD, dayBasis: 30/360, frequency: 2}]
`, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), h.mocks,
		inbound("securities.demand-summary", "kase", "DemandSummary")+inbound("securities.auction-result", "kase", "AuctionResult")+
			inbound("securities.issue-status", "csd", "reda.008")+inbound("securities.settlement-status", "csd", "sese.024")+
			inbound("securities.settlement", "csd", "sese.025")+inbound("securities.corporate-action", "csd", "seev.031")+
			inbound("securities.payment-confirmation", "csd", "seev.036"))
}

// at sets the bus's and the mocks' clocks to the same time.
func (h *harness) at(t string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://"+h.admin+"/admin/v1/clock", strings.NewReader(`{"now":"`+t+`"}`))
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		h.t.Fatalf("setting the bus clock to %s: %v %v", t, err, resp)
	}
	resp.Body.Close()
	h.mockControl(http.MethodPut, "/_control/clock", `{"now":"`+t+`"}`)
}

// delivered waits until the message id is DELIVERED.
func (h *harness) delivered(id string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var m struct{ Message struct{ Status string } }
	for time.Now().Before(deadline) {
		if h.adminGet("/admin/v1/messages/"+id, &m); m.Message.Status == "DELIVERED" {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("message %s is %s, not DELIVERED, after 20 s", id, m.Message.Status)
}

// inbound waits until route holds n delivered messages and returns their
// bodies, oldest first.
func (h *harness) inbound(route string, n int) []map[string]any {
	h.t.Helper()
	var out []map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var page struct {
			Items []struct {
				Status      string
				RequestBody map[string]any
			}
		}
		h.adminGet("/admin/v1/messages?limit=1000&route="+route, &page)
		out = out[:0]
		delivered := 0
		for i := len(page.Items) - 1; i >= 0; i-- {
			out = append(out, page.Items[i].RequestBody)
			if page.Items[i].Status == "DELIVERED" {
				delivered++
			}
		}
		if delivered >= n {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.t.Fatalf("%s: %d messages delivered, want %d", route, len(out), n)
	return nil
}

// TestSecuritiesLife carries one MEUKAM issue through its whole life on
// the real bus and mocks, with both clocks simulated: registration and
// its ISIN, the announcement, the demand summary, the cut-off (and one
// too late), the placed result, settlement T+2, every coupon and the
// redemption; then GET /v1/securities/{isin} tells it, and the audit
// chain is intact. Every document on the way was validated against its
// schema by the side that received it.
func TestSecuritiesLife(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarnessWith(t, securitiesConfig)
	h.at("2026-12-01T10:00:00+05:00")
	terms := `"type":"MEUKAM","faceValue":"1000","currency":"KZT","circulationStart":"2026-12-10","maturity":"2032-12-10","couponRate":"12.5","couponFrequency":2,"dayBasis":"30/360"`
	if status, out, err := h.call("securities.register-issue", "", `{`+terms+`,"volume":1000000,"issueNumber":7,"termMonths":71}`); err != nil || status != 422 || out["field"] != "termMonths" {
		t.Fatalf("a term the dates disagree with: %d %v %v", status, out, err)
	}
	if status, out, err := h.call("securities.register-issue", "", `{`+terms+`,"volume":1000000,"issueNumber":7}`); err != nil || status != 202 {
		t.Fatalf("register-issue: %d %v %v", status, out, err)
	}
	advice := h.inbound("securities.issue-status", 1)[0]
	isin, _ := advice["isin"].(string)
	if advice["status"] != "COMPLETED" || securities.ValidateISINForType(isin, securities.MEUKAM) != nil || advice["tradeCode"] != "MUM072_0007" {
		t.Fatalf("the depository's advice: %v", advice)
	}

	h.at("2026-12-07T10:00:00+05:00")
	h.mockControl(http.MethodPut, "/kase/_control/session", `{"outcome":"PLACED","seed":42,"participants":12,"limitShare":0.7}`)
	announce := `{"isin":"` + isin + `",` + terms + `,"issueNumber":7,"tradeCode":"MUM072_0007","declaredVolume":1000000,"tradeDate":"2026-12-08","subject":"PRICE","marketOrderShare":"70","settlement":"T2","pricing":"OWN_PRICE","additionalSession":false}`
	bad := strings.Replace(announce, isin, isin[:11]+string('0'+(isin[11]-'0'+1)%10), 1)
	if status, out, _ := h.call("securities.announce-placement", "", bad); status != 422 || out["field"] != "isin" {
		t.Fatalf("an ISIN with a wrong check digit: %d %v", status, out)
	}
	status, out, err := h.call("securities.announce-placement", "", announce)
	if err != nil || status != 202 {
		t.Fatalf("announce: %d %v %v", status, out, err)
	}
	announcement := out["id"].(string)
	// The announcement is async: it must reach the exchange before the
	// clocks move past its order window, as it would in a real day.
	h.delivered(announcement)
	decision := `{"announcementId":"` + announcement + `","isin":"` + isin + `","tradeDate":"2026-12-08","cutoffPrice":"99.5"}`
	h.at("2026-12-08T11:00:00+05:00")
	if status, out, _ := h.call("securities.cutoff", "", decision); status != 422 || out["code"] != "WINDOW_NOT_CLOSED" {
		t.Fatalf("a cut-off while orders are taken: %d %v", status, out)
	}
	h.at("2026-12-08T12:05:00+05:00")
	summary := h.inbound("securities.demand-summary", 1)[0]
	if summary["announcementId"] == nil {
		t.Fatalf("demand summary: %v", summary)
	}
	if status, out, _ := h.call("securities.cutoff", "", decision); status != 200 || out["status"] != "ACCEPTED" {
		t.Fatalf("the cut-off in its window: %d %v", status, out)
	}
	result := h.inbound("securities.auction-result", 1)[0]
	allocations, _ := result["allocations"].([]any)
	if result["outcome"] != "PLACED" || len(allocations) == 0 {
		t.Fatalf("auction result: %v", result)
	}
	h.at("2026-12-08T15:00:01+05:00")
	if status, out, _ := h.call("securities.cutoff", "", decision); status != 422 || out["code"] != "DEADLINE_PASSED" || !strings.Contains(fmt.Sprint(out["detail"]), "15:00") {
		t.Fatalf("a cut-off after 15:00: %d %v", status, out)
	}

	h.at("2026-12-10T18:00:00+05:00")
	settled := h.inbound("securities.settlement", len(allocations))
	if len(settled) != len(allocations) {
		t.Fatalf("%d settlements for %d allocations", len(settled), len(allocations))
	}
	var holders map[string]any
	if status, holders, _ = h.call("securities.holders", "", `{"isin":"`+isin+`","date":"2026-12-10"}`); status != 200 || len(holders["holders"].([]any)) != len(allocations) {
		t.Fatalf("holders after settlement: %d %v", status, holders)
	}

	// Twelve coupons, paid every six months, and the redemption.
	h.at("2033-01-15T12:00:00+05:00")
	notices := h.inbound("securities.corporate-action", 13)
	h.inbound("securities.payment-confirmation", 13)
	for _, n := range notices {
		if n["amountDisagrees"] != nil || n["amountNotChecked"] != nil {
			t.Errorf("coupon %v: the bus's own computation did not confirm it", n["eventId"])
		}
	}

	resp, err := http.Get("http://" + h.internal + "/v1/securities/" + isin)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("the life without a token: %d, want 401", resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+h.internal+"/v1/securities/"+isin, nil)
	req.Header.Set("Authorization", "Bearer demo-token")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var life csdchannel.Life
	json.NewDecoder(resp.Body).Decode(&life)
	resp.Body.Close()
	if resp.StatusCode != 200 || life.Registration == nil || life.Registration.Status != "COMPLETED" || life.Registration.RequestStatus != "DELIVERED" {
		t.Fatalf("life of %s: %d %+v", isin, resp.StatusCode, life.Registration)
	}
	if len(life.Placements) != 1 || life.Placements[0].Outcome != "PLACED" || life.Placements[0].DemandSummaries != 1 {
		t.Errorf("placements: %+v", life.Placements)
	}
	if len(life.Settlements) != len(allocations) {
		t.Errorf("%d settlements in the life, %d allocations", len(life.Settlements), len(allocations))
	}
	for _, m := range life.Messages {
		if m.MessageID != life.Placements[0].MessageID {
			continue
		}
		settledOnTrail := 0
		for _, e := range m.Events {
			if e.Action == csdchannel.ActionSettled {
				settledOnTrail++
			}
		}
		if settledOnTrail != len(allocations) {
			t.Errorf("the announcement's trail has %d settled allocations of %d", settledOnTrail, len(allocations))
		}
	}
	if len(life.Coupons) != 12 || life.Redemption == nil || life.Redemption.Status != csdchannel.CouponPaid {
		t.Fatalf("coupons %d, redemption %+v", len(life.Coupons), life.Redemption)
	}
	for _, c := range life.Coupons {
		if c.Status != csdchannel.CouponPaid || c.AmountPerUnit == nil || c.AmountPerUnit.Value != "62.50" {
			t.Errorf("coupon %+v", c)
		}
	}
	// A document from the depository that its schema refuses is answered
	// 400 naming the element and stored REJECTED; the bus goes on.
	refused, _ := http.NewRequest(http.MethodPost, "http://"+h.agency+"/csd", strings.NewReader(`<message><AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.03"/></message>`))
	refused.Header.Set("Content-Type", "application/xml")
	if resp, err := http.DefaultClient.Do(refused); err != nil || resp.StatusCode != 400 {
		t.Errorf("a schema-invalid depository document: %v %v", resp, err)
	} else {
		var p struct{ Code, MessageID string }
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		var m struct{ Message struct{ Status string } }
		if h.adminGet("/admin/v1/messages/"+p.MessageID, &m); m.Message.Status != "REJECTED" {
			t.Errorf("the refused document %+v is stored as %q", p, m.Message.Status)
		}
	}
	var verify struct{ OK bool }
	if h.adminGet("/admin/v1/audit/verify", &verify); !verify.OK {
		t.Error("the audit chain does not verify")
	}
}
