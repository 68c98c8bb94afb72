package shepchannel_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/shepchannel"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

// ocspChannel is a provisioned channel whose trust asks responder, with
// the policy given, and its metrics.
func ocspChannel(t *testing.T, responder, policy string, in adapters.Intake) (string, *prometheus.Registry) {
	t.Helper()
	o := channelOpts()
	o.Trust = trustFiles(t)
	o.Trust.OCSP = &xmlsig.OCSPConfig{URL: responder, Timeout: units.Duration(200 * time.Millisecond)}
	o.Trust.OnRevocationUnknown = policy
	ch, reg := provisioned(t, o)
	return serve(t, ch, in).URL + "/shep/sync", reg
}

// A channel asks the responder through the core's transport: a good
// certificate is served (and asked about once), a revoked one refused.
// When the responder stops answering, only that channel's messages wait
// for it, at most its timeout, and its policy decides: refuse fails
// closed, flag accepts and marks the audit trail. A channel without OCSP
// is served meanwhile.
func TestOCSPAtTheChannel(t *testing.T) {
	f := fixture(t)
	responder := &testpki.OCSPResponder{CA: f.ca}
	srv := httptest.NewServer(responder)
	t.Cleanup(srv.Close)
	t.Cleanup(responder.Release)
	responder.Good(f.sender.Certificate())
	responder.Good(f.gateway.Certificate())
	responder.Revoke(f.otherOrg.Certificate(), time.Now().Add(-time.Hour))

	in := newIntake(map[string]bool{svcAsync: false})
	refuse, reg := ocspChannel(t, srv.URL, "", in)
	send := func(url, id string, s xmlsig.Signer) (int, http.Header, []byte) {
		return postXML(t, url, signWith(t, s, syncEnvelope(t, id, svcAsync, "demo-agency", "demo-secret", "<x/>")))
	}
	for _, id := range []string{"o-1", "o-2"} {
		if status, _, body := send(refuse, id, f.sender); status != http.StatusOK {
			t.Fatalf("good: %d\n%s", status, body)
		}
	}
	if n := metric(t, reg, "kopir_ocsp_queries_total", map[string]string{"outcome": "answered"}); n != 1 {
		t.Fatalf("%v queries answered for one certificate signing twice, want 1 (cached)", n)
	}
	refusedAs(t, in, refuse, signWith(t, f.otherOrg, syncEnvelope(t, "o-3", svcAsync, "demo-agency", "demo-secret", "<x/>")), string(xmlsig.ReasonRevoked))

	asked := responder.Asked()
	responder.Hang()
	flag, flagReg := ocspChannel(t, srv.URL, "flag", in)
	plain := serve(t, requireSignatures(t, channelOpts()), in).URL + "/shep/sync"
	type answer struct {
		status int
		h      http.Header
		body   []byte
	}
	held := make(chan answer, 1)
	go func() {
		status, h, body := send(refuse, "o-4", f.gateway)
		held <- answer{status, h, body}
	}()
	for responder.Asked() <= asked {
		time.Sleep(time.Millisecond)
	}
	// The responder now holds the refusing channel's query.
	if status, _, body := send(plain, "o-5", f.sender); status != http.StatusOK {
		t.Fatalf("a channel without OCSP while the responder hangs: %d\n%s", status, body)
	}
	a := <-held
	if code, ec := faultOf(t, a.status, a.h, a.body); code != "soap:Client" || ec != string(xmlsig.ReasonCRL) {
		t.Fatalf("refuse with the responder down: %s %s\n%s", code, ec, a.body)
	}
	if lastRejection(t, in).ID != a.h.Get("X-Kopir-Message-Id") {
		t.Fatal("the refusal was not stored as REJECTED")
	}
	if n := metric(t, reg, "kopir_channel_revocation_total", map[string]string{"outcome": "unknown_refused"}); n != 1 {
		t.Fatalf("the refusal counted %v times", n)
	}
	if n := metric(t, reg, "kopir_ocsp_queries_total", map[string]string{"outcome": "failed"}); n != 1 {
		t.Fatalf("%v failed queries counted, want 1", n)
	}
	status, h, body := send(flag, "o-6", f.gateway)
	if status != http.StatusOK {
		t.Fatalf("flag must accept with the responder down: %d\n%s", status, body)
	}
	trail := in.Actions(h.Get("X-Kopir-Message-Id"), shepchannel.ActionRevocationUnknown)
	if len(trail) != 1 || !strings.Contains(trail[0], "OCSP") {
		t.Fatalf("the audit trail does not say why: %v", trail)
	}
	if n := metric(t, flagReg, "kopir_channel_revocation_total", map[string]string{"outcome": "unknown_flagged"}); n != 1 {
		t.Fatalf("flag counted %v times", n)
	}
}
