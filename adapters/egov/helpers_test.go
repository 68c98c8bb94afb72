package egov_test

import (
	"crypto/x509"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/gbdfl" // the service the tests call behind the gateway
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// mockServer runs the mock agencies trusting a test CA of their own, which
// did not issue the demo key.
func mockServer(t testing.TB, o shepgw.Options) *httptest.Server {
	t.Helper()
	now := time.Now()
	ca, err := testpki.NewCA("Test NCA", now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if o.Trust, err = xmlsig.NewTrust([]*x509.Certificate{ca.Cert}, nil, nil, xmlsig.PolicySigning); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, o))
	t.Cleanup(srv.Close)
	return srv
}

// held is what the mock gateway still holds for recipients to fetch.
func held(t testing.TB, url string) shepgw.AsyncHeld {
	t.Helper()
	h, err := shepgw.FetchHeld(url)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ops names the operation element of each envelope tr sent, in order.
func ops(tr *adaptertest.Transport) []string {
	var out []string
	for _, w := range tr.Sent() {
		out = append(out, opOf(w.Body))
	}
	return out
}

func opOf(env []byte) string {
	s := string(env)
	i := strings.Index(s, "<ns2:")
	if i < 0 {
		return ""
	}
	s = s[i+5:]
	return s[:strings.IndexAny(s, " >")]
}
