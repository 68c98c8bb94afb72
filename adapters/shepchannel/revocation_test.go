package shepchannel_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/shepchannel"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// crlPoint is a CA's CRL distribution point: it serves der, answers 503
// while der is nil, or, when hang is set, holds every request until the
// test ends, as a dead host behind a firewall would.
type crlPoint struct {
	der    atomic.Pointer[[]byte]
	hang   bool
	served atomic.Int32
}

func (p *crlPoint) start(t *testing.T) string {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.hang {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		der := p.der.Load()
		if der == nil {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		p.served.Add(1)
		_, _ = w.Write(*der)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv.URL + "/nca.crl"
}

func (p *crlPoint) publish(t *testing.T, revoked []*x509.Certificate, thisUpdate time.Time) {
	t.Helper()
	_, der, err := fixture(t).ca.CRL(revoked, thisUpdate, thisUpdate.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	p.der.Store(&der)
}

// revocationChannel is a provisioned and running channel whose trust
// reads its CRL from url, with the policy given, and its metrics.
func revocationChannel(t *testing.T, url, policy string, every time.Duration, in adapters.Intake) (string, *prometheus.Registry) {
	t.Helper()
	o := channelOpts()
	o.Trust = trustFiles(t)
	o.Trust.CRLURLs, o.Trust.Refresh, o.Trust.OnRevocationUnknown = []string{url}, units.Duration(every), policy
	ch, reg := provisioned(t, o)
	srv := serve(t, ch, in)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ch.RunOnNode(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return srv.URL + "/shep/sync", reg
}

// provisioned is a channel with options o, given the test kit's
// resources and a registry of its own for its metrics.
func provisioned(t *testing.T, o shepchannel.ChannelOptions) (*shepchannel.Channel, *prometheus.Registry) {
	t.Helper()
	ch, err := shepchannel.NewChannel(o)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	res := adaptertest.Resources(t)
	res.Metrics = reg
	if err := ch.Provision(res); err != nil {
		t.Fatal(err)
	}
	return ch, reg
}

// metric is the value of the series of name whose labels include want.
func metric(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue series
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	return 0
}

func refreshes(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	return metric(t, reg, "kopir_crl_refresh_total", map[string]string{"channel": "shep", "outcome": outcome})
}

// A certificate revoked while the bus runs is refused once the CRL is
// refreshed, without a restart; when the distribution point goes down,
// the last good CRL stays in use and every other sender is still served.
func TestCRLRefreshRevokesWithoutRestart(t *testing.T) {
	f := fixture(t)
	in := newIntake(map[string]bool{svcAsync: false})
	point := &crlPoint{}
	now := time.Now()
	point.publish(t, nil, now.Add(-time.Hour))
	url, reg := revocationChannel(t, point.start(t), "", 10*time.Millisecond, in)
	waitFor(t, func() bool { return refreshes(t, reg, "ok") >= 1 })

	send := func(id string, s xmlsig.Signer) (int, http.Header, []byte) {
		return postXML(t, url, signWith(t, s, syncEnvelope(t, id, svcAsync, "demo-agency", "demo-secret", "<x/>")))
	}
	if status, _, body := send("r-1", f.sender); status != http.StatusOK {
		t.Fatalf("before the revocation: %d\n%s", status, body)
	}

	point.publish(t, []*x509.Certificate{f.sender.Certificate()}, now.Add(-time.Minute))
	// Two rounds after the new CRL is served: at least one read it whole.
	after := refreshes(t, reg, "ok")
	waitFor(t, func() bool { return refreshes(t, reg, "ok") >= after+2 })
	refusedAs(t, in, url, signWith(t, f.sender, syncEnvelope(t, "r-2", svcAsync, "demo-agency", "demo-secret", "<x/>")), string(xmlsig.ReasonRevoked))
	if n := metric(t, reg, "kopir_channel_revocation_total", map[string]string{"channel": "shep", "outcome": "revoked"}); n != 1 {
		t.Fatalf("revoked counted %v times, want 1", n)
	}

	point.der.Store(nil)
	failed := refreshes(t, reg, "failed")
	waitFor(t, func() bool { return refreshes(t, reg, "failed") >= failed+2 })
	refusedAs(t, in, url, signWith(t, f.sender, syncEnvelope(t, "r-3", svcAsync, "demo-agency", "demo-secret", "<x/>")), string(xmlsig.ReasonRevoked))
	if status, _, body := send("r-4", f.otherOrg); status != http.StatusOK {
		t.Fatalf("a sender not revoked must still be served with the CRL point down: %d\n%s", status, body)
	}
}

// A distribution point that never answers holds no request: the status
// is unknown, and the channel's policy decides. refuse fails closed and
// stores the refusal; flag accepts and writes on the message's audit
// trail why it did. Both are counted by channel and outcome.
func TestRevocationUnknownPolicyPerChannel(t *testing.T) {
	f := fixture(t)
	for _, c := range []struct {
		policy, want string
	}{
		{"", "refuse"},
		{"refuse", "refuse"},
		{"flag", "flag"},
	} {
		t.Run("policy "+c.want+" "+c.policy, func(t *testing.T) {
			in := newIntake(map[string]bool{svcAsync: false})
			point := &crlPoint{hang: true}
			url, reg := revocationChannel(t, point.start(t), c.policy, time.Hour, in)
			if p := metric(t, reg, "kopir_channel_revocation_policy", map[string]string{"channel": "shep", "policy": c.want}); p != 1 {
				t.Fatalf("the policy in force is not visible: %v", p)
			}
			env := signWith(t, f.sender, syncEnvelope(t, "u-1", svcAsync, "demo-agency", "demo-secret", "<x/>"))
			if c.want == "refuse" {
				refusedAs(t, in, url, env, string(xmlsig.ReasonCRL))
				if n := metric(t, reg, "kopir_channel_revocation_total", map[string]string{"outcome": "unknown_refused"}); n != 1 {
					t.Fatalf("refusal counted %v times", n)
				}
				return
			}
			status, h, body := postXML(t, url, env)
			if status != http.StatusOK {
				t.Fatalf("flag must accept: %d\n%s", status, body)
			}
			id := h.Get("X-Kopir-Message-Id")
			trail := in.Actions(id, shepchannel.ActionRevocationUnknown)
			if len(trail) != 1 || !strings.Contains(trail[0], "no CRL could be read") {
				t.Fatalf("the audit trail does not say the status was unknown: %v", trail)
			}
			acc := in.Accepted()
			var msg shepchannel.InboundMessage
			if err := json.Unmarshal(acc[len(acc)-1].Body, &msg); err != nil || msg.RevocationUnknown == "" {
				t.Fatalf("the subscriber is not told: %v %s", err, acc[len(acc)-1].Body)
			}
			if n := metric(t, reg, "kopir_channel_revocation_total", map[string]string{"outcome": "unknown_flagged"}); n != 1 {
				t.Fatalf("flag counted %v times", n)
			}
		})
	}
}
