package shepchannel_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/shepchannel"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep/sheptest"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// codeOf is the fault a wrapping form is refused with.
// codeOf is the fault a signed wrapping form is refused with: what aims
// at the signature (an Id twice, a displaced Body) is SIGNATURE_WRAPPING.
var codeOf = map[string]string{
	sheptest.Structure:     shepchannel.CodeEnvelopeStructure,
	sheptest.DuplicateID:   string(xmlsig.ReasonWrapping),
	sheptest.DisplacedBody: string(xmlsig.ReasonWrapping),
	sheptest.Wrapping:      string(xmlsig.ReasonWrapping),
}

// refusedAs posts body and checks the fault code, that the refusal is
// stored REJECTED, and that nothing reached the subscriber.
func refusedAs(t *testing.T, in *adaptertest.Intake, url string, body []byte, want string) {
	t.Helper()
	accepted, called, rejected := counts(in)
	status, h, resp := postXML(t, url, body)
	if code, ec := faultOf(t, status, h, resp); code != "soap:Client" || ec != want {
		t.Fatalf("faultcode %s errorCode %s, want soap:Client %s\n%s", code, ec, want, resp)
	}
	a, c, r := counts(in)
	if r != rejected+1 || lastRejection(t, in).ID != h.Get("X-Kopir-Message-Id") {
		t.Fatal("the refusal was not stored as REJECTED")
	}
	if a != accepted || c != called {
		t.Fatal("a refused message reached the subscriber")
	}
}

// Every XML signature wrapping form, on both operations that carry a
// sender's message, gets its precise fault and is stored REJECTED, and
// the channel goes on serving genuine messages.
func TestSignatureWrappingIsRefusedInEveryForm(t *testing.T) {
	f := fixture(t)
	in := newIntake(map[string]bool{svcAsync: false})
	_, signed := channelServer(t, channelOpts(), true, in)
	_, plain := channelServer(t, channelOpts(), false, in)
	sign := func(b []byte) []byte { return signWith(t, f.sender, b) }
	invalid := func(b []byte, after, extra string) []byte {
		return bytes.Replace(b, []byte(after), []byte(after+extra), 1)
	}
	ops := []struct {
		path           string
		valid, invalid []byte
	}{
		{"/sync", syncEnvelope(t, "w-1", svcAsync, "demo-agency", "demo-secret", "<x/>"), invalid(syncEnvelope(t, "w-1", svcAsync, "demo-agency", "demo-secret", "<x/>"), "</serviceId>", "<priority>1</priority>")},
		{"/async", asyncPush(t, "w-2", svcAsync, "REQUEST", "<x/>"), invalid(asyncPush(t, "w-2", svcAsync, "REQUEST", "<x/>"), "</messageType>", "<urgent/>")},
	}
	for _, op := range ops {
		for _, form := range sheptest.WrappingForms(op.valid, op.invalid, sign) {
			t.Run(op.path+" "+form.Name, func(t *testing.T) {
				refusedAs(t, in, signed.URL+"/shep"+op.path, form.Envelope, codeOf[form.Want])
			})
		}
		// Where signatures are optional the same shapes are no better off;
		// unsigned, they are named for what they are.
		unsignedCode := map[string]string{sheptest.Structure: shepchannel.CodeEnvelopeStructure, sheptest.DuplicateID: shepchannel.CodeDuplicateID, sheptest.DisplacedBody: shepchannel.CodeEnvelopeStructure}
		withID := func(b []byte) []byte { // unsigned, but with a Body Id to duplicate
			return bytes.Replace(b, []byte("<soap:Body>"), []byte(`<soap:Body xmlns:wsu="`+xmlsig.NSWSU+`" wsu:Id="id-unsigned">`), 1)
		}
		for _, form := range sheptest.WrappingForms(op.valid, op.invalid, withID) {
			if code, ok := unsignedCode[form.Want]; ok {
				t.Run(op.path+" unsigned "+form.Name, func(t *testing.T) {
					refusedAs(t, in, plain.URL+"/shep"+op.path, form.Envelope, code)
				})
			}
		}
	}
	for _, srv := range []string{signed.URL, plain.URL} {
		if status, _, body := postXML(t, srv+"/shep/sync", sign(syncEnvelope(t, "w-ok-"+srv[len(srv)-5:], svcAsync, "demo-agency", "demo-secret", "<x/>"))); status != 200 {
			t.Fatalf("a genuine message after the attacks: %d %s", status, body)
		}
	}
}

// A valid, trusted signature of another organisation than the sender's is
// refused; the sender's own BIN (in the serialNumber, or in the
// organizationalUnit of an employee's certificate), a bound IIN or a bound
// subject signs.
func TestSigningCertificateIsBoundToTheSender(t *testing.T) {
	f := fixture(t)
	in := newIntake(map[string]bool{svcAsync: false})
	o := channelOpts()
	o.Senders = []shepchannel.SenderAuth{
		{ID: "demo-agency", Password: "demo-secret", Signers: &adapters.CertBinding{BINs: []string{agencyBIN}}},
		{ID: "by-iin", Password: "p", Signers: &adapters.CertBinding{IINs: []string{employeeIIN}}},
		{ID: "by-subject", Password: "p", Signers: &adapters.CertBinding{Subjects: []string{f.otherOrg.Certificate().Subject.String()}}},
	}
	_, srv := channelServer(t, o, true, in)
	sync := func(id, sender, password string, s xmlsig.Signer) []byte {
		return signWith(t, s, syncEnvelope(t, id, svcAsync, sender, password, "<x/>"))
	}
	for _, c := range []struct {
		name string
		env  []byte
		want string // "" = accepted
	}{
		{"the agency's own certificate", sync("b-1", "demo-agency", "demo-secret", f.sender), ""},
		{"an employee of the agency", sync("b-2", "demo-agency", "demo-secret", f.employee), ""},
		{"another organisation", sync("b-3", "demo-agency", "demo-secret", f.otherOrg), shepchannel.CodeSignerMismatch},
		{"the gateway, not bound here", sync("b-4", "demo-agency", "demo-secret", f.gateway), shepchannel.CodeSignerMismatch},
		{"a person who is not the agency", sync("b-5", "demo-agency", "demo-secret", f.person), shepchannel.CodeSignerMismatch},
		{"a bound IIN", sync("b-6", "by-iin", "p", f.person), ""},
		{"an organisation for an IIN-bound sender", sync("b-7", "by-iin", "p", f.sender), shepchannel.CodeSignerMismatch},
		{"a bound subject", sync("b-8", "by-subject", "p", f.otherOrg), ""},
		{"another subject", sync("b-9", "by-subject", "p", f.sender), shepchannel.CodeSignerMismatch},
		{"a push signed by another organisation", signWith(t, f.otherOrg, asyncPush(t, "b-10", svcAsync, "REQUEST", "<x/>")), shepchannel.CodeSignerMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := "/shep/sync"
			if strings.Contains(string(c.env), "sendMessage") {
				path = "/shep/async"
			}
			if c.want != "" {
				refusedAs(t, in, srv.URL+path, c.env, c.want)
				return
			}
			if status, _, body := postXML(t, srv.URL+path, c.env); status != 200 {
				t.Fatalf("%d %s", status, body)
			}
		})
	}

	// Without requireSignature, a bound sender must still sign; an
	// unbound one may send unsigned.
	lax := channelOpts()
	lax.Trust = trustFiles(t)
	lax.Senders[0].Signers = &adapters.CertBinding{BINs: []string{agencyBIN}}
	_, laxSrv := channelServer(t, lax, false, in)
	refusedAs(t, in, laxSrv.URL+"/shep/sync", syncEnvelope(t, "b-11", svcAsync, "demo-agency", "demo-secret", "<x/>"), string(xmlsig.ReasonMissing))
	if status, _, body := postXML(t, laxSrv.URL+"/shep/sync", syncEnvelope(t, "b-12", svcAsync, "narrow", "p", "<x/>")); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
}

func TestSignerBindingOptions(t *testing.T) {
	trust := trustFiles(t)
	roots := "trust: {roots: [" + trust.Roots[0] + "]}\n"
	for name, c := range map[string]struct {
		yaml string
		want string // "" = accepted
	}{
		"bound by BIN":                {roots + "requireSignature: true\nsenders:\n  - {id: a, password: x, signers: {bins: [\"" + agencyBIN + "\"]}}\n", ""},
		"bound by IIN and subject":    {roots + "senders:\n  - {id: a, password: x, signers: {iins: [\"" + employeeIIN + "\"], subjects: [\"CN=x,C=KZ\"]}}\n", ""},
		"required but not bound":      {roots + "requireSignature: true\nsenders:\n  - {id: a, password: x}\n", ""},
		"bound without trust":         {"senders:\n  - {id: a, password: x, signers: {bins: [\"" + agencyBIN + "\"]}}\n", "needs options.trust"},
		"bad check digit":             {roots + "senders:\n  - {id: a, password: x, signers: {bins: [\"000740000729\"]}}\n", "bins[0]"},
		"IIN in place of a BIN":       {roots + "senders:\n  - {id: a, password: x, signers: {bins: [\"" + employeeIIN + "\"]}}\n", "bins[0]"},
		"empty binding":               {roots + "senders:\n  - {id: a, password: x, signers: {}}\n", "names no bins"},
		"notifications bound":         {roots + "notificationSigners: {bins: [\"" + gatewayBIN + "\"]}\nsenders:\n  - {id: a, password: x}\n", ""},
		"notifications without trust": {"notificationSigners: {bins: [\"" + gatewayBIN + "\"]}\nsenders:\n  - {id: a, password: x}\n", "notificationSigners needs"},
		"public URL with a query":     {"publicURL: http://bus/shep?x=1\nsenders:\n  - {id: a, password: x}\n", "publicURL"},
		"public URL that is relative": {"publicURL: /shep\nsenders:\n  - {id: a, password: x}\n", "publicURL"},
		// BuildChannel's core asks for no client certificates.
		"clients without clientCerts": {"senders:\n  - {id: a, password: x, clients: {bins: [\"" + agencyBIN + "\"]}}\n", "senders[0].clients: the channel asks for no client certificates"},
		"clients bad check digit":     {"senders:\n  - {id: a, password: x, clients: {bins: [\"000740000729\"]}}\n", "clients: bins[0]"},
	} {
		_, err := adaptertest.BuildChannel(t, shepchannel.ChannelName, c.yaml)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
}

// The WSDL names the configured public address, whatever Host the caller
// sends; without one, the address the core gives from the listener.
func TestWSDLAddressComesFromConfig(t *testing.T) {
	get := func(h http.Handler, path, host string) string {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Host = host
		req.Header.Set("X-Forwarded-Host", host)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: %d", path, rec.Code)
		}
		return rec.Body.String()
	}
	f, _ := adapters.LookupChannel(shepchannel.ChannelName)
	for _, c := range []struct {
		options, base, want string
	}{
		{"publicURL: https://bus.minfin.example/shep/\n", "http://127.0.0.1:8081/shep", "https://bus.minfin.example/shep"},
		{"", "http://127.0.0.1:18081/in/shep", "http://127.0.0.1:18081/in/shep"},
	} {
		ch, err := f(adapters.ChannelConfig{Name: "shep", BaseURL: c.base, Options: adaptertest.Options(c.options + "senders: [{id: a, password: x}]\n")}, adaptertest.Resources(t))
		if err != nil {
			t.Fatal(err)
		}
		routes := ch.Routes(newIntake(nil))
		for pattern, path := range map[string]string{"GET /sync": "/sync", "GET /async": "/async"} {
			wsdl := get(routes[pattern], "/shep"+path+"?wsdl", "attacker.example")
			if !strings.Contains(wsdl, `location="`+c.want+path+`"`) || strings.Contains(wsdl, "attacker.example") {
				t.Errorf("%s: soap:address is not %s%s, or names the caller's host:\n%s", pattern, c.want, path, wsdl)
			}
		}
		imported := get(routes["GET /sync"], "/shep/sync?file=SyncChannel/v10/Interfaces/ISyncChannel.wsdl", "attacker.example")
		if strings.Contains(imported, "attacker.example") || !strings.Contains(imported, c.want+"/sync?file=") {
			t.Errorf("imports do not point at %s/sync:\n%.600s", c.want, imported)
		}
	}
}

// The channel logs through the logger the core gives it, as JSON with the
// message's correlation id; before that it logs nothing, and never to the
// process-wide default logger.
func TestChannelLogsJSONWithCorrelationID(t *testing.T) {
	var def bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&def, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	var out bytes.Buffer
	in := newIntake(map[string]bool{svcAsync: false})
	ch, err := shepchannel.NewChannel(channelOpts())
	if err != nil {
		t.Fatal(err)
	}
	unprovisioned := httptest.NewRecorder()
	ch.Routes(in)["POST /sync"].ServeHTTP(unprovisioned, httptest.NewRequest(http.MethodPost, "/shep/sync", strings.NewReader("<oops")))
	if err := ch.Provision(adapters.Resources{Logger: slog.New(slog.NewJSONHandler(&out, nil)).With("component", "channel.shep")}); err != nil {
		t.Fatal(err)
	}
	post := func(body []byte, corr string) {
		req := httptest.NewRequest(http.MethodPost, "/shep/sync", bytes.NewReader(body))
		if corr != "" {
			req.Header.Set("X-Correlation-Id", corr)
		}
		ch.Routes(in)["POST /sync"].ServeHTTP(httptest.NewRecorder(), req)
	}
	post(syncEnvelope(t, "l-1", svcAsync, "demo-agency", "demo-secret", "<x/>"), "")
	post(syncEnvelope(t, "l-2", svcAsync, "demo-agency", "wrong", "<x/>"), "")
	post([]byte("<not-soap"), "trace-42")
	post([]byte("<not-soap"), "")

	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON log line: %q", sc.Text())
		}
		lines = append(lines, l)
	}
	if len(lines) != 4 {
		t.Fatalf("%d log lines, want one per message:\n%s", len(lines), out.String())
	}
	rejected := in.Rejected()
	for i, want := range []string{"corr-l-1", "corr-l-2", "trace-42", rejected[len(rejected)-1].ID} {
		l := lines[i]
		if l["correlationId"] != want || l["component"] != "channel.shep" || l["kopirMessageId"] == "" {
			t.Errorf("line %d: correlationId %v, want %s: %v", i, l["correlationId"], want, l)
		}
	}
	if lines[1]["code"] != shepchannel.CodeAuthFailed || lines[1]["msg"] != "shep: inbound message refused" {
		t.Errorf("%v", lines[1])
	}
	if def.Len() > 0 {
		t.Errorf("the channel logged to the process-wide default logger:\n%s", def.String())
	}
	io.Copy(io.Discard, unprovisioned.Result().Body)
}

// A status notification names no sender; with notificationSigners only
// the gateway's certificate may report a message's fate.
func TestStatusNotificationsBoundToTheGateway(t *testing.T) {
	f := fixture(t)
	in := newIntake(nil)
	in.SentAs("bus-out-2", "egov.async", "out-2", nil)
	o := channelOpts()
	o.NotificationSigners = &adapters.CertBinding{BINs: []string{gatewayBIN}}
	_, ch := channelServer(t, o, true, in)
	notify := func(s xmlsig.Signer) shepgw.PushResult {
		t.Helper()
		gw := mockServer(t, shepgw.Options{Signer: s, PushURL: ch.URL + "/shep"})
		resp, err := http.Post(gw.URL+"/_control/shep/notify", "application/json", strings.NewReader(`{"messageId":"out-2","state":"DELIVERED"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r shepgw.PushResult
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := notify(f.otherOrg); r.Status != 500 || !strings.Contains(r.Response, shepchannel.CodeSignerMismatch) {
		t.Fatalf("a notification signed by another participant: %+v", r)
	}
	if rj := lastRejection(t, in); !strings.Contains(rj.Reason.Error(), shepchannel.CodeSignerMismatch) {
		t.Fatalf("%+v", rj)
	}
	if ev := in.Actions("bus-out-2", "SHEP_STATUS"); len(ev) != 0 {
		t.Fatalf("the forged notification was recorded: %v", ev)
	}
	if r := notify(f.gateway); r.Status != 200 || len(in.Actions("bus-out-2", "SHEP_STATUS")) != 1 {
		t.Fatalf("the gateway's notification: %+v", r)
	}
}

// A sender left unbound where signatures are checked is accepted, and
// said at start-up.
func TestUnboundSenderIsWarnedAbout(t *testing.T) {
	var out bytes.Buffer
	f, _ := adapters.LookupChannel(shepchannel.ChannelName)
	res := adaptertest.Resources(t)
	res.Logger = slog.New(slog.NewJSONHandler(&out, nil))
	yaml := "trust: {roots: [" + trustFiles(t).Roots[0] + "]}\nrequireSignature: true\nsenders:\n  - {id: bound, password: x, signers: {bins: [\"" + agencyBIN + "\"]}}\n  - {id: loose, password: y}\n"
	if _, err := f(adapters.ChannelConfig{Name: "shep", Options: adaptertest.Options(yaml)}, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"senderId":"loose"`) || strings.Contains(out.String(), `"senderId":"bound"`) {
		t.Fatalf("start-up warnings:\n%s", out.String())
	}
}
