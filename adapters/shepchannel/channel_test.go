package shepchannel_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/shepchannel"
	"github.com/minfin-kz/kopir/adapters/signing"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

const (
	svcSync  = "MINFIN_TaxDebtSync"   // an inbound route answered synchronously
	svcAsync = "MINFIN_PaymentNotify" // an inbound route delivered in the background
)

func channelOpts() shepchannel.ChannelOptions {
	return shepchannel.ChannelOptions{
		Senders: []shepchannel.SenderAuth{
			{ID: "demo-agency", Password: "demo-secret"},
			{ID: "narrow", Password: "p", Services: []string{svcAsync}},
		},
		StatusRoutes: []string{"egov.async"},
		MaxBody:      64 << 10,
	}
}

// channelServer mounts the channel under /shep the way the core does,
// its public address the test server's.
func channelServer(t testing.TB, o shepchannel.ChannelOptions, requireSig bool, in adapters.Intake) (*shepchannel.Channel, *httptest.Server) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	if o.PublicURL == "" {
		o.PublicURL = srv.URL + "/shep"
	}
	var ch *shepchannel.Channel
	if requireSig {
		ch = requireSignatures(t, o)
	} else {
		var err error
		if ch, err = shepchannel.NewChannel(o); err != nil {
			t.Fatal(err)
		}
		ch.SetTrust(fixture(t).trust)
	}
	mount(mux, ch, in)
	return ch, srv
}

// serve mounts the channel on a test server of its own.
func serve(t testing.TB, ch *shepchannel.Channel, in adapters.Intake) *httptest.Server {
	mux := http.NewServeMux()
	mount(mux, ch, in)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// mount mounts the channel under /shep the way the core does, logging
// nowhere.
func mount(mux *http.ServeMux, ch *shepchannel.Channel, in adapters.Intake) {
	ch.Log = slog.New(slog.DiscardHandler)
	for pattern, h := range ch.Routes(in) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" /shep"+path, h)
	}
}

// requireSignatures builds a channel that refuses unsigned messages, with
// the trust store loaded from PEM files as in a deployment. Senders
// without signers of their own are bound to the demo agency and to the
// gateway that pushes on its behalf.
func requireSignatures(t testing.TB, o shepchannel.ChannelOptions) *shepchannel.Channel {
	t.Helper()
	o.RequireSignature = true
	o.Trust = trustFiles(t)
	o.Senders = append([]shepchannel.SenderAuth(nil), o.Senders...)
	for i := range o.Senders {
		if o.Senders[i].Signers == nil {
			o.Senders[i].Signers = &adapters.CertBinding{BINs: []string{agencyBIN, gatewayBIN}}
		}
	}
	ch, err := shepchannel.NewChannel(o)
	if err != nil {
		t.Fatal(err)
	}
	ch.SetTrust(fixture(t).trust) // adds the CRL of the fixture
	return ch
}

// trustFiles writes the fixture's root as a deployment keeps it.
func trustFiles(t testing.TB) *signing.TrustConfig {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: fixture(t).ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &signing.TrustConfig{TrustConfig: xmlsig.TrustConfig{Roots: []string{root}, Policy: xmlsig.PolicySigning}}
}

func syncEnvelope(t testing.TB, id, service, sender, password, data string) []byte {
	t.Helper()
	b, err := shep.MarshalSendMessage(&shep.Request{
		Info: shep.NewInfo(id, "corr-"+id, service, sender, password, time.Now()),
		Data: shep.Payload{Value: &shep.AnyXML{InnerXML: data}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signWith(t testing.TB, s xmlsig.Signer, env []byte) []byte {
	t.Helper()
	b, err := xmlsig.Sign(env, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func postXML(t testing.TB, url string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Post(url, "text/xml; charset=utf-8", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// faultOf checks the SOAP 1.1 fault shape and returns faultcode and the
// errorCode of its detail.
func faultOf(t testing.TB, status int, h http.Header, body []byte) (string, string) {
	t.Helper()
	if status != http.StatusInternalServerError || !strings.HasPrefix(h.Get("Content-Type"), "text/xml") {
		t.Fatalf("want HTTP 500 text/xml fault, got %d %s\n%s", status, h.Get("Content-Type"), body)
	}
	_, err := shep.ParseOp(body, shep.Limits, func(xml.Name) any { return nil })
	var f *shep.Fault
	if !errors.As(err, &f) || f.Detail.Info == nil {
		t.Fatalf("not a SOAP fault with detail: %v\n%s", err, body)
	}
	return f.Code, f.Detail.Info.ErrorCode
}

func TestInboundSyncRouteAnswersWithSubscriberData(t *testing.T) {
	in := newIntake(map[string]bool{svcSync: true})
	in.Reply = func(m *adapters.Inbound) (*adapters.Response, error) {
		var msg shepchannel.InboundMessage
		if err := json.Unmarshal(m.Body, &msg); err != nil {
			return nil, err
		}
		return &adapters.Response{Body: json.RawMessage(`{"data":"<debt><bin>` + strings.Split(strings.Split(msg.Data, "<bin>")[1], "</bin>")[0] + `</bin><amount>0</amount></debt>"}`)}, nil
	}
	_, srv := channelServer(t, channelOpts(), false, in)
	env := syncEnvelope(t, "m-1", svcSync, "demo-agency", "demo-secret", "<bin>000740000728</bin>")
	status, h, body := postXML(t, srv.URL+"/shep/sync", env)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	var data shep.RawData
	info, err := shep.ParseResponse(body, &data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status.Code != shep.StatusSuccess || info.CorrelationId != "m-1" || info.MessageId != h.Get("X-Kopir-Message-Id") ||
		data.InnerXML != "<debt><bin>000740000728</bin><amount>0</amount></debt>" {
		t.Fatalf("%+v %q", info, data.InnerXML)
	}
	// What the subscriber received.
	var msg shepchannel.InboundMessage
	if err := json.Unmarshal(in.Called()[0].Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Operation != "SendMessage" || msg.ServiceID != svcSync || msg.MessageID != "m-1" || msg.CorrelationID != "corr-m-1" ||
		msg.SenderID != "demo-agency" || msg.Data != "<bin>000740000728</bin>" || msg.MessageDate == "" {
		t.Fatalf("%+v", msg)
	}
	if in.Called()[0].ExternalID != "m-1" || in.Called()[0].Key != svcSync || len(in.Called()[0].Raw) == 0 {
		t.Fatalf("%+v", in.Called()[0])
	}
	// A repeat gets the first answer and does not reach the subscriber.
	status, _, again := postXML(t, srv.URL+"/shep/sync", env)
	if status != 200 || !bytes.Equal(again, body) {
		t.Fatalf("repeat answered %d, differently:\n%s\n%s", status, body, again)
	}
	if _, called, _ := counts(in); called != 1 {
		t.Fatalf("subscriber called %d times", called)
	}
}

func TestInboundSyncNonXMLReplyIsCarriedAsText(t *testing.T) {
	in := newIntake(map[string]bool{svcSync: true})
	_, srv := channelServer(t, channelOpts(), false, in)
	_, _, body := postXML(t, srv.URL+"/shep/sync", syncEnvelope(t, "m-2", svcSync, "demo-agency", "demo-secret", "<x/>"))
	var data shep.RawData
	if _, err := shep.ParseResponse(body, &data); err != nil || data.InnerXML != `{&#34;ok&#34;:true}` {
		t.Fatalf("%v %q", err, data.InnerXML)
	}
}

// A sync call that failed on the ministry's side answered the sender a
// fault, not a result: its repeat is delivered again, as the core's intake
// does, and neither is the sender's fault.
func TestInboundSyncRepeatAfterSubscriberFailureIsDeliveredAgain(t *testing.T) {
	in := newIntake(map[string]bool{svcSync: true})
	calls := 0
	in.Reply = func(*adapters.Inbound) (*adapters.Response, error) {
		calls++
		return nil, &adapters.Error{Status: 502, Detail: "subscriber down"}
	}
	_, srv := channelServer(t, channelOpts(), false, in)
	env := syncEnvelope(t, "m-3", svcSync, "demo-agency", "demo-secret", "<x/>")
	for i := 0; i < 2; i++ {
		status, h, body := postXML(t, srv.URL+"/shep/sync", env)
		code, ec := faultOf(t, status, h, body)
		if code != "soap:Server" || ec != shepchannel.CodeDeliveryFailed {
			t.Fatalf("%s %s", code, ec)
		}
	}
	if calls != 2 || len(in.Rejected()) != 0 {
		t.Fatalf("subscriber called %d times, %d rejections: our failure is not the sender's", calls, len(in.Rejected()))
	}
}

func TestInboundSyncToAsyncRouteAcknowledgesOnce(t *testing.T) {
	in := newIntake(map[string]bool{svcAsync: false})
	_, srv := channelServer(t, channelOpts(), false, in)
	env := syncEnvelope(t, "m-4", svcAsync, "demo-agency", "demo-secret", "<payment>1</payment>")
	status, h, first := postXML(t, srv.URL+"/shep/sync", env)
	if status != 200 {
		t.Fatalf("%d %s", status, first)
	}
	var data shep.RawData
	info, err := shep.ParseResponse(first, &data)
	accepted := in.Accepted()
	if err != nil || len(accepted) != 1 || info.MessageId != accepted[0].ID || h.Get("X-Kopir-Message-Id") != accepted[0].ID || !strings.Contains(data.InnerXML, "<status>QUEUED</status>") {
		t.Fatalf("%v %+v %s", err, info, data.InnerXML)
	}
	_, _, second := postXML(t, srv.URL+"/shep/sync", env)
	if !bytes.Equal(first, second) {
		t.Fatalf("repeat got another acknowledgement:\n%s\n%s", first, second)
	}
	if accepted, _, _ := counts(in); accepted != 1 {
		t.Fatalf("accepted %d times", accepted)
	}
}

func TestInboundStoreDownIsOurFault(t *testing.T) {
	in := newIntake(map[string]bool{svcAsync: false})
	in.Fail(errors.New("store is down"))
	_, srv := channelServer(t, channelOpts(), false, in)
	status, h, body := postXML(t, srv.URL+"/shep/sync", syncEnvelope(t, "m-5", svcAsync, "demo-agency", "demo-secret", "<x/>"))
	if code, ec := faultOf(t, status, h, body); code != "soap:Server" || ec != shepchannel.CodeUnavailable {
		t.Fatalf("%s %s", code, ec)
	}
	if len(in.Rejected()) != 0 {
		t.Fatal("a store failure must not be recorded as the sender's REJECTED message")
	}
}

// The mock gateway pushes over real HTTP, signed with the gateway's key,
// as SHEP does for a service the ministry exposes.
func TestGatewayPushesToChannel(t *testing.T) {
	f := fixture(t)
	in := newIntake(map[string]bool{svcAsync: false, svcSync: true})
	_, ch := channelServer(t, channelOpts(), true, in)
	gw := mockServer(t, shepgw.Options{Signer: f.gateway, PushURL: ch.URL + "/shep"})

	push := func(body string) shepgw.PushResult {
		t.Helper()
		resp, err := http.Post(gw.URL+"/_control/shep/push", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r shepgw.PushResult
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		return r
	}
	r := push(`{"serviceId":"` + svcAsync + `","messageId":"push-1","data":"<payment><iin>931002451325</iin></payment>","dataType":{"namespace":"urn:minfin","name":"Payment"}}`)
	if r.Status != 200 || !strings.Contains(r.Response, "sendMessageResponse") || !strings.Contains(r.Response, "<messageId>push-1</messageId>") {
		t.Fatalf("%+v", r)
	}
	var msg shepchannel.InboundMessage
	if err := json.Unmarshal(in.Accepted()[0].Body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Operation != "sendMessage" || msg.MessageType != "REQUEST" || msg.SenderID != "demo-agency" || !strings.Contains(msg.Signer, "shep-gateway") ||
		msg.DataType == nil || msg.DataType.Namespace != "urn:minfin" || msg.DataType.Name != "Payment" || !strings.Contains(msg.Data, "931002451325") {
		t.Fatalf("%+v", msg)
	}
	again := push(`{"serviceId":"` + svcAsync + `","messageId":"push-1","data":"<payment/>"}`)
	if again.Response != r.Response {
		t.Fatalf("repeat got another acknowledgement:\n%s\n%s", r.Response, again.Response)
	}
	if accepted, _, _ := counts(in); accepted != 1 {
		t.Fatalf("accepted %d", accepted)
	}
	// SyncChannel push to a sync route.
	r = push(`{"serviceId":"` + svcSync + `","delivery":"sync","data":"<q/>"}`)
	if r.Status != 200 || !strings.Contains(r.Response, "SendMessageResponse") {
		t.Fatalf("%+v", r)
	}
	// Unsigned, where signatures are required: refused and stored REJECTED.
	r = push(`{"serviceId":"` + svcAsync + `","data":"<q/>","sign":false}`)
	if r.Status != 500 || !strings.Contains(r.Response, string(xmlsig.ReasonMissing)) {
		t.Fatalf("%+v", r)
	}
	if rj := lastRejection(t, in); rj.ExternalID != r.MessageID {
		t.Fatalf("%+v", rj)
	}
}

func TestStatusNotificationAnnotatesOutboundMessage(t *testing.T) {
	f := fixture(t)
	in := newIntake(nil)
	in.SentAs("bus-out-1", "egov.async", "out-1", nil)
	_, ch := channelServer(t, channelOpts(), true, in)
	gw := mockServer(t, shepgw.Options{Signer: f.gateway, PushURL: ch.URL + "/shep"})
	notify := func(body string) shepgw.PushResult {
		t.Helper()
		resp, err := http.Post(gw.URL+"/_control/shep/notify", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r shepgw.PushResult
		json.NewDecoder(resp.Body).Decode(&r)
		return r
	}
	r := notify(`{"messageId":"out-1","state":"DELIVERED"}`)
	if r.Status != 200 || !strings.Contains(r.Response, "changeMassageStatusNotificationResponse") {
		t.Fatalf("%+v", r)
	}
	if ev := in.Actions("bus-out-1", "SHEP_STATUS"); len(ev) != 1 || !strings.HasPrefix(ev[0], "DELIVERED SCSS001") {
		t.Fatalf("%+v", ev)
	}
	r = notify(`{"messageId":"never-sent","state":"NOT_DELIVERED"}`)
	if r.Status != 500 || !strings.Contains(r.Response, shepchannel.CodeUnknownMessage) || !strings.Contains(r.Response, "changeMassageStatusNotificationFault1_changeMassageStatusNotificationFault") {
		t.Fatalf("%+v", r)
	}
	// The notification names no sender; without the gateway's signature
	// nobody vouches for it.
	r = notify(`{"messageId":"out-1","sign":false}`)
	if r.Status != 500 || !strings.Contains(r.Response, string(xmlsig.ReasonMissing)) {
		t.Fatalf("%+v", r)
	}
}

func TestPollerTakesQueuedMessages(t *testing.T) {
	in := newIntake(map[string]bool{svcAsync: false})
	gw := mockServer(t, shepgw.Options{})
	o := channelOpts()
	o.Poll = &shepchannel.PollConfig{Endpoint: gw.URL + "/shep/async", SenderID: "kopir", Password: "kopir-secret", ServiceIDs: []string{svcAsync, "MINFIN_Unrouted"}, Amount: 2}
	ch, err := shepchannel.NewChannel(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Provision(adaptertest.Resources(t)); err != nil {
		t.Fatal(err)
	}
	queue := func(service, id string) {
		t.Helper()
		resp, err := http.Post(gw.URL+"/_control/shep/push", "application/json",
			strings.NewReader(`{"delivery":"queue","serviceId":"`+service+`","messageId":"`+id+`","data":"<n>`+id+`</n>"}`))
		if err != nil || resp.StatusCode != 200 {
			t.Fatal(err, resp.StatusCode)
		}
		resp.Body.Close()
	}
	for _, id := range []string{"q-1", "q-2", "q-3"} {
		queue(svcAsync, id)
	}
	queue("MINFIN_Unrouted", "q-x")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx, in) }()
	waitFor(t, func() bool { a, _, r := counts(in); return a == 3 && r == 1 })
	waitFor(t, func() bool { return len(held(t, gw.URL).Waiting) == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rj := lastRejection(t, in); rj.ExternalID != "q-x" || !strings.Contains(rj.Reason.Error(), shepchannel.CodeUnknownService) {
		t.Fatalf("%+v", rj)
	}

	// Our store failing: not accepted, the gateway keeps it for later.
	in.Fail(errors.New("store is down"))
	queue(svcAsync, "q-4")
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- ch.Run(ctx2, in) }()
	waitFor(t, func() bool { w := held(t, gw.URL).Waiting; return len(w) == 1 && w[0].Offered >= 1 })
	cancel2()
	<-done
	if a, _, _ := counts(in); a != 3 {
		t.Fatalf("accepted %d", a)
	}
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

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func asyncPush(t testing.TB, id, service, msgType, data string) []byte {
	t.Helper()
	b, err := shep.MarshalAsyncSendMessage(shep.NSAsyncClient, &shep.AsyncMessage{Info: shepasync.AsyncMessageInfo{
		MessageId: id, ServiceId: service, MessageType: msgType, MessageDate: soap.CreateXsdDateTime(time.Now(), true),
		Sender: &shepasync.SenderInfo{SenderId: "demo-agency", Password: "demo-secret"},
	}, Data: shep.Payload{Value: &shep.AnyXML{InnerXML: data}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every kind of bad input gets a precise fault, is stored REJECTED, and the
// channel keeps serving.
func TestBadInputIsRefusedPrecisely(t *testing.T) {
	f := fixture(t)
	in := newIntake(map[string]bool{svcAsync: false})
	o := channelOpts()
	o.MaxBody = 4 << 10
	_, plain := channelServer(t, o, false, in)
	_, signed := channelServer(t, o, true, in)

	good := func(id string) []byte { return syncEnvelope(t, id, svcAsync, "demo-agency", "demo-secret", "<x/>") }
	replace := func(b []byte, old, new string) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	signedBy := func(s xmlsig.Signer, id string) []byte { return signWith(t, s, good(id)) }
	tampered := replace(signedBy(f.sender, "b-t"), "<x/>", "<x>1</x>")

	cases := []struct {
		name   string
		srv    string
		path   string
		body   []byte
		code   string
		extID  string
		detail string
	}{
		{"malformed XML", plain.URL, "/sync", []byte("<soap:Envelope><oops>"), "KOPIR_XML_SYNTAX", "", ""},
		{"DOCTYPE", plain.URL, "/sync", append([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>`), good("b-d")[38:]...), "KOPIR_XML_DOCTYPE", "", "DTD"},
		{"body over limit", plain.URL, "/sync", replace(good("b-l"), "<x/>", "<x>"+strings.Repeat("a", 5000)+"</x>"), shepchannel.CodeBodyTooLarge, "", "4096"},
		{"wrong namespace", plain.URL, "/sync", replace(good("b-n"), shep.NSTypes, "http://bip.bee.kz/SyncChannel/v9/Types"), shepchannel.CodeUnknownOperation, "", "v9"},
		{"missing messageId", plain.URL, "/sync", replace(good("b-m"), "<messageId>b-m</messageId>", ""), shepchannel.CodeInvalidEnvelope, "", "messageId"},
		{"missing requestData", plain.URL, "/sync", replace(replace(good("b-r"), "<requestData><data><x/></data>", ""), "</requestData>", ""), shepchannel.CodeInvalidEnvelope, "b-r", "requestData"},
		{"bad messageDate", plain.URL, "/sync", bytesReplaceDate(good("b-date")), shepchannel.CodeInvalidEnvelope, "b-date", "messageDate"},
		{"unknown serviceId", plain.URL, "/sync", syncEnvelope(t, "b-u", "NOPE", "demo-agency", "demo-secret", "<x/>"), shepchannel.CodeUnknownService, "b-u", "NOPE"},
		{"wrong password", plain.URL, "/sync", syncEnvelope(t, "b-p", svcAsync, "demo-agency", "guess", "<x/>"), shepchannel.CodeAuthFailed, "b-p", ""},
		{"unknown sender", plain.URL, "/sync", syncEnvelope(t, "b-s", svcAsync, "stranger", "x", "<x/>"), shepchannel.CodeAuthFailed, "b-s", ""},
		{"sender id of 64 KiB", plain.URL, "/sync", syncEnvelope(t, "b-sl", svcAsync, strings.Repeat("s", 64<<10), "x", "<x/>"), shepchannel.CodeBodyTooLarge, "", ""},
		{"sender id of 300 bytes", plain.URL, "/sync", syncEnvelope(t, "b-sm", svcAsync, strings.Repeat("s", 300), "x", "<x/>"), shepchannel.CodeInvalidEnvelope, "b-sm", "senderId"},
		{"sender not allowed this service", plain.URL, "/sync", syncEnvelope(t, "b-a", "MINFIN_Other", "narrow", "p", "<x/>"), shepchannel.CodeAuthFailed, "b-a", "may not use"},
		{"property too long", plain.URL, "/sync", replace(good("b-pr"), "</sender>", "</sender><properties><key>"+strings.Repeat("k", 31)+"</key><value>v</value></properties>"), shepchannel.CodeInvalidEnvelope, "b-pr", "30"},
		{"unsigned", signed.URL, "/sync", good("b-us"), string(xmlsig.ReasonMissing), "b-us", ""},
		{"tampered", signed.URL, "/sync", tampered, string(xmlsig.ReasonInvalid), "b-t", "changed"},
		{"expired certificate", signed.URL, "/sync", signedBy(f.expired, "b-e"), string(xmlsig.ReasonExpired), "b-e", "expired"},
		{"untrusted certificate", signed.URL, "/sync", signedBy(f.untrusted, "b-un"), string(xmlsig.ReasonUntrusted), "b-un", ""},
		{"revoked certificate", signed.URL, "/sync", signedBy(f.revoke, "b-rv"), string(xmlsig.ReasonRevoked), "b-rv", "revoked"},
		{"policy missing", signed.URL, "/sync", signedBy(f.noPolicy, "b-pol"), string(xmlsig.ReasonPolicy), "b-pol", xmlsig.PolicySigning},
		{"async unknown operation", plain.URL, "/async", bytes.ReplaceAll(asyncPush(t, "b-o", svcAsync, "REQUEST", "<x/>"), []byte("ns2:sendMessage"), []byte("ns2:sendMessages")), shepchannel.CodeUnknownOperation, "", ""},
		{"async bad messageType", plain.URL, "/async", asyncPush(t, "b-mt", svcAsync, "QUESTION", "<x/>"), shepchannel.CodeInvalidEnvelope, "b-mt", "messageType"},
		{"async without data", plain.URL, "/async", replace(asyncPush(t, "b-nd", svcAsync, "REQUEST", "<x/>"), "<data><x/></data>", ""), shepchannel.CodeInvalidEnvelope, "b-nd", "data"},
		{"async unknown serviceId", plain.URL, "/async", asyncPush(t, "b-as", "NOPE", "REQUEST", "<x/>"), shepchannel.CodeUnknownService, "b-as", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(in.Rejected())
			status, h, body := postXML(t, c.srv+"/shep"+c.path, c.body)
			code, ec := faultOf(t, status, h, body)
			if code != "soap:Client" || ec != c.code {
				t.Fatalf("faultcode %s errorCode %s, want soap:Client %s\n%s", code, ec, c.code, body)
			}
			if c.detail != "" && !strings.Contains(string(body), c.detail) {
				t.Fatalf("fault does not say %q:\n%s", c.detail, body)
			}
			if len(in.Rejected()) != before+1 {
				t.Fatal("not recorded as REJECTED")
			}
			rj := lastRejection(t, in)
			if rj.ExternalID != c.extID || h.Get("X-Kopir-Message-Id") != rj.ID || !strings.Contains(rj.Reason.Error(), c.code) {
				t.Fatalf("rejection %+v (id %s)", rj, h.Get("X-Kopir-Message-Id"))
			}
		})
	}
	if accepted, called, _ := counts(in); accepted != 0 || called != 0 {
		t.Fatalf("a refused message reached the subscriber: %d accepted, %d called", accepted, called)
	}
	// Still serving, signed and unsigned.
	for _, srv := range []string{plain.URL, signed.URL} {
		if status, _, body := postXML(t, srv+"/shep/sync", signedBy(f.sender, "ok-"+srv[len(srv)-5:])); status != 200 {
			t.Fatalf("%d %s", status, body)
		}
	}
}

func bytesReplaceDate(b []byte) []byte {
	s := string(b)
	i := strings.Index(s, "<messageDate>") + len("<messageDate>")
	j := strings.Index(s, "</messageDate>")
	return []byte(s[:i] + "{self.dateToBody}" + s[j:])
}

func TestChannelServesWSDL(t *testing.T) {
	_, srv := channelServer(t, channelOpts(), false, newIntake(nil))
	for path, want := range map[string]string{
		"/shep/sync?wsdl":  `location="` + srv.URL + `/shep/sync"`,
		"/shep/async?wsdl": "changeMassageStatusNotification",
		"/shep/sync?file=SyncChannel/v10/Interfaces/ISyncChannel.wsdl": "SendMessage",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, lacks %q", path, resp.StatusCode, want)
		}
	}
	resp, _ := http.Get(srv.URL + "/shep/async?wsdl")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `location="`+srv.URL+`/shep/async"`) {
		t.Errorf("soap:address not rewritten to the endpoint:\n%s", b)
	}
}

func TestChannelOptions(t *testing.T) {
	f, ok := adapters.LookupChannel("shep")
	if !ok {
		t.Fatal("shep channel not registered")
	}
	sum := sha256.Sum256([]byte("s3cret"))
	good := "senders:\n  - id: a\n    passwordSHA256: " + hex.EncodeToString(sum[:]) + "\nmaxBody: 256KiB\nstatusRoutes: [r]\n"
	if _, err := f(adapters.ChannelConfig{Options: adaptertest.Options(good)}, adaptertest.Resources(t)); err != nil {
		t.Fatal(err)
	}
	for name, y := range map[string]string{
		"unknown key":             good + "bogus: 1\n",
		"no senders":              "maxBody: 1MiB\n",
		"signature without trust": good + "requireSignature: true\n",
		"bad hash":                "senders:\n  - id: a\n    passwordSHA256: abc\n",
		"both passwords":          "senders:\n  - id: a\n    password: x\n    passwordSHA256: " + hex.EncodeToString(sum[:]) + "\n",
		"bad size":                good + "maxBody: lots\n",
		"trust file missing":      good + "trust: {roots: [/nonexistent.pem]}\n",
		"poll without endpoint":   good + "poll: {senderId: k, serviceIds: [S]}\n",
		"poll with bad interval":  good + "poll: {endpoint: http://x, senderId: k, serviceIds: [S], interval: soon}\n",
		"sender without password": "senders:\n  - id: a\n",
		"duplicate sender":        "senders:\n  - {id: a, password: x}\n  - {id: a, password: y}\n",
	} {
		if _, err := f(adapters.ChannelConfig{Options: adaptertest.Options(y)}, adaptertest.Resources(t)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The hashed password authenticates.
	ch, err := f(adapters.ChannelConfig{Options: adaptertest.Options(good)}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	in := newIntake(map[string]bool{svcAsync: false})
	mux := http.NewServeMux()
	for p, h := range ch.Routes(in) {
		m, path, _ := strings.Cut(p, " ")
		mux.Handle(m+" "+path, h)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if status, _, body := postXML(t, srv.URL+"/sync", syncEnvelope(t, "h-1", svcAsync, "a", "s3cret", "<x/>")); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
}

// The contract's XSD (libxml2) catches what the typed decode lets
// through: elements the schema does not allow, facets, types.
func TestEnvelopesAreValidatedAgainstTheXSD(t *testing.T) {
	in := newIntake(map[string]bool{svcAsync: false})
	_, srv := channelServer(t, channelOpts(), false, in)
	replace := func(b []byte, old, new string) []byte { return bytes.Replace(b, []byte(old), []byte(new), 1) }
	for name, c := range map[string]struct {
		path string
		env  []byte
		want string
	}{
		"unexpected element in requestInfo": {"/sync", replace(syncEnvelope(t, "x-1", svcAsync, "demo-agency", "demo-secret", "<x/>"), "</serviceId>", "</serviceId><priority>1</priority>"), "priority"},
		"requestInfo out of order":          {"/sync", replace(replace(syncEnvelope(t, "x-2", svcAsync, "demo-agency", "demo-secret", "<x/>"), "<messageId>x-2</messageId>", ""), "</serviceId>", "</serviceId><messageId>x-2</messageId>"), "messageId"},
		"push: sender without senderId":     {"/async", replace(asyncPush(t, "x-3", svcAsync, "REQUEST", "<x/>"), "<senderId>demo-agency</senderId>", ""), "senderId"},
		"push: unexpected element":          {"/async", replace(asyncPush(t, "x-4", svcAsync, "REQUEST", "<x/>"), "</messageType>", "</messageType><urgent/>"), "urgent"},
	} {
		t.Run(name, func(t *testing.T) {
			status, h, body := postXML(t, srv.URL+"/shep"+c.path, c.env)
			if _, code := faultOf(t, status, h, body); code != shepchannel.CodeInvalidEnvelope || !strings.Contains(string(body), "schema") || !strings.Contains(string(body), c.want) {
				t.Fatalf("%s\n%s", code, body)
			}
		})
	}
	if accepted, _, _ := counts(in); accepted != 0 {
		t.Fatal("an invalid envelope was accepted")
	}
	// Valid ones pass.
	if status, _, body := postXML(t, srv.URL+"/shep/async", asyncPush(t, "x-5", svcAsync, "REQUEST", "<x/>")); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
}
