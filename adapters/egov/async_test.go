package egov_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// demoSigning is Köpir's demo key in mocks/pki, which the mock gateway
// trusts by default (and `make run` uses).
const demoSigning = "\nsigning: {cert: ../../mocks/pki/kopir.pem, key: ../../mocks/pki/kopir.key}"

func asyncAdapter(t testing.TB, opts string) adapters.Adapter {
	t.Helper()
	f, ok := adapters.Lookup("egov-async")
	if !ok {
		t.Fatal("egov-async not registered")
	}
	if !strings.Contains(opts, "poll:") {
		opts += "\npoll: {interval: 5ms, maxInterval: 20ms, timeout: 2s}"
	}
	a, err := f(adapters.AdapterConfig{Operation: "send", Options: yamlOpts("senderId: kopir\npassword: kopir-secret\n" + opts)}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func converse(t testing.TB, a adapters.Adapter, tr adapters.Transport, id, body string) (*egov.AsyncResult, error) {
	t.Helper()
	req := &adapters.Request{MessageID: id, CorrelationID: "corr-" + id, Body: []byte(body)}
	if err := a.(adapters.Validator).Validate(context.Background(), req); err != nil {
		return nil, err
	}
	if req.ExternalID != id {
		t.Fatalf("ExternalID %q: the SHEP messageId must be findable by status notifications", req.ExternalID)
	}
	resp, err := a.(adapters.Conversation).Converse(context.Background(), req, tr)
	if err != nil {
		return nil, err
	}
	var out egov.AsyncResult
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatal(err)
	}
	return &out, nil
}

func asAdapterError(t testing.TB, err error) *adapters.Error {
	t.Helper()
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *adapters.Error, got %T %v", err, err)
	}
	return ae
}

func TestAsyncConversationAgainstMock(t *testing.T) {
	gw := mockServer(t, shepgw.Options{AsyncPolls: 2})
	tr := &adaptertest.Transport{Endpoint: gw.URL + "/shep/async"}
	a := asyncAdapter(t, "serviceId: MOCK_Echo\nproperties: {CONNECTOR_CLIENT: kopir}")
	out, err := converse(t, a, tr, "a-1", `{"data":"<ping>1</ping>","dataType":{"namespace":"urn:t","name":"Ping"},"properties":{"k":"v"}}`)
	if err != nil {
		t.Fatal(err)
	}
	r := out.Response
	if out.State != shep.StateDelivered || out.MessageID != "a-1" || r == nil || r.CorrelationID != "a-1" || r.MessageType != shep.TypeResponse ||
		r.Data != "<ping>1</ping>" || r.ServiceID != "MOCK_Echo" || r.MessageID == "" {
		t.Fatalf("%+v %+v", out, r)
	}
	want := []string{"sendMessage", "getMessageStatus", "getMessageStatus", "getMessageStatus", "getMessages", "sendDeliveryNotification"}
	for _, w := range tr.Sent() {
		if w.Service == "" {
			t.Fatalf("an AsyncChannel exchange names no service for the breaker: %s", opOf(w.Body))
		}
	}
	if strings.Join(ops(tr), ",") != strings.Join(want, ",") {
		t.Fatalf("exchanges %v, want %v", ops(tr), want)
	}
	// The gateway no longer holds the response: it was acknowledged.
	h := held(t, gw.URL)
	if len(h.Waiting) != 0 || len(h.Sent) != 1 || h.Sent[0].State != shep.StateDelivered {
		t.Fatalf("%+v", h)
	}
}

func TestAsyncGBDFLThroughAsyncChannel(t *testing.T) {
	gw := mockServer(t, shepgw.Options{})
	a := asyncAdapter(t, "serviceId: GBDFL_UniversalServiceSync")
	out, err := converse(t, a, &adaptertest.Transport{Endpoint: gw.URL + "/shep/async"}, "a-2",
		`{"data":"<messageId>a-2</messageId><senderCode>kopir</senderCode><iin>931002451325</iin>","dataType":{"namespace":"http://message.persistence.interactive.nat","name":"Request"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if r := out.Response; r == nil || !strings.Contains(r.Data, "<iin>931002451325</iin>") || r.DataType == nil || r.DataType.Name != "Response" {
		t.Fatalf("%+v", out.Response)
	}
}

func TestAsyncOutcomes(t *testing.T) {
	gw := mockServer(t, shepgw.Options{})
	tr := func() *adaptertest.Transport { return &adaptertest.Transport{Endpoint: gw.URL + "/shep/async"} }

	_, err := converse(t, asyncAdapter(t, "serviceId: MOCK_Undeliverable"), tr(), "a-3", `{"data":"<x/>"}`)
	if ae := asAdapterError(t, err); ae.Code != shep.StateNotDelivered || ae.Status != 502 || ae.Retryable {
		t.Fatalf("%+v", ae)
	}
	start := time.Now()
	_, err = converse(t, asyncAdapter(t, "serviceId: MOCK_Silent\npoll: {interval: 5ms, timeout: 150ms}"), tr(), "a-4", `{"data":"<x/>"}`)
	if ae := asAdapterError(t, err); ae.Code != "SHEP_ASYNC_PENDING" || ae.Status != 504 || !ae.Retryable || time.Since(start) > 2*time.Second {
		t.Fatalf("%+v after %s", ae, time.Since(start))
	}
	oneWay := tr()
	out, err := converse(t, asyncAdapter(t, "serviceId: MOCK_Silent\nawaitResponse: false\nmessageType: NOTIFICATION"), oneWay, "a-5", `{"data":"<x/>"}`)
	if err != nil || out.State != shep.StateDelivered || out.Response != nil || strings.Contains(strings.Join(ops(oneWay), ","), "getMessages") {
		t.Fatalf("%v %+v %v", err, out, ops(oneWay))
	}
	_, err = converse(t, asyncAdapter(t, "serviceId: NOT_ON_GATEWAY"), tr(), "a-6", `{"data":"<x/>"}`)
	if ae := asAdapterError(t, err); ae.Code != shepgw.CodeUnknownService || ae.Status != 502 || ae.Retryable {
		t.Fatalf("%+v", ae)
	}
}

func TestAsyncFactoryRefusesBadOptions(t *testing.T) {
	f, _ := adapters.Lookup("egov-async")
	for name, y := range map[string]string{
		"other operation":    "",
		"no serviceId":       "senderId: k",
		"bad messageType":    "serviceId: S\nsenderId: k\nmessageType: RESPONSE",
		"bad duration":       "serviceId: S\nsenderId: k\npoll: {interval: fast}",
		"unknown key":        "serviceId: S\nsenderId: k\nbogus: 1",
		"missing env":        "serviceId: S\nsenderId: k\npasswordEnv: KOPIR_TEST_NO_SUCH_VAR_X",
		"missing key file":   "serviceId: S\nsenderId: k\nsigning: {cert: /nope.pem, key: /nope.key}",
		"property too long":  "serviceId: S\nsenderId: k\nproperties: {" + strings.Repeat("k", 31) + ": v}",
		"password twice":     "serviceId: S\nsenderId: k\npassword: a\npasswordEnv: HOME",
		"pkcs12 and pem key": "serviceId: S\nsenderId: k\nsigning: {pkcs12: a.p12, cert: c.pem}",
	} {
		op := "send"
		if name == "other operation" {
			op = "receive"
			y = "serviceId: S\nsenderId: k"
		}
		if _, err := f(adapters.AdapterConfig{Operation: op, Options: yamlOpts(y)}, adaptertest.Resources(t)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	a := asyncAdapter(t, "serviceId: S")
	for body, field := range map[string]string{
		`{"data":""}`:                           "data",
		`{"data":"<a>"}`:                        "data",
		`{"data":"<a/>","extra":1}`:             "extra",
		`{"data":"<a/>","properties":{"":"v"}}`: "properties",
	} {
		err := a.(adapters.Validator).Validate(context.Background(), &adapters.Request{MessageID: "x", Body: []byte(body)})
		if ae := asAdapterError(t, err); ae.Field != field {
			t.Errorf("%s: field %q", body, ae.Field)
		}
	}
}

func TestAsyncSignedAndInjectedFaults(t *testing.T) {
	// This mock trusts the test fixture's CA, which did not issue the demo key.
	gw := mockServer(t, shepgw.Options{RequireSignature: true})
	_, err := converse(t, asyncAdapter(t, "serviceId: MOCK_Echo"+demoSigning), &adaptertest.Transport{Endpoint: gw.URL + "/shep/async"}, "s-1", `{"data":"<x/>"}`)
	if ae := asAdapterError(t, err); ae.Code != shepgw.CodeSignature || !strings.Contains(ae.Detail, "CERT_UNTRUSTED") {
		t.Fatalf("%+v", ae)
	}
	demo := httptestMock(t, shepgw.Options{RequireSignature: true})
	out, err := converse(t, asyncAdapter(t, "serviceId: MOCK_Echo"+demoSigning), &adaptertest.Transport{Endpoint: demo + "/shep/async"}, "s-2", `{"data":"<x/>"}`)
	if err != nil || out.Response == nil {
		t.Fatalf("%v %+v", err, out)
	}
	_, err = converse(t, asyncAdapter(t, "serviceId: MOCK_Echo"), &adaptertest.Transport{Endpoint: demo + "/shep/async"}, "s-3", `{"data":"<x/>"}`)
	if ae := asAdapterError(t, err); ae.Code != shepgw.CodeSignature {
		t.Fatalf("unsigned where the gateway requires signatures: %+v", ae)
	}

	putFault(t, demo, "shep", `{"failRate":1,"status":503}`)
	_, err = converse(t, asyncAdapter(t, "serviceId: MOCK_Echo"+demoSigning), &adaptertest.Transport{Endpoint: demo + "/shep/async"}, "s-4", `{"data":"<x/>"}`)
	if ae := asAdapterError(t, err); ae.Code != "HTTP_503" || !ae.Retryable {
		t.Fatalf("%+v", ae)
	}
	putFault(t, demo, "shep", `{"failRate":1,"soapFault":true}`)
	_, err = converse(t, asyncAdapter(t, "serviceId: MOCK_Echo\nretryableFaults: [MOCK_INJECTED_FAULT]"+demoSigning), &adaptertest.Transport{Endpoint: demo + "/shep/async"}, "s-5", `{"data":"<x/>"}`)
	if ae := asAdapterError(t, err); ae.Code != shepgw.CodeInjected || !ae.Retryable {
		t.Fatalf("a fault listed in retryableFaults must be retryable: %+v", ae)
	}
}

// httptestMock runs the mocks with their default (demo) trust.
func httptestMock(t testing.TB, o shepgw.Options) string {
	t.Helper()
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, o))
	t.Cleanup(srv.Close)
	return srv.URL
}

func putFault(t testing.TB, url, mock, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url+"/_control/faults/"+mock, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatal(err, resp.StatusCode)
	}
	resp.Body.Close()
}
