package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSHEPBothWays: a signed outbound GBD UL call verified by the mock
// gateway; an inbound signed push stored, acknowledged and delivered once
// even when the gateway repeats it; an unsigned push refused with a SOAP
// fault, stored REJECTED and never delivered.
func TestSHEPBothWays(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3}")
	status, org, err := h.call("gbdul.organization", "", `{"bin":"000740000728"}`)
	if err != nil || status != 200 || org["bin"] != "000740000728" || org["nameRu"] == nil {
		t.Fatalf("signed GBD UL call: %d %v %v", status, org, err)
	}
	if status, p, _ := h.call("gbdul.organization", "", `{"bin":"000740000729"}`); status != 422 || p["field"] != "bin" {
		t.Errorf("bad BIN: %d %v", status, p)
	}

	push := func(id string, sign bool) (int, string) {
		return h.shepPush(id, "<payment><amount>15000</amount></payment>", sign)
	}
	id := fmt.Sprintf("7d4c1e2a-0000-4000-8000-%012d", time.Now().UnixNano()%1e12)
	s1, ack1 := push(id, true)
	s2, ack2 := push(id, true)
	if s1 != 200 || s2 != 200 || ack1 == "" || ack1 != ack2 {
		t.Fatalf("push and its repeat: %d %d\n%s\n%s", s1, s2, ack1, ack2)
	}
	var st struct{ Counts map[string]int }
	deadline := time.Now().Add(15 * time.Second)
	for {
		h.adminGet("/admin/v1/stats?route=minfin.payment-notify", &st)
		if st.Counts["DELIVERED"] == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var got struct{ Total, Unique int }
	json.Unmarshal(h.mockControl("GET", "/_control/received/subscriber", ""), &got)
	if st.Counts["DELIVERED"] != 1 || got.Total != 1 {
		t.Errorf("the pushed message and its repeat: stored %v, subscriber received %d", st.Counts, got.Total)
	}

	s3, fault := push(strings.Replace(id, "7d4c", "7d4d", 1), false)
	if s3 != 500 || !strings.Contains(fault, "Fault") || !strings.Contains(fault, "SIGNATURE_MISSING") {
		t.Errorf("unsigned push: %d %s", s3, fault)
	}
	var page struct {
		Items []struct{ Status, Error string }
	}
	h.adminGet("/admin/v1/messages?route=minfin.payment-notify&status=REJECTED", &page)
	if len(page.Items) != 1 || !strings.Contains(page.Items[0].Error, "SIGNATURE_MISSING") {
		t.Errorf("unsigned push stored as %+v", page.Items)
	}
	json.Unmarshal(h.mockControl("GET", "/_control/received/subscriber", ""), &got)
	if got.Total != 1 {
		t.Errorf("an unsigned push reached the subscriber (%d deliveries)", got.Total)
	}
}
