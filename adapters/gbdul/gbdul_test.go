package gbdul_test

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
	"github.com/minfin-kz/kopir/adapters/gbdul"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/gbdul/ultypes"
	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/gbdul"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

var yamlOpts = adaptertest.Options

const goodOpts = "senderId: kopir\npassword: kopir-secret\ndeclarantId: \"000740000728\""

func newAdapter(t testing.TB, op, opts string) adapters.Adapter {
	t.Helper()
	f, ok := adapters.Lookup("gbdul")
	if !ok {
		t.Fatal("gbdul not registered")
	}
	a, err := f(adapters.AdapterConfig{Operation: op, Options: yamlOpts(opts)}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func call(t testing.TB, a adapters.Adapter, url, body string) (*adapters.Response, error) {
	t.Helper()
	ctx := context.Background()
	req := &adapters.Request{MessageID: "5d3c1e52-2a3c-4c2e-9a1f-0e6a7b8c9d01", CorrelationID: "c", Body: []byte(body)}
	if err := a.(adapters.Validator).Validate(ctx, req); err != nil {
		return nil, err
	}
	w, err := a.Encode(ctx, req)
	if err != nil {
		return nil, err
	}
	hr, _ := http.NewRequest(w.Method, url, bytes.NewReader(w.Body))
	hr.Header = w.Header
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return a.Decode(ctx, req, &adapters.WireResponse{StatusCode: resp.StatusCode, Body: b})
}

// bin builds a valid BIN from its first 11 digits.
func bin(t testing.TB, first11 string) string {
	t.Helper()
	d, ok := kzid.CheckDigit(first11)
	if !ok {
		t.Fatalf("%s has no check digit", first11)
	}
	return first11 + string(rune('0'+d))
}

func mockURL(t testing.TB) string {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	t.Cleanup(srv.Close)
	return srv.URL + "/shep/sync"
}

func TestReport3005AgainstMock(t *testing.T) {
	url := mockURL(t)
	b := bin(t, "15044001234") // registered April 2015, resident legal entity, head office
	resp, err := call(t, newAdapter(t, "report3005", goodOpts), url, `{"bin":"`+b+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	var r gbdul.Report
	if err := json.Unmarshal(resp.Body, &r); err != nil {
		t.Fatal(err)
	}
	o := r.Organization
	if !strings.HasPrefix(r.ReportNumber, "3005-") || o.BIN != b || o.Form != "legalEntity" || !strings.HasPrefix(o.RegistrationDate, "2015-04-") ||
		o.NameRu == "" || o.Leader == nil || kzid.ValidateIIN(o.Leader.IIN) != nil || o.Leader.LastName == "" || o.Address == nil ||
		len(r.RegistrationDeals) == 0 || r.RegistrationDeals[0].Date != o.RegistrationDate || r.RegistrationDeals[0].NameRu == "" {
		t.Fatalf("%s", resp.Body)
	}
	org, err := call(t, newAdapter(t, "organization", goodOpts), url, `{"bin":"`+b+`"}`)
	if err != nil {
		t.Fatal(err)
	}
	var oo gbdul.Organization
	json.Unmarshal(org.Body, &oo)
	if oo.BIN != b || oo.NameRu != o.NameRu || strings.Contains(string(org.Body), "registrationDeals") {
		t.Fatalf("%s", org.Body)
	}
	branch, err := call(t, newAdapter(t, "organization", goodOpts), url, `{"bin":"`+bin(t, "15044101234")+`"}`)
	if err != nil || !strings.Contains(string(branch.Body), `"form":"branch"`) {
		t.Fatalf("%v %s", err, branch.Body)
	}
}

func TestEncodedRequestFollowsTheContract(t *testing.T) {
	a := newAdapter(t, "report3005", goodOpts)
	req := &adapters.Request{MessageID: "m-1", Body: []byte(`{"bin":"` + bin(t, "15044001234") + `","declarantId":"931002451325"}`)}
	w, err := a.Encode(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Req *ultypes.RequestMessage `xml:"http://3005_kdp.reports.egp.gbdul.tamur.kz request"`
	}
	info, err := shep.ParseSendMessage(w.Body, &data)
	if err != nil {
		t.Fatal(err)
	}
	r := data.Req
	if info.ServiceId != gbdul.DefaultServiceID || r == nil || r.RequestNumber != "m-1" || r.DeclarantId != "931002451325" ||
		r.RequestSystemId != "kopir" || r.BusinessData == nil || r.BusinessData.BIN != bin(t, "15044001234") {
		t.Fatalf("%+v %+v\n%s", info, r, w.Body)
	}
	// Qualified elements: the children inherit the schema's namespace.
	if !bytes.Contains(w.Body, []byte(`<request xmlns="http://3005_kdp.reports.egp.gbdul.tamur.kz"><requestNumber>m-1</requestNumber>`)) {
		t.Fatalf("%s", w.Body)
	}
}

func TestValidateBeforeAnyCall(t *testing.T) {
	a := newAdapter(t, "organization", goodOpts)
	noDefault := newAdapter(t, "organization", "senderId: kopir")
	for _, c := range []struct {
		a     adapters.Adapter
		body  string
		field string
	}{
		{a, `{"bin":"150440012345"}`, "bin"},
		{a, `{"bin":"151340012340"}`, "bin"}, // month 13
		{a, `{"bin":"` + bin(t, "15047001234") + `"}`, "bin"},
		{a, `{}`, "bin"},
		{a, `{"bin":12}`, "bin"},
		{a, `{"bin":"` + bin(t, "15044001234") + `","declarantId":"123"}`, "declarantId"},
		{noDefault, `{"bin":"` + bin(t, "15044001234") + `"}`, "declarantId"},
		{a, `{"bin":"` + bin(t, "15044001234") + `","x":1}`, "x"},
	} {
		err := c.a.(adapters.Validator).Validate(context.Background(), &adapters.Request{Body: []byte(c.body)})
		var ae *adapters.Error
		if !errors.As(err, &ae) || ae.Field != c.field || (ae.Status != 422 && ae.Status != 400) {
			t.Errorf("%s: %v", c.body, err)
		}
	}
	f, _ := adapters.Lookup("gbdul")
	for _, o := range []string{"senderId: k\ndeclarantId: nope", "senderId: k\nbogus: 1", ""} {
		if _, err := f(adapters.AdapterConfig{Operation: "organization", Options: yamlOpts(o)}, adaptertest.Resources(t)); err == nil {
			t.Errorf("%q accepted", o)
		}
	}
	if _, err := f(adapters.AdapterConfig{Operation: "history", Options: yamlOpts(goodOpts)}, adaptertest.Resources(t)); err == nil {
		t.Error("unknown operation accepted")
	}
}

func TestNotFoundAndRegistryErrors(t *testing.T) {
	url := mockURL(t)
	_, err := call(t, newAdapter(t, "organization", goodOpts), url, `{"bin":"`+bin(t, "15044000000")+`"}`)
	var ae *adapters.Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Field != "bin" {
		t.Fatalf("%v", err)
	}
	// A status the route does not count as success is the registry's error.
	_, err = call(t, newAdapter(t, "organization", goodOpts+"\nsuccessCodes: [\"001\"]"), url, `{"bin":"`+bin(t, "15044001234")+`"}`)
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != "002" {
		t.Fatalf("%v", err)
	}
	_, err = call(t, newAdapter(t, "organization", "senderId: kopir\npassword: wrong\ndeclarantId: \"000740000728\""), url, `{"bin":"`+bin(t, "15044001234")+`"}`)
	if !errors.As(err, &ae) || ae.Code != shepgw.CodeAuth || ae.Retryable {
		t.Fatalf("%v", err)
	}
}

// FuzzValidateBIN drives the BIN check where it guards the bus: whatever
// the adapter accepts is 12 digits with a valid registration month, type,
// attribute and check digit.
func FuzzValidateBIN(f *testing.F) {
	for _, s := range []string{"000740000728", "150440012340", "", "1504400123456", "15044001234я", "991340000000"} {
		f.Add(s)
	}
	a := newAdapter(f, "organization", goodOpts)
	f.Fuzz(func(t *testing.T, s string) {
		body, _ := json.Marshal(map[string]string{"bin": s})
		err := a.(adapters.Validator).Validate(context.Background(), &adapters.Request{Body: body})
		if err != nil {
			var ae *adapters.Error
			if !errors.As(err, &ae) || ae.Field != "bin" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if len(s) != 12 || strings.Trim(s, "0123456789") != "" {
			t.Fatalf("accepted %q", s)
		}
		if m := (s[2]-'0')*10 + s[3] - '0'; m < 1 || m > 12 || s[4] < '4' || s[4] > '6' || s[5] > '3' {
			t.Fatalf("accepted %q with a bad month/type/attribute", s)
		}
		if d, ok := kzid.CheckDigit(s[:11]); !ok || int(s[11]-'0') != d {
			t.Fatalf("accepted %q with a bad check digit", s)
		}
	})
}
