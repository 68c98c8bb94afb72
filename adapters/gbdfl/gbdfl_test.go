package gbdfl_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/gbdfl"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/gbdfl"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

var yamlOpts = adaptertest.Options

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

const goodOpts = "senderId: kopir\npassword: kopir-secret"

func newAdapter(t testing.TB, opts string) adapters.Adapter {
	t.Helper()
	f, ok := adapters.Lookup("gbdfl")
	if !ok {
		t.Fatal("gbdfl not registered")
	}
	a, err := f(adapters.AdapterConfig{Operation: "person", Options: yamlOpts(opts)}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// call runs one exchange the way the core does: validate, encode, send,
// decode.
func call(t testing.TB, a adapters.Adapter, url, body string) (*adapters.Response, error) {
	t.Helper()
	ctx := context.Background()
	req := &adapters.Request{Route: "gbdfl-person", Operation: "person", MessageID: "0b8f6a3e-5f0e-4c59-9f57-5b7d0c0e9a01", CorrelationID: "corr-1", Body: []byte(body)}
	if err := a.(adapters.Validator).Validate(ctx, req); err != nil {
		return nil, err
	}
	w, err := a.Encode(ctx, req)
	if err != nil {
		return nil, err
	}
	return a.Decode(ctx, req, post(t, url, w))
}

func adapterError(t *testing.T, err error) *adapters.Error {
	t.Helper()
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *adapters.Error, got %T %v", err, err)
	}
	return ae
}

func TestPersonAgainstMock(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	a := newAdapter(t, goodOpts)
	resp, err := call(t, a, srv.URL+"/shep/sync", `{"iin":"931002451325"}`)
	if err != nil {
		t.Fatal(err)
	}
	var p gbdfl.Person
	if err := json.Unmarshal(resp.Body, &p); err != nil {
		t.Fatal(err)
	}
	if p.IIN != "931002451325" || p.BirthDate != "1993-10-02" || p.Sex != "female" ||
		p.LastName == "" || p.FirstName == "" || !strings.HasSuffix(p.MiddleName, "ОВНА") ||
		p.Citizenship == nil || p.Citizenship.Code != "398" || p.LifeStatus == nil {
		t.Fatalf("%s", resp.Body)
	}
	// The same IIN is the same person.
	again, _ := call(t, a, srv.URL+"/shep/sync", `{"iin":"931002451325"}`)
	if !bytes.Equal(again.Body, resp.Body) {
		t.Fatalf("not deterministic:\n%s\n%s", resp.Body, again.Body)
	}
	// A man born in the 2000s, on a leap day.
	iin := withCheck(t, "0402295"+"1234")
	resp, err = call(t, a, srv.URL+"/shep/sync", `{"iin":"`+iin+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	p = gbdfl.Person{}
	json.Unmarshal(resp.Body, &p)
	if p.Sex != "male" || p.BirthDate != "2004-02-29" || !strings.HasSuffix(p.MiddleName, "ОВИЧ") {
		t.Fatalf("%s", resp.Body)
	}
}

func withCheck(t testing.TB, first11 string) string {
	d, ok := kzid.CheckDigit(first11)
	if !ok {
		t.Fatalf("no check digit for %s", first11)
	}
	return first11 + string(rune('0'+d))
}

func TestNotFound(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	iin := withCheck(t, "9310024"+"0000") // serial 0000: not in the mock registry
	_, err := call(t, newAdapter(t, goodOpts), srv.URL+"/shep/sync", `{"iin":"`+iin+`"}`)
	ae := adapterError(t, err)
	if ae.Status != 404 || ae.Code != "PERSON_NOT_FOUND" || ae.Retryable {
		t.Fatalf("%+v", ae)
	}
}

func TestValidateBeforeAnyCall(t *testing.T) {
	// No server at all: a refused request must never reach the wire.
	a := newAdapter(t, goodOpts)
	cases := []struct{ body, field, detail string }{
		{`{"iin":"93100245132"}`, "iin", "IIN must be 12 digits, got 11"},
		{`{"iin":"931002451324"}`, "iin", "IIN check digit is 4, expected 5"},
		{`{"iin":"931302451325"}`, "iin", "IIN month 13 is not a month"},
		{`{"iin":""}`, "iin", "is required"},
		{`{}`, "iin", "is required"},
		{`{"iin":"931002451325","name":"x"}`, "name", "is not a field of this request"},
		{`{"iin":931002451325}`, "iin", "must be string"},
		{`not json`, "", "invalid character"},
	}
	for _, c := range cases {
		err := a.(adapters.Validator).Validate(context.Background(), &adapters.Request{Body: []byte(c.body)})
		ae := adapterError(t, err)
		wantStatus := 422
		if c.field == "" {
			wantStatus = 400
		}
		if ae.Status != wantStatus || ae.Field != c.field || !strings.Contains(ae.Detail, c.detail) {
			t.Errorf("%s: %+v", c.body, ae)
		}
		if _, err := a.Encode(context.Background(), &adapters.Request{Body: []byte(c.body)}); err == nil {
			t.Errorf("%s: Encode accepted it", c.body)
		}
	}
}

func TestSOAPFaults(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	_, err := call(t, newAdapter(t, "senderId: kopir\npassword: wrong"), srv.URL+"/shep/sync", `{"iin":"931002451325"}`)
	if ae := adapterError(t, err); ae.Status != 502 || ae.Code != shepgw.CodeAuth || ae.Retryable {
		t.Fatalf("%+v", ae)
	}
	_, err = call(t, newAdapter(t, goodOpts+"\nserviceId: NoSuchService"), srv.URL+"/shep/sync", `{"iin":"931002451325"}`)
	if ae := adapterError(t, err); ae.Status != 502 || ae.Code != shepgw.CodeUnknownService {
		t.Fatalf("%+v", ae)
	}
}

func TestInjectedFailures(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	put := func(mock, body string) {
		req, _ := http.NewRequest("PUT", srv.URL+"/_control/faults/"+mock, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%v %v", err, resp)
		}
		resp.Body.Close()
	}
	a := newAdapter(t, goodOpts)
	put("gbdfl", `{"failRate":1,"status":503}`)
	_, err := call(t, a, srv.URL+"/shep/sync", `{"iin":"931002451325"}`)
	if ae := adapterError(t, err); ae.Code != "HTTP_503" || !ae.Retryable {
		t.Fatalf("%+v", ae)
	}
	put("gbdfl", `{"failRate":1,"soapFault":true}`)
	_, err = call(t, a, srv.URL+"/shep/sync", `{"iin":"931002451325"}`)
	if ae := adapterError(t, err); ae.Code != shepgw.CodeInjected || ae.Retryable {
		t.Fatalf("%+v", ae)
	}
}

func TestGBDFLResultCodes(t *testing.T) {
	// A registry-level error (messageResult other than 00000) and a
	// not-found code listed in NotFoundCodes.
	body := func(code string) []byte {
		b, err := shep.MarshalResponse(&shepsyncInfo, shep.Payload{Value: &fltypes.Response{
			MessageResult: &fltypes.MessageResult{Code: code, NameRu: "ошибка"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := newAdapter(t, goodOpts)
	req := &adapters.Request{Body: []byte(`{"iin":"931002451325"}`)}
	_, err := a.Decode(context.Background(), req, &adapters.WireResponse{StatusCode: 200, Body: body("00013")})
	if ae := adapterError(t, err); ae.Status != 502 || ae.Code != "00013" || !strings.Contains(ae.Detail, "ошибка") {
		t.Fatalf("%+v", ae)
	}
	gbdfl.NotFoundCodes["00013"] = true
	defer delete(gbdfl.NotFoundCodes, "00013")
	_, err = a.Decode(context.Background(), req, &adapters.WireResponse{StatusCode: 200, Body: body("00013")})
	if ae := adapterError(t, err); ae.Status != 404 {
		t.Fatalf("%+v", ae)
	}
}

func TestSampleRequestShape(t *testing.T) {
	// What the adapter sends carries the same data as the public sample.
	sample, err := os.ReadFile("testdata/shep_sync_sendmessage_gbdfl_request.xml")
	if err != nil {
		t.Fatal(err)
	}
	var want fltypes.Request
	wantInfo, err := shep.ParseSendMessage(sample, &want)
	if err != nil {
		t.Fatal(err)
	}
	a := newAdapter(t, "senderId: smartbridge\npassword: \"123\"")
	w, err := a.Encode(context.Background(), &adapters.Request{MessageID: "m-1", Body: []byte(`{"iin":"` + want.Iin + `"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var got fltypes.Request
	info, err := shep.ParseSendMessage(w.Body, &got)
	if err != nil {
		t.Fatal(err)
	}
	if info.ServiceId != wantInfo.ServiceId || info.Sender.SenderId != wantInfo.Sender.SenderId || info.Sender.Password != wantInfo.Sender.Password ||
		got.Iin != want.Iin || got.SenderCode != want.SenderCode || got.MessageId != "m-1" || got.MessageDate.ToGoTime().IsZero() {
		t.Fatalf("%+v %+v\n%s", info, got, w.Body)
	}
	if !bytes.Contains(w.Body, []byte(`xmlns:d="http://message.persistence.interactive.nat" xsi:type="d:Request"`)) {
		t.Fatalf("data without xsi:type cs:Request:\n%s", w.Body)
	}
}

func TestFactory(t *testing.T) {
	f, _ := adapters.Lookup("gbdfl")
	for _, c := range []struct{ op, opts, want string }{
		{"people", goodOpts, "unknown operation"},
		{"person", "password: x", "senderId is required"},
		{"person", goodOpts + "\nendpoint: x", "field endpoint not found"},
	} {
		if _, err := f(adapters.AdapterConfig{Operation: c.op, Options: yamlOpts(c.opts)}, adaptertest.Resources(t)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: %v", c.op, c.opts, err)
		}
	}
	a, err := f(adapters.AdapterConfig{Operation: "person", Options: yamlOpts(goodOpts)}, adaptertest.Resources(t))
	if err != nil || a.(*gbdfl.Adapter).Sender.ServiceID != gbdfl.DefaultServiceID {
		t.Fatal(err)
	}
}

var shepsyncInfo = shepsync.SyncMessageInfoResponse{MessageId: "r-1", Status: &shepsync.StatusInfo{Code: shep.StatusSuccess, Message: "ok"}}

func TestPersonWithRepatriationStatus(t *testing.T) {
	// gowsdl put an XMLName on the repatriation dictionaries; gowsdlfix
	// removes it, without which this person would not decode at all.
	data := `<messageId>1</messageId><messageResult><code>00000</code><nameRu>ok</nameRu><nameKz>ok</nameKz></messageResult>` +
		`<persons><person><iin>931002451325</iin><surname>А</surname><name>Б</name><birthDate>1993-10-02+06:00</birthDate>` +
		`<gender><code>2</code><nameRu>Женский</nameRu><nameKz>Әйел</nameKz></gender>` +
		`<repatriationStatus><repatriationStatus><code>1</code><nameRu>r</nameRu><nameKz>r</nameKz></repatriationStatus></repatriationStatus>` +
		`<documents><document><type><code>002</code><nameRu>УДОСТОВЕРЕНИЕ</nameRu><nameKz>К</nameKz></type><number>012345678</number>` +
		`<beginDate>2015-01-02</beginDate><endDate>2025-01-01</endDate><issueOrganization><code>1</code><nameRu>МВД РК</nameRu><nameKz>ІІМ</nameKz></issueOrganization>` +
		`<status><code>00</code><nameRu>Документ действителен</nameRu><nameKz>ж</nameKz></status><birthDate>1993-10-02</birthDate></document></documents>` +
		`</person></persons>`
	body, err := shep.MarshalResponse(&shepsyncInfo, shep.Payload{Value: &shepsync.AnyType{InnerXML: data}})
	if err != nil {
		t.Fatal(err)
	}
	a := newAdapter(t, goodOpts)
	resp, err := a.Decode(context.Background(), &adapters.Request{Body: []byte(`{"iin":"931002451325"}`)}, &adapters.WireResponse{StatusCode: 200, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var p gbdfl.Person
	json.Unmarshal(resp.Body, &p)
	if p.BirthDate != "1993-10-02" || len(p.Documents) != 1 || p.Documents[0].Number != "012345678" || p.Documents[0].ExpiresAt != "2025-01-01" ||
		p.Documents[0].Issuer.Name != "МВД РК" || p.DeathDate != "" {
		t.Fatalf("%s", resp.Body)
	}
}

func TestEncodeWithoutMessageID(t *testing.T) {
	w, err := newAdapter(t, goodOpts).Encode(context.Background(), &adapters.Request{Body: []byte(`{"iin":"931002451325"}`)})
	if err != nil {
		t.Fatal(err)
	}
	var data fltypes.Request
	info, err := shep.ParseSendMessage(w.Body, &data)
	if err != nil || len(data.MessageId) != 36 || data.MessageId != info.MessageId {
		t.Fatalf("%v %q %q", err, data.MessageId, info.MessageId)
	}
}

// Validate keeps what it parsed for Encode and Decode of the same call;
// a request Validate did not see (a replay) is parsed from its Body.
func TestValidatedRequestIsParsedOnce(t *testing.T) {
	a := newAdapter(t, goodOpts)
	ctx := context.Background()
	req := &adapters.Request{MessageID: "m", Body: []byte(`{"iin":"931002451325"}`)}
	if err := a.(adapters.Validator).Validate(ctx, req); err != nil {
		t.Fatal(err)
	}
	if in, ok := req.Parsed.(*gbdfl.PersonRequest); !ok || in.IIN != "931002451325" {
		t.Fatalf("Parsed = %#v", req.Parsed)
	}
	other := withCheck(t, "88050130012")
	req.Parsed = &gbdfl.PersonRequest{IIN: other} // what Encode reads, not the Body
	iinOf := func(req *adapters.Request) string {
		t.Helper()
		w, err := a.Encode(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var data fltypes.Request
		if _, err := shep.ParseSendMessage(w.Body, &data); err != nil {
			t.Fatal(err)
		}
		return data.Iin
	}
	if got := iinOf(req); got != other {
		t.Fatalf("Encode sent iin %s, want the validated %s", got, other)
	}
	if got := iinOf(&adapters.Request{MessageID: "m", Body: req.Body}); got != "931002451325" {
		t.Fatalf("without Validate, Encode sent iin %s", got)
	}
	if _, err := a.Encode(ctx, &adapters.Request{MessageID: "m", Body: []byte(`{"iin":"1"}`)}); err == nil {
		t.Fatal("an invalid body without Validate was encoded")
	}
}

// BenchmarkPersonOverHTTP is one GBD FL lookup end to end as the bus does
// it (validate, encode, HTTP to the mock SHEP, decode to JSON), with the
// mock and the client sharing the same cores.
func BenchmarkPersonOverHTTP(b *testing.B) {
	benchPerson(b, goodOpts, shepgw.Options{})
}

// BenchmarkPersonSignedOverHTTP is the same lookup with the envelope
// signed (RSA-2048, WS-Security) and the mock gateway verifying the
// signature and the certificate chain, as SHEP does: the cost of signing
// next to the unsigned route above.
func BenchmarkPersonSignedOverHTTP(b *testing.B) {
	benchPerson(b, goodOpts+"\nsigning: {cert: ../../mocks/pki/kopir.pem, key: ../../mocks/pki/kopir.key}", shepgw.Options{RequireSignature: true})
}

func benchPerson(b *testing.B, opts string, gw shepgw.Options) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, gw))
	defer srv.Close()
	a := newAdapter(b, opts)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			req := &adapters.Request{MessageID: "0b8f6a3e-5f0e-4c59-9f57-5b7d0c0e9a01", Body: []byte(`{"iin":"931002451325"}`)}
			if err := a.(adapters.Validator).Validate(ctx, req); err != nil {
				b.Fatal(err)
			}
			w, _ := a.Encode(ctx, req)
			hr, _ := http.NewRequest(w.Method, srv.URL+"/shep/sync", bytes.NewReader(w.Body))
			hr.Header = w.Header
			resp, err := client.Do(hr)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if _, err := a.Decode(ctx, req, &adapters.WireResponse{StatusCode: resp.StatusCode, Body: body}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
