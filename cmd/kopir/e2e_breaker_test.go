package main

import "testing"

// TestOneRegistryOutageLeavesTheOtherUp: GBD FL and GBD UL sit behind one
// gateway URL. With GBD FL failing at the mock, its breaker opens (503
// with Retry-After) and GBD UL, through the same URL, still answers.
func TestOneRegistryOutageLeavesTheOtherUp(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3}")
	h.mockControl("PUT", "/_control/faults/gbdfl", `{"failRate":1,"status":503}`)
	t.Cleanup(func() { h.mockControl("DELETE", "/_control/faults/gbdfl", "") })
	open := false
	for i := 0; i < 6 && !open; i++ {
		status, _, err := h.call("gbdfl.person", "", `{"iin":"880501300124"}`)
		if err != nil {
			t.Fatal(err)
		}
		open = status == 503
	}
	if !open {
		t.Fatal("GBD FL's breaker did not open under the mock's faults")
	}
	if status, org, err := h.call("gbdul.organization", "", `{"bin":"000740000728"}`); err != nil || status != 200 || org["bin"] != "000740000728" {
		t.Fatalf("GBD UL behind the same gateway URL: %d %v %v", status, org, err)
	}
	var b struct {
		Breakers []struct{ Endpoint, State string }
	}
	h.adminGet("/admin/v1/breakers", &b)
	states := map[string]string{}
	for _, x := range b.Breakers {
		states[x.Endpoint] = x.State
	}
	gw := "http://" + h.mocks + "/shep/sync"
	if states[gw+"#GBDFL_UniversalServiceSync"] != "open" || states[gw+"#GbdulReport3005_KDP"] != "closed" {
		t.Errorf("breakers %v", states)
	}
	if status := h.adminGet("/readyz", nil); status != 200 {
		t.Errorf("/readyz %d", status)
	}
}
