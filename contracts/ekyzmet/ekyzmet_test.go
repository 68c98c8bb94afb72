package ekyzmet_test

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/ekyzmet"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// The public request template has Python placeholders where the values go;
// with each filled by one <value>, its Request must be valid under the
// schema Köpir wrote from it.
func TestSampleRequestValidates(t *testing.T) {
	raw, err := os.ReadFile("testdata/shep_sync_sendmessage_ekyzmet_request_template.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	s = s[strings.Index(s, "<Request"):]
	s = s[:strings.Index(s, "</Request>")+len("</Request>")]
	s = regexp.MustCompile(`\{\w+\(\)\}`).ReplaceAllString(s, "<value>1</value>")
	r, err := ekyzmet.ParseRequest([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if r.ServiceName != ekyzmet.ServiceACSEvents || len(r.Params) != 6 || r.Params[5].Key != ekyzmet.KeyACSBuilding || r.Params[0].Type != "String" {
		t.Fatalf("%+v", r)
	}
	if n, err := r.RowCount(); n != 1 || err != nil {
		t.Fatalf("RowCount: %d %v", n, err)
	}
}

func TestSampleResponseValidates(t *testing.T) {
	raw, err := os.ReadFile("testdata/shep_sync_sendmessage_response_ekyzmet.xml")
	if err != nil {
		t.Fatal(err)
	}
	var data shepsync.AnyType
	info, err := shep.ParseResponse(raw, &data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status.Code != ekyzmet.StatusSuccess {
		t.Fatalf("status %+v", info.Status)
	}
	r, err := ekyzmet.ParseResponse([]byte(data.InnerXML))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Params) != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestMarshalValidates(t *testing.T) {
	r := ekyzmet.NewRequest(ekyzmet.ServiceDecisionInvitation)
	r.Add(ekyzmet.KeyIIN, "931002451325")
	r.Add(ekyzmet.KeyDocUID, "D-1")
	r.Add(ekyzmet.KeyDecision, "ACCEPT")
	b, err := ekyzmet.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `<Request serviceName="PMKR_decisionInvitation" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="EKyzmetUniversalService.xsd"><param><key>iin</key><type>String</type><values><value>931002451325</value></values></param>`
	if !strings.HasPrefix(string(b), want) {
		t.Fatalf("%s", b)
	}
	back, err := ekyzmet.ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := back.Values(ekyzmet.KeyDocUID); !ok || len(v) != 1 || v[0] != "D-1" {
		t.Fatalf("%+v", back)
	}
}

func TestSchemaRefuses(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"no serviceName", `<Request><param><key>iin</key><values/></param></Request>`, "serviceName"},
		{"key twice", `<Request serviceName="x"><param><key>iin</key><values/></param><param><key>iin</key><values/></param></Request>`, "requestKey"},
		{"empty key", `<Request serviceName="x"><param><key></key><values/></param></Request>`, "key"},
		{"unknown type", `<Request serviceName="x"><param><key>iin</key><type>Integer</type><values/></param></Request>`, "type"},
		{"no values", `<Request serviceName="x"><param><key>iin</key></param></Request>`, "values"},
		{"value too long", `<Request serviceName="x"><param><key>iin</key><values><value>` + strings.Repeat("a", 4001) + `</value></values></param></Request>`, "value"},
		{"stranger element", `<Request serviceName="x"><other/></Request>`, "other"},
		{"bad serviceName", `<Request serviceName="a b"/>`, "serviceName"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ekyzmet.ParseRequest([]byte(c.doc))
			var xe *xsd.Error
			if !errors.As(err, &xe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an *xsd.Error about %s, got %v", c.want, err)
			}
		})
	}
}

func TestRowCount(t *testing.T) {
	acs := func(lens ...int) *ekyzmet.Request {
		r := ekyzmet.NewRequest(ekyzmet.ServiceACSEvents)
		for i, k := range ekyzmet.Services[ekyzmet.ServiceACSEvents].Required {
			r.Add(k, make([]string, lens[i%len(lens)])...)
		}
		return r
	}
	extra := acs(2)
	extra.Add("Лишний", "a", "b")
	missing := ekyzmet.NewRequest(ekyzmet.ServiceDecisionInvitation)
	missing.Add(ekyzmet.KeyIIN, "931002451325")
	two := ekyzmet.NewRequest(ekyzmet.ServiceDecisionInvitation)
	for _, k := range []string{ekyzmet.KeyIIN, ekyzmet.KeyDocUID, ekyzmet.KeyDecision} {
		two.Add(k, "a", "b")
	}
	for _, c := range []struct {
		name    string
		r       *ekyzmet.Request
		n       int
		unequal bool
		err     string
	}{
		{"equal lists", acs(3), 3, false, ""},
		{"unequal lists", acs(3, 3, 2), 0, true, "Время"},
		{"unknown key", extra, 0, false, "Лишний"},
		{"missing key", missing, 0, false, "docUID"},
		{"one-value service given two", two, 0, false, "one value"},
		{"empty lists", acs(0), 0, false, "no values"},
		{"unknown service", ekyzmet.NewRequest("nope"), 0, false, "nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := c.r.RowCount()
			if n != c.n || errors.Is(err, ekyzmet.ErrUnequalLists) != c.unequal || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Fatalf("got %d, %v", n, err)
			}
		})
	}
}
