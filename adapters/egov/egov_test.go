package egov_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/mocks"
)

var yamlOpts = adaptertest.Options

// post is the core's single exchange, minus retries and breakers.
func post(t testing.TB, url string, w *adapters.WireRequest) *adapters.WireResponse {
	t.Helper()
	resp, err := (&adaptertest.Transport{Endpoint: url}).Do(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// The gateway's sample answer decodes through the adapter-facing Decode.
func TestDecodeSampleResponse(t *testing.T) {
	body, err := os.ReadFile("../../contracts/egov-shep/shep/testdata/shep_sync_sendmessage_response_ekyzmet.xml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := egov.Decode(&adapters.WireResponse{StatusCode: 200, Body: body}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDecodeErrors(t *testing.T) {
	fault := func(code string, sub *shepsync.ErrorInfo) []byte {
		b, err := shep.MarshalFault("soap:Server", "failed", &shepsync.ErrorInfo{ErrorCode: code, ErrorMessage: "msg " + code, SubError: sub})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	okResp, _ := shep.MarshalResponse(&shepsync.SyncMessageInfoResponse{MessageId: "r", Status: &shepsync.StatusInfo{Code: "ERR42", Message: "no"}}, shep.Payload{})
	cases := []struct {
		name      string
		status    int
		body      []byte
		code      string
		retryable bool
		detail    string
	}{
		{"fault", 500, fault("E1", &shepsync.ErrorInfo{ErrorCode: "E2", ErrorMessage: "inner"}), "E1", false, "msg E1; E2: inner"},
		{"fault without detail", 500, []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>boom</faultstring></s:Fault></s:Body></s:Envelope>`), "SOAP_FAULT", false, "s:Server: boom"},
		{"fault in other namespace", 500, []byte(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Server</faultcode><faultstring>x</faultstring><detail><e:SendMessageFault xmlns:e="urn:other"><errorCode>X9</errorCode><errorMessage>m</errorMessage></e:SendMessageFault></detail></s:Fault></s:Body></s:Envelope>`), "X9", false, "m"},
		{"proxy 503", 503, []byte("<html>down</html>"), "HTTP_503", true, "503"},
		{"throttled", 429, nil, "HTTP_429", true, "429"},
		{"not found", 404, []byte("nope"), "HTTP_404", false, "404"},
		{"garbage 200", 200, []byte("not xml"), "SHEP_BAD_RESPONSE", false, "unreadable"},
		{"doctype 200", 200, []byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`), "SHEP_BAD_RESPONSE", false, "DOCTYPE"},
		{"status not success", 200, okResp, "ERR42", false, `"ERR42": no`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := egov.Decode(&adapters.WireResponse{StatusCode: c.status, Body: c.body}, nil)
			var ae *adapters.Error
			if !errors.As(err, &ae) {
				t.Fatalf("%T %v", err, err)
			}
			if ae.Status != 502 || ae.Code != c.code || ae.Retryable != c.retryable || !strings.Contains(ae.Detail, c.detail) {
				t.Fatalf("%+v", ae)
			}
		})
	}
	egov.RetryableFaults["E1"] = true
	defer delete(egov.RetryableFaults, "E1")
	_, err := egov.Decode(&adapters.WireResponse{StatusCode: 500, Body: fault("E1", nil)}, nil)
	if ae := new(adapters.Error); !errors.As(err, &ae) || !ae.Retryable {
		t.Fatalf("listed code not retryable: %v", err)
	}
}

type signer struct{}

func (signer) SignEnvelope(_ context.Context, env []byte) ([]byte, error) {
	return bytes.Replace(env, []byte("<soap:Header/>"), []byte("<soap:Header><signed/></soap:Header>"), 1), nil
}

func TestSenderWire(t *testing.T) {
	s, err := egov.NewSender(egov.Options{ServiceID: "S", SenderID: "kopir", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	s.Signer = signer{}
	w, err := s.Wire(context.Background(), &adapters.Request{MessageID: "id-1", CorrelationID: "corr"}, shep.Payload{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Method != "POST" || w.Header.Get("Content-Type") != "text/xml; charset=utf-8" || w.Header.Get("SOAPAction") != `""` {
		t.Fatalf("%v %v", w.Method, w.Header)
	}
	// The serviceId keys the core's breaker, apart from the other
	// services behind the gateway URL.
	if w.Service != "S" {
		t.Fatalf("wire request for service %q", w.Service)
	}
	if !bytes.Contains(w.Body, []byte("<signed/>")) || !bytes.Contains(w.Body, []byte("<messageId>id-1</messageId><correlationId>corr</correlationId>")) {
		t.Fatalf("%s", w.Body)
	}
	// Without a bus message id a fresh UUID is used.
	w, _ = s.Wire(context.Background(), &adapters.Request{}, shep.Payload{})
	info, err := shep.ParseSendMessage(w.Body, nil)
	if err != nil || len(info.MessageId) != 36 {
		t.Fatalf("%v %+v", err, info)
	}
	if _, err := egov.NewSender(egov.Options{ServiceID: "S"}); err == nil || !strings.Contains(err.Error(), "senderId") {
		t.Fatal(err)
	}
}

func TestPassthroughAgainstMock(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	f, ok := adapters.Lookup("egov")
	if !ok {
		t.Fatal("egov not registered")
	}
	if _, err := f(adapters.AdapterConfig{Operation: "other", Options: yamlOpts("")}, adaptertest.Resources(t)); err == nil {
		t.Fatal("unknown operation accepted")
	}
	if _, err := f(adapters.AdapterConfig{Operation: "send", Options: yamlOpts("serviceId: X\nsenderId: a\nbogus: 1")}, adaptertest.Resources(t)); err == nil {
		t.Fatal("unknown option accepted")
	}
	a, err := f(adapters.AdapterConfig{Operation: "send", Options: yamlOpts("serviceId: GBDFL_UniversalServiceSync\nsenderId: kopir\npassword: kopir-secret")}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	v := a.(adapters.Validator)
	for body, field := range map[string]string{
		`{"data":"<iin>1</iin>","x":1}`: "",
		`{"data":""}`:                   "data",
		`{"data":"</request><evil/>"}`:  "data",
		`{"data":"<a/>","dataType":{"namespace":"u","name":"a:b"}}`:               "dataType",
		`{"data":"<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"}`:                     "data",
		`{"data":"<messageId>1</messageId>"} {"data":"<messageId>1</messageId>"}`: "",
	} {
		err := v.Validate(context.Background(), &adapters.Request{Body: []byte(body)})
		var ae *adapters.Error
		if !errors.As(err, &ae) || ae.Field != field {
			t.Errorf("%s: %v", body, err)
		}
	}
	req := &adapters.Request{MessageID: "11111111-2222-3333-4444-555555555555", Body: []byte(
		`{"data":"<messageId>1</messageId><messageDate>2026-01-01T00:00:00Z</messageDate><senderCode>kopir</senderCode><iin>931002451325</iin>",` +
			`"dataType":{"namespace":"http://message.persistence.interactive.nat","name":"Request"}}`)}
	if err := v.Validate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	w, err := a.Encode(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Decode(context.Background(), req, post(t, srv.URL+"/shep/sync", w))
	if err != nil {
		t.Fatal(err)
	}
	var out egov.SendResponse
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		t.Fatal(err)
	}
	if out.Status.Code != shep.StatusSuccess || out.CorrelationID != req.MessageID || !strings.Contains(out.Data, "<iin>931002451325</iin>") ||
		!strings.HasPrefix(out.SessionID, "{") || out.ResponseDate == "" {
		t.Fatalf("%+v", out)
	}
}

func gbdflPayload(iin string) shep.Payload {
	return shep.Payload{
		Type:  xml.Name{Space: "http://message.persistence.interactive.nat", Local: "Request"},
		Value: &fltypes.Request{MessageId: "6f1c1f9e-1b7d-4f7e-9a55-0d6c1f0f3a11", MessageDate: soap.CreateXsdDateTime(time.Now(), true), SenderCode: "kopir", Iin: iin},
	}
}

// BenchmarkEncodeSendMessage is the bus's per-call cost of building a GBD FL
// SendMessage (the envelope, requestInfo and payload, as sent).
func BenchmarkEncodeSendMessage(b *testing.B) {
	s, _ := egov.NewSender(egov.Options{ServiceID: "GBDFL_UniversalServiceSync", SenderID: "kopir", Password: "kopir-secret"})
	req := &adapters.Request{MessageID: "6f1c1f9e-1b7d-4f7e-9a55-0d6c1f0f3a11", CorrelationID: "c"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Wire(context.Background(), req, gbdflPayload("931002451325")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeResponse parses the mock's GBD FL answer (a full person)
// into the generated types, safety checks included.
func BenchmarkDecodeResponse(b *testing.B) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	s, _ := egov.NewSender(egov.Options{ServiceID: "GBDFL_UniversalServiceSync", SenderID: "kopir", Password: "kopir-secret"})
	w, _ := s.Wire(context.Background(), &adapters.Request{MessageID: "m"}, gbdflPayload("931002451325"))
	resp := post(b, srv.URL+"/shep/sync", w)
	if resp.StatusCode != 200 {
		b.Fatalf("%d %s", resp.StatusCode, resp.Body)
	}
	b.SetBytes(int64(len(resp.Body)))
	b.ReportAllocs()
	for b.Loop() {
		var r fltypes.Response
		if _, err := egov.Decode(resp, &r); err != nil || len(r.Persons.Person) != 1 {
			b.Fatal(err)
		}
	}
}
