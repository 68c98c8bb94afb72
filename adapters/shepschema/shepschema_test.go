package shepschema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	_ "github.com/minfin-kz/kopir/adapters/gbdfl"
	_ "github.com/minfin-kz/kopir/adapters/shepschema"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/gbdfl"
	_ "github.com/minfin-kz/kopir/mocks/shepschema"
)

const zagsOpts = `serviceId: ZAGS_BirthRecordService
senderId: kopir
password: kopir-secret
request:  {schema: ../../contracts/zags/request.xsd,  element: "{urn:kopir:shep:zags:1}BirthRecordRequest"}
response: {schema: ../../contracts/zags/response.xsd, element: "{urn:kopir:shep:zags:1}BirthRecordResponse"}
checks: {iin: [BirthRecordRequest/iin]}
fill: {requestId: messageId}
`

func post(t testing.TB, url string, w *adapters.WireRequest) *adapters.WireResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+w.Path, bytes.NewReader(w.Body))
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

// call runs one exchange the way the core does: validate, encode, send,
// decode.
func call(t testing.TB, a adapters.Adapter, url, body string) (json.RawMessage, error) {
	t.Helper()
	ctx := context.Background()
	req := &adapters.Request{Route: "r", Operation: "sync", MessageID: "0b8f6a3e-5f0e-4c59-9f57-5b7d0c0e9a01", Body: []byte(body)}
	if v, ok := a.(adapters.Validator); ok {
		if err := v.Validate(ctx, req); err != nil {
			return nil, err
		}
	}
	w, err := a.Encode(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := a.Decode(ctx, req, post(t, url, w))
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func mockServer(t *testing.T) string {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	t.Cleanup(srv.Close)
	return srv.URL + "/shep/sync"
}

func TestZAGSAgainstTheSchemaMock(t *testing.T) {
	a := adaptertest.NewAdapter(t, "shep", "sync", zagsOpts)
	url := mockServer(t)
	got, err := call(t, a, url, `{"iin":"100301600125"}`)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		RequestID string `json:"requestId"`
		Status    string
		Record    struct {
			RegistrationDate string
			Child            struct{ IIN, LastName string }
			Parent           []struct{ Role, IIN string }
		}
	}
	if err := json.Unmarshal(got, &r); err != nil {
		t.Fatal(err)
	}
	if r.RequestID != "0b8f6a3e-5f0e-4c59-9f57-5b7d0c0e9a01" || r.Status != "FOUND" || r.Record.Child.IIN != "100301600125" ||
		len(r.Record.Parent) != 2 || r.Record.Parent[0].Role != "mother" || r.Record.RegistrationDate != "2010-03-15" {
		t.Errorf("answer %s", got)
	}
	got, err = call(t, a, url, `{"iin":"100301600006","requestId":"mine"}`)
	if err != nil || !strings.Contains(string(got), `"status":"NOT_FOUND"`) || !strings.Contains(string(got), `"requestId":"mine"`) {
		t.Errorf("a serial of 0000 is not on record: %s %v", got, err)
	}
	got, err = call(t, a, url, `{"certificate":{"series":"I-АГ","number":"1234567"}}`)
	if err != nil || !strings.Contains(string(got), `"recordNumber":"1234567"`) {
		t.Errorf("by certificate: %s %v", got, err)
	}
}

// TestHostileJSONIs422NamingThePath: the rules come from the XSD and the
// route's checks, and the path is the caller's JSON path.
func TestHostileJSONIs422NamingThePath(t *testing.T) {
	a := adaptertest.NewAdapter(t, "shep", "sync", zagsOpts)
	tests := []struct{ name, body, field, detail string }{
		{"wrong type", `{"iin":100301600125}`, "iin", "must be a string"},
		{"pattern", `{"iin":"10030160012X"}`, "iin", "pattern"},
		{"too long", `{"certificate":{"series":"ABCDEFGHIJK","number":"1234567"}}`, "certificate.series", "at most 10"},
		{"unknown key", `{"iin":"100301600125","name":"x"}`, "name", "not a field"},
		{"unknown nested key", `{"certificate":{"series":"I","number":"1234567","x":1}}`, "certificate.x", "not a field"},
		{"choice", `{"iin":"100301600125","certificate":{"series":"I","number":"1234567"}}`, "certificate", "only one of"},
		{"iin check digit", `{"iin":"100301600128"}`, "iin", "check digit"},
		{"not an object", `[1]`, "", "object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := a.(adapters.Validator).Validate(context.Background(), &adapters.Request{MessageID: "m-1", Body: []byte(tc.body)})
			var ae *adapters.Error
			if !errors.As(err, &ae) {
				t.Fatalf("want *adapters.Error, got %v", err)
			}
			if ae.Status != 422 || ae.Field != tc.field || !strings.Contains(strings.ToLower(ae.Detail), tc.detail) {
				t.Errorf("got %d field %q: %s", ae.Status, ae.Field, ae.Detail)
			}
		})
	}
}

func TestSchemasArePublished(t *testing.T) {
	a := adaptertest.NewAdapter(t, "shep", "sync", zagsOpts)
	req, resp := a.(adapters.SchemaProvider).Schemas()
	for _, c := range []struct {
		doc  json.RawMessage
		want []string
	}{
		{req, []string{`"title":"BirthRecordRequest"`, `"iin":{"pattern":"^(?:\\d{12})$"`, `"oneOf":[{"required":["iin"]},{"required":["certificate"]}]`}},
		{resp, []string{`"title":"BirthRecordResponse"`, `"status":{"enum":["FOUND","NOT_FOUND"]`, `"role":{"enum":["mother","father"]`}},
	} {
		for _, w := range c.want {
			if !strings.Contains(string(c.doc), w) {
				t.Errorf("schema lacks %s:\n%s", w, c.doc)
			}
		}
	}
}

func TestFactoryRefuses(t *testing.T) {
	base := "serviceId: S\nsenderId: kopir\n"
	zreq := `request: {schema: ../../contracts/zags/request.xsd, element: "{urn:kopir:shep:zags:1}BirthRecordRequest"}` + "\n"
	zresp := `response: {schema: ../../contracts/zags/response.xsd, element: "{urn:kopir:shep:zags:1}BirthRecordResponse"}` + "\n"
	tests := []struct{ name, op, opts, want string }{
		{"operation", "send", base + zreq + zresp, "unknown operation"},
		{"async: awaitResponse is not offered", "async", base + zreq + zresp + "awaitResponse: false\n", "awaitResponse"},
		{"async: message type", "async", base + zreq + zresp + "messageType: RESPONSE\n", "messageType"},
		{"async: poll on a sync route", "sync", base + zreq + zresp + "poll: {interval: 1s}\n", "poll"},
		{"no request", "sync", base + zresp, "options.request"},
		{"missing schema file", "sync", base + `request: {schema: nope.xsd, element: X}` + "\n" + zresp, "options.request.schema"},
		{"unknown element", "sync", base + `request: {schema: ../../contracts/zags/request.xsd, element: Nope}` + "\n" + zresp, "options.request.element"},
		{"check path", "sync", base + zreq + zresp + "checks: {iin: [BirthRecordRequest/nope]}\n", "options.checks.iin"},
		{"check on an object", "sync", base + zreq + zresp + "checks: {bin: [certificate]}\n", "options.checks.bin"},
		{"fill source", "sync", base + zreq + zresp + "fill: {requestId: tomorrow}\n", "options.fill.requestId"},
		{"payload", "sync", base + `request: {schema: ../../contracts/zags/request.xsd, element: "{urn:kopir:shep:zags:1}BirthRecordRequest", payload: type}` + "\n" + zresp, "options.request.payload"},
		{"unknown option", "sync", base + zreq + zresp + "colour: red\n", "colour"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := adaptertest.BuildAdapter(t, "shep", tc.op, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAgencyFaultsAndBrokenAnswers(t *testing.T) {
	a := adaptertest.NewAdapter(t, "shep", "sync", zagsOpts)
	ctx := context.Background()
	req := &adapters.Request{MessageID: "m-1", Body: []byte(`{"iin":"100301600125"}`)}
	for _, c := range []struct {
		name, data string
		code       string
	}{
		{"answer breaks the schema", `<data><BirthRecordResponse xmlns="urn:kopir:shep:zags:1"><requestId>x</requestId><status>LOST</status></BirthRecordResponse></data>`, "SHEP_BAD_RESPONSE"},
		{"no data", ``, "SHEP_BAD_RESPONSE"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessageResponse xmlns:ns2="http://bip.bee.kz/SyncChannel/v10/Types"><response><responseInfo><messageId>m</messageId><responseDate>2026-01-01T00:00:00Z</responseDate><status><code>SCSS001</code><message>ok</message></status></responseInfo><responseData>` + c.data + `</responseData></response></ns2:SendMessageResponse></soap:Body></soap:Envelope>`
			_, err := a.Decode(ctx, req, &adapters.WireResponse{StatusCode: 200, Body: []byte(body)})
			var ae *adapters.Error
			if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != c.code {
				t.Errorf("got %v", err)
			}
		})
	}
}
