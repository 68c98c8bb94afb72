package app

import "testing"

// A channel's default public address comes from the agency listener, with
// a reachable host where the listener binds every interface.
func TestChannelBaseURL(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:8081":   "http://127.0.0.1:8081/shep",
		":8081":            "http://127.0.0.1:8081/shep",
		"0.0.0.0:8081":     "http://127.0.0.1:8081/shep",
		"[::]:8081":        "http://127.0.0.1:8081/shep",
		"bus.internal:443": "http://bus.internal:443/shep",
		"[::1]:8081":       "http://[::1]:8081/shep",
	} {
		if got := channelBaseURL(listen, false, "/shep"); got != want {
			t.Errorf("%s: %s, want %s", listen, got, want)
		}
	}
	if got, want := channelBaseURL(":8443", true, "/shep"), "https://127.0.0.1:8443/shep"; got != want {
		t.Errorf("over TLS: %s, want %s", got, want)
	}
}
