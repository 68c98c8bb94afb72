package egov_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/mocks"
)

var yamlOpts = adaptertest.Options

// post is the core's single exchange, minus retries and breakers.
func post(t testing.TB, url string, w *adapters.WireRequest) *adapters.WireResponse {
	t.Helper()
	req, err := http.NewRequest(w.Method, url+w.Path, bytes.NewReader(w.Body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = w.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &adapters.WireResponse{Endpoint: url, StatusCode: resp.StatusCode, Header: resp.Header, Body: body}
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSampleRequest(t *testing.T) {
	body := readFile(t, "shep_sync_sendmessage_gbdfl_request.xml")
	var data fltypes.Request
	info, err := egov.ParseSendMessage(body, &data)
	if err != nil {
		t.Fatal(err)
	}
	if info.MessageId != "ccb1010b-8446-4937-913f-c87a717f6809" || info.ServiceId != "GBDFL_UniversalServiceSync" ||
		info.Sender == nil || info.Sender.SenderId != "smartbridge" || info.Sender.Password != "123" {
		t.Fatalf("requestInfo %+v sender %+v", info, info.Sender)
	}
	if len(info.Properties) != 1 || info.Properties[0].Key != "CONNECTOR_CLIENT" || info.Properties[0].Value != "true" {
		t.Fatalf("properties %+v", info.Properties)
	}
	if d := info.MessageDate.ToGoTime(); !d.Equal(time.Date(2019, 12, 25, 12, 48, 21, 24e6, time.UTC)) {
		t.Fatalf("messageDate %v", d)
	}
	if data.Iin != "931002451325" || data.SenderCode != "smartbridge" || data.MessageId != "1" {
		t.Fatalf("data %+v", data)
	}
	// The same envelope, kept raw.
	var raw shepsync.AnyType
	if _, err := egov.ParseSendMessage(body, &raw); err != nil || !strings.Contains(raw.InnerXML, "<iin>931002451325</iin>") {
		t.Fatalf("raw %q %v", raw.InnerXML, err)
	}
}

func TestParseSampleResponse(t *testing.T) {
	var raw shepsync.AnyType
	info, err := egov.ParseResponse(readFile(t, "shep_sync_sendmessage_response_ekyzmet.xml"), &raw)
	if err != nil {
		t.Fatal(err)
	}
	if info.MessageId != "8141b083-36e7-4cdc-8eb2-c1959ef703ef" || info.Status.Code != egov.StatusSuccess ||
		info.Status.Message != "Сервис отработал штатно" || info.SessionId == nil ||
		*info.SessionId != "{90fabd9e-b324-4e1b-b14c-f1254d339971}" {
		t.Fatalf("%+v %+v", info, info.Status)
	}
	if raw.InnerXML != "<Response/>" {
		t.Fatalf("data %q", raw.InnerXML)
	}
	// And through the adapter-facing Decode.
	if _, err := egov.Decode(&adapters.WireResponse{StatusCode: 200, Body: readFile(t, "shep_sync_sendmessage_response_ekyzmet.xml")}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 123e6, time.FixedZone("", 5*3600))
	in := &egov.Request{
		Info: egov.NewInfo("m-1", "c-1", "GBDFL_UniversalServiceSync", "kopir", "p<&>", now),
		Data: egov.Payload{
			Type:  xml.Name{Space: "http://message.persistence.interactive.nat", Local: "Request"},
			Value: &fltypes.Request{MessageId: "m-1", MessageDate: soap.CreateXsdDateTime(now, true), SenderCode: "kopir", Iin: "931002451325"},
		},
	}
	in.Info.Properties = []*shepsync.Property{{Key: "k", Value: "v"}}
	body, err := egov.MarshalSendMessage(in)
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	// Unqualified children must stay in no namespace: the SyncChannel
	// namespace is only on the prefixed SendMessage.
	for _, want := range []string{
		`<ns2:SendMessage xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><request><requestInfo><messageId>m-1</messageId>`,
		`<messageDate>2026-03-01T10:00:00.123+05:00</messageDate>`,
		`<password>p&lt;&amp;&gt;</password>`,
		`<data xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:d="http://message.persistence.interactive.nat" xsi:type="d:Request"><messageId>m-1</messageId>`,
		`<iin>931002451325</iin></data></requestData>`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %s in\n%s", want, s)
		}
	}
	if strings.Contains(s, "<birthDate") || strings.Contains(s, "kdpToken") {
		t.Errorf("empty optional fields written:\n%s", s)
	}
	var data fltypes.Request
	info, err := egov.ParseSendMessage(body, &data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Sender.Password != "p<&>" || info.CorrelationId != "c-1" || data.Iin != "931002451325" || info.Properties[0].Value != "v" {
		t.Fatalf("%+v %+v", info, data)
	}
	// What a namespace-aware SOAP stack sees: only SendMessage is in the
	// SyncChannel namespace, its descendants are unqualified.
	spaces := elementSpaces(t, body)
	for local, want := range map[string]string{"SendMessage": egov.NSTypes, "request": "", "requestInfo": "", "serviceId": "", "data": "", "iin": ""} {
		if got := spaces[local]; got != want {
			t.Errorf("<%s> in namespace %q, want %q", local, got, want)
		}
	}
}

// elementSpaces maps each element's local name to its resolved namespace.
func elementSpaces(t *testing.T, doc []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			out[se.Name.Local] = se.Name.Space
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	fault := func(code string, sub *shepsync.ErrorInfo) []byte {
		b, err := egov.MarshalFault("soap:Server", "failed", &shepsync.ErrorInfo{ErrorCode: code, ErrorMessage: "msg " + code, SubError: sub})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	okResp, _ := egov.MarshalResponse(&shepsync.SyncMessageInfoResponse{MessageId: "r", Status: &shepsync.StatusInfo{Code: "ERR42", Message: "no"}}, egov.Payload{})
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

func TestLimits(t *testing.T) {
	deep := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</s:Body></s:Envelope>`
	_, err := egov.ParseResponse([]byte(deep), nil)
	var se *safexml.Error
	if !errors.As(err, &se) || se.Reason != "depth" {
		t.Fatalf("%v", err)
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
	w, err := s.Wire(context.Background(), &adapters.Request{MessageID: "id-1", CorrelationID: "corr"}, egov.Payload{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Method != "POST" || w.Header.Get("Content-Type") != "text/xml; charset=utf-8" || w.Header.Get("SOAPAction") != `""` {
		t.Fatalf("%v %v", w.Method, w.Header)
	}
	if !bytes.Contains(w.Body, []byte("<signed/>")) || !bytes.Contains(w.Body, []byte("<messageId>id-1</messageId><correlationId>corr</correlationId>")) {
		t.Fatalf("%s", w.Body)
	}
	// Without a bus message id a fresh UUID is used.
	w, _ = s.Wire(context.Background(), &adapters.Request{}, egov.Payload{})
	info, err := egov.ParseSendMessage(w.Body, nil)
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
	if out.Status.Code != egov.StatusSuccess || out.CorrelationID != req.MessageID || !strings.Contains(out.Data, "<iin>931002451325</iin>") ||
		!strings.HasPrefix(out.SessionID, "{") || out.ResponseDate == "" {
		t.Fatalf("%+v", out)
	}
}

func gbdflPayload(iin string) egov.Payload {
	return egov.Payload{
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
