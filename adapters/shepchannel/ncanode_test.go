package shepchannel_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/ncanode"
	"github.com/minfin-kz/kopir/adapters/shepchannel"
	"github.com/minfin-kz/kopir/adapters/signing"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks"
	mockncanode "github.com/minfin-kz/kopir/mocks/ncanode"
)

// ncanodeChannel is the channel with its trust block naming NCANode (the
// mock, trusting the fixture's CA and CRL), built and provisioned as the
// core builds it.
func ncanodeChannel(t *testing.T, in adapters.Intake) (control, url string) {
	t.Helper()
	mock := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, mockncanode.Options{Trust: fixture(t).trust}))
	t.Cleanup(mock.Close)
	o := channelOpts()
	o.RequireSignature = true
	o.Trust = &signing.TrustConfig{Provider: signing.NCANode, TrustConfig: xmlsig.TrustConfig{Policy: xmlsig.PolicySigning},
		Service: ncanode.Service{URL: mock.URL + mockncanode.Prefix, RevocationCheck: []string{"CRL"}, Retry: adapters.RetrySpec{Attempts: 1}}}
	ch, err := shepchannel.NewChannel(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Provision(adaptertest.Resources(t)); err != nil {
		t.Fatal(err)
	}
	return mock.URL, serve(t, ch, in).URL + "/shep/async"
}

// A channel verifying through NCANode takes a good signature (NCANode was
// asked about that very signature) and refuses the others with the
// channel's usual codes, as REJECTED; an NCANode that does not answer is
// our side's failure (soap:Server, not REJECTED), named by its code.
func TestChannelVerifiesThroughNCANode(t *testing.T) {
	in := newIntake(map[string]bool{svcAsync: false})
	control, url := ncanodeChannel(t, in)
	f := fixture(t)

	good := signWith(t, f.gateway, asyncPush(t, "n-1", svcAsync, "REQUEST", "<payment/>"))
	if status, _, body := postXML(t, url, good); status != http.StatusOK {
		t.Fatalf("signed push: %d %s", status, body)
	}
	if accepted, _, _ := counts(in); accepted != 1 {
		t.Fatalf("accepted %d", accepted)
	}
	var rec mocks.Received
	resp, err := http.Get(control + "/_control/received/" + mockncanode.Name)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&rec)
	resp.Body.Close()
	if len(rec.Items) != 1 || rec.Items[0].Key != "verify "+mockncanode.SignatureValue(good) {
		t.Fatalf("NCANode was asked %+v", rec.Items)
	}

	cases := []struct {
		name string
		env  []byte
		want string
	}{
		{"unsigned", asyncPush(t, "n-2", svcAsync, "REQUEST", "<payment/>"), string(xmlsig.ReasonMissing)},
		{"tampered", []byte(strings.Replace(string(signWith(t, f.gateway, asyncPush(t, "n-3", svcAsync, "REQUEST", "<payment>1</payment>"))), "<payment>1<", "<payment>2<", 1)), string(xmlsig.ReasonInvalid)},
		{"revoked", signWith(t, f.revoke, asyncPush(t, "n-4", svcAsync, "REQUEST", "<payment/>")), string(xmlsig.ReasonRevoked)},
		{"expired", signWith(t, f.expired, asyncPush(t, "n-5", svcAsync, "REQUEST", "<payment/>")), string(xmlsig.ReasonExpired)},
		{"unknown CA", signWith(t, f.untrusted, asyncPush(t, "n-6", svcAsync, "REQUEST", "<payment/>")), string(xmlsig.ReasonUntrusted)},
		{"authentication policy", signWith(t, f.noPolicy, asyncPush(t, "n-7", svcAsync, "REQUEST", "<payment/>")), string(xmlsig.ReasonPolicy)},
	}
	for i, c := range cases {
		status, h, body := postXML(t, url, c.env)
		fc, code := faultOf(t, status, h, body)
		if fc != "soap:Client" || code != c.want {
			t.Errorf("%s: %s %s, want soap:Client %s", c.name, fc, code, c.want)
		}
		if _, _, rejected := counts(in); rejected != i+1 {
			t.Errorf("%s: not recorded as REJECTED", c.name)
		}
	}

	req, _ := http.NewRequest(http.MethodPut, control+"/_control/faults/"+mockncanode.Name, strings.NewReader(`{"failRate":1,"status":500}`))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatal(err)
	}
	status, h, body := postXML(t, url, signWith(t, f.gateway, asyncPush(t, "n-8", svcAsync, "REQUEST", "<payment/>")))
	if fc, code := faultOf(t, status, h, body); fc != "soap:Server" || code != ncanode.CodeError {
		t.Errorf("NCANode failing: %s %s", fc, code)
	}
	if accepted, _, rejected := counts(in); accepted != 1 || rejected != len(cases) {
		t.Errorf("NCANode failing: accepted %d, rejected %d", accepted, rejected)
	}
}

func TestChannelTrustProviderOptions(t *testing.T) {
	for _, c := range []struct {
		trust signing.TrustConfig
		want  string
	}{
		{signing.TrustConfig{Provider: signing.NCANode, TrustConfig: xmlsig.TrustConfig{Roots: []string{"ca.pem"}}, Service: ncanode.Service{URL: "http://127.0.0.1:1"}}, "shep: options.trust: roots, intermediates, crls: NCANode checks chains"},
		{signing.TrustConfig{Provider: signing.NCANode}, "shep: options.trust: url: NCANode's base URL is required"},
		{signing.TrustConfig{TrustConfig: xmlsig.TrustConfig{Roots: []string{"ca.pem"}}, Service: ncanode.Service{URL: "http://127.0.0.1:1"}}, "shep: options.trust: url, timeout"},
		{signing.TrustConfig{Provider: "kalkan"}, `shep: options.trust: provider: unknown signing provider "kalkan"`},
	} {
		o := channelOpts()
		o.Trust = &c.trust
		if _, err := shepchannel.NewChannel(o); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%+v:\n got %v\nwant %s…", c.trust, err, c.want)
		}
	}
}
