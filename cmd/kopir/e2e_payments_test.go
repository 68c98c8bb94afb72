package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPaymentRoundTrip sends a payment order, lets the payment-system mock
// settle it (pacs.002 pushed back to the agency listener), reject another
// (AC01), and book both in a camt.053; the status history and the
// subscriber deliveries are read back through the bus.
func TestPaymentRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3}")
	order := func(e2e, creditorIBAN string) string {
		return fmt.Sprintf(`{"endToEndId":%q,"amount":{"value":"150000.00","currency":"KZT"},
		  "debtor":{"name":"Комитет казначейства","iban":"KZ77070105KZT0000001","bic":"KKMFKZ2A","bin":"990240000030"},
		  "creditor":{"name":"ТОО Дорстрой","iban":%q,"bic":"HSBKKZKX","bin":"050540004455"},
		  "remittanceInformation":"Оплата по договору 17","knp":"911","kod":"11","kbe":"17"}`, e2e, creditorIBAN)
	}
	ok := fmt.Sprintf("E2E-OK-%d", time.Now().UnixNano())
	bad := fmt.Sprintf("E2E-BAD-%d", time.Now().UnixNano())
	for _, o := range []string{order(ok, "KZ42601KZT0000123456"), order(bad, "KZ85998KZT0000000777")} {
		if status, out, err := h.call("payments.credit-transfer", "", o); err != nil || status != 202 {
			t.Fatalf("order: %d %v %v", status, out, err)
		}
	}
	// A wrong IBAN never leaves the bus and names the field.
	if status, p, _ := h.call("payments.credit-transfer", "", order("E2E-X", "KZ42601KZT0000123457")); status != 422 || p["field"] != "creditor.iban" {
		t.Errorf("bad IBAN: %d %v", status, p)
	}

	history := func(e2e string) map[string]any {
		_, m := h.raw("GET", "/v1/payments/"+e2e, "demo-token", nil, "")
		return m
	}
	deadline := time.Now().Add(20 * time.Second)
	for history(ok)["paymentStatus"] != "ACSC" || history(bad)["paymentStatus"] != "RJCT" {
		if time.Now().After(deadline) {
			t.Fatalf("statuses never arrived: %v / %v", history(ok), history(bad))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(fmt.Sprint(history(bad)), "AC01") {
		t.Errorf("rejection lacks its reason code: %v", history(bad))
	}
	if resp, _ := h.raw("GET", "/v1/payments/"+ok, "", nil, ""); resp.StatusCode != 401 {
		t.Errorf("history without a token: %d", resp.StatusCode)
	}

	h.mockControl("POST", "/payments/_control/statement", `{"type":"camt.053"}`)
	for !strings.Contains(fmt.Sprint(history(ok)["history"]), "PAYMENT_BOOKED") {
		if time.Now().After(deadline) {
			t.Fatalf("statement never booked the payment: %v", history(ok))
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitFor := func(path string) {
		for {
			var st struct{ Counts map[string]int }
			h.adminGet("/admin/v1/stats?route="+path, &st)
			if st.Counts["DELIVERED"] > 0 && st.Counts["QUEUED"] == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never delivered: %v", path, st.Counts)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("payments.status")
	waitFor("payments.statement")
	var v struct{ OK bool }
	if h.adminGet("/admin/v1/audit/verify", &v); !v.OK {
		t.Error("audit chain broken")
	}
	// The status report is kept exactly as the payment system sent it.
	var page struct{ Items []struct{ ID string } }
	h.adminGet("/admin/v1/messages?route=payments.status&limit=1", &page)
	if len(page.Items) != 1 {
		t.Fatalf("no payments.status message")
	}
	doc := adminFetch(t, h, "GET", "/admin/v1/messages/"+page.Items[0].ID+"/evidence")
	verified := adminFetch(t, h, "POST", "/admin/v1/messages/"+page.Items[0].ID+"/verify")
	if doc.status != 200 || !strings.Contains(string(doc.body), "pacs.002") || verified.status != 200 || !strings.Contains(string(verified.body), `"UNSIGNED"`) {
		t.Errorf("kept pacs.002: %d %s / %d %s", doc.status, tail(string(doc.body), 300), verified.status, verified.body)
	}
}
