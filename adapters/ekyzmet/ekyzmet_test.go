package ekyzmet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	_ "github.com/minfin-kz/kopir/adapters/ekyzmet"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/ekyzmet"
	"github.com/minfin-kz/kopir/mocks"
	_ "github.com/minfin-kz/kopir/mocks/ekyzmet"
)

const (
	opts       = "senderId: kopir\npassword: kopir-secret"
	iinOK      = "931002451325"
	iinBad     = "931002451326"
	iinMissing = "931002400003" // the mock has no civil servant under serial 0000
	binOK      = "000740000728"
	binBad     = "000740000729"
)

func request(body string) *adapters.Request {
	return &adapters.Request{Route: "ekyzmet", MessageID: "0b8f6a3e-5f0e-4c59-9f57-5b7d0c0e9a01", Body: []byte(body)}
}

func adapterError(t *testing.T, err error) *adapters.Error {
	t.Helper()
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *adapters.Error, got %T %v", err, err)
	}
	return ae
}

// sent encodes body and returns the Request inside the envelope, read back
// through the schema.
func sent(t *testing.T, a adapters.Adapter, body string) *ekyzmet.Request {
	t.Helper()
	w, err := a.Encode(context.Background(), request(body))
	if err != nil {
		t.Fatal(err)
	}
	var data shepsync.AnyType
	info, err := shep.ParseSendMessage(w.Body, &data)
	if err != nil {
		t.Fatal(err)
	}
	if info.ServiceId != ekyzmet.ServiceID || info.Sender.SenderId != "kopir" || w.Service != ekyzmet.ServiceID {
		t.Fatalf("requestInfo %+v", info)
	}
	r, err := ekyzmet.ParseRequest([]byte(data.InnerXML))
	if err != nil {
		t.Fatalf("the built Request is not valid under the schema: %v\n%s", err, data.InnerXML)
	}
	return r
}

func TestRefusalsNameTheField(t *testing.T) {
	ev := func(over string) string {
		base := map[string]string{"iin": `"` + iinOK + `"`, "event": `"IN"`, "time": `"2025-03-14T09:05:00+05:00"`, "bin": `"` + binOK + `"`, "floor": "3", "building": `"Дом министерств"`}
		for _, kv := range strings.Split(over, ";") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				if v == "-" {
					delete(base, k)
				} else {
					base[k] = v
				}
			}
		}
		var parts []string
		for _, k := range []string{"iin", "rfid", "event", "time", "bin", "floor", "building"} {
			if v, ok := base[k]; ok {
				parts = append(parts, fmt.Sprintf("%q:%s", k, v))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	events := func(es ...string) string { return `{"events":[` + strings.Join(es, ",") + `]}` }
	inv := func(iin, doc, decision string) string {
		return fmt.Sprintf(`{"iin":%q,"docUID":%q,"decision":%q}`, iin, doc, decision)
	}
	pr := func(iin, bin, start, end string) string {
		s := fmt.Sprintf(`{"iin":%q,"position":"главный эксперт","bin":%q,"startDate":%q,"grounds":"приказ № 12-к"`, iin, bin, start)
		if end != "" {
			s += fmt.Sprintf(`,"endDate":%q`, end)
		}
		return s + "}"
	}
	for _, c := range []struct {
		op, body, field string
		status          int
	}{
		{"acs-events", `{"events":[]}`, "events", 422},
		{"acs-events", events(ev(""), ev(""), ev("iin=\""+iinBad+"\"")), "events[2].iin", 422},
		{"acs-events", events(ev(""), ev("iin=-")), "events[1].iin", 422},
		{"acs-events", events(ev(`rfid="04A2"`)), "events[0].rfid", 422},
		{"acs-events", events(ev(`iin=-;rfid="` + strings.Repeat("A", 65) + `"`)), "events[0].rfid", 422},
		{"acs-events", events(ev(`bin="` + binBad + `"`)), "events[0].bin", 422},
		{"acs-events", events(ev("bin=-")), "events[0].bin", 422},
		{"acs-events", events(ev(`time="2025-03-14 09:05"`)), "events[0].time", 422},
		{"acs-events", events(ev(`time="2025-03-14T09:05:00"`)), "events[0].time", 422},
		{"acs-events", events(ev(`event=""`)), "events[0].event", 422},
		{"acs-events", events(ev(`event="` + strings.Repeat("x", 51) + `"`)), "events[0].event", 422},
		{"acs-events", events(ev("floor=-")), "events[0].floor", 422},
		{"acs-events", events(ev("floor=201")), "events[0].floor", 422},
		{"acs-events", events(ev(`building="a\u0001b"`)), "events[0].building", 422},
		{"acs-events", `{"events":[{"iin":"` + iinOK + `","colour":"red"}]}`, "colour", 422},
		{"acs-events", `{"events":`, "", 400},
		{"decision-invitation", inv(iinBad, "D-1", "ACCEPT"), "iin", 422},
		{"decision-invitation", inv("", "D-1", "ACCEPT"), "iin", 422},
		{"decision-invitation", inv(iinOK, "", "ACCEPT"), "docUID", 422},
		{"decision-invitation", inv(iinOK, strings.Repeat("d", 101), "ACCEPT"), "docUID", 422},
		{"decision-invitation", inv(iinOK, "D-1", " "), "decision", 422},
		{"personnel-report", pr(iinBad, binOK, "2020-01-15", ""), "iin", 422},
		{"personnel-report", pr(iinOK, binBad, "2020-01-15", ""), "bin", 422},
		{"personnel-report", pr(iinOK, binOK, "15.01.2020", ""), "startDate", 422},
		{"personnel-report", pr(iinOK, binOK, "2020-01-15", "2020-02-30"), "endDate", 422},
		{"personnel-report", pr(iinOK, binOK, "2020-01-15", "2019-12-31"), "endDate", 422},
		{"personnel-report", `{"iin":"` + iinOK + `","bin":"` + binOK + `","startDate":"2020-01-15","grounds":"x"}`, "position", 422},
	} {
		t.Run(c.op+" "+c.field, func(t *testing.T) {
			a := adaptertest.NewAdapter(t, "ekyzmet", c.op, opts)
			err := a.(adapters.Validator).Validate(context.Background(), request(c.body))
			if err == nil {
				t.Fatalf("accepted %s", c.body)
			}
			ae := adapterError(t, err)
			if ae.Status != c.status || ae.Field != c.field {
				t.Fatalf("%s: got %d %q (%s), want %d %q", c.body, ae.Status, ae.Field, ae.Detail, c.status, c.field)
			}
		})
	}
}

func TestACSEventsBuildParallelLists(t *testing.T) {
	a := adaptertest.NewAdapter(t, "ekyzmet", "acs-events", opts)
	body := `{"events":[
		{"iin":"` + iinOK + `","event":"IN","time":"2025-03-14T09:05:00+05:00","bin":"` + binOK + `","floor":3,"building":"Дом министерств"},
		{"rfid":"04A2B9C1","event":"OUT","time":"2025-03-14T04:10:00Z","bin":"` + binOK + `","floor":-1,"building":"Дом министерств"}]}`
	r := sent(t, a, body)
	if r.ServiceName != ekyzmet.ServiceACSEvents {
		t.Fatalf("serviceName %q", r.ServiceName)
	}
	if n, err := r.RowCount(); n != 2 || err != nil {
		t.Fatalf("RowCount %d %v", n, err)
	}
	want := map[string][]string{
		"ИИН": {iinOK, ""}, "RFID": {"", "04A2B9C1"}, "Событие": {"IN", "OUT"},
		"Время": {"2025-03-14T09:05:00+05:00", "2025-03-14T04:10:00Z"}, "БИН": {binOK, binOK},
		"Номер этажа": {"3", "-1"}, "Наименование здания": {"Дом министерств", "Дом министерств"},
	}
	for k, w := range want {
		if got, _ := r.Values(k); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	// A batch identified by IINs alone is exactly the sample's six keys.
	r = sent(t, a, `{"events":[{"iin":"`+iinOK+`","event":"IN","time":"2025-03-14T09:05:00+05:00","bin":"`+binOK+`","floor":0,"building":"B"}]}`)
	if _, ok := r.Values("RFID"); ok || len(r.Params) != 6 {
		t.Errorf("IIN-only batch has params %+v", r.Params)
	}
}

func TestSingleValueServices(t *testing.T) {
	for _, c := range []struct {
		op, body, service string
		want              map[string]string
	}{
		{"decision-invitation", `{"iin":"` + iinOK + `","docUID":"D-17","decision":"ACCEPT"}`, ekyzmet.ServiceDecisionInvitation,
			map[string]string{"iin": iinOK, "docUID": "D-17", "decision": "ACCEPT"}},
		{"personnel-report", `{"iin":"` + iinOK + `","position":"главный эксперт","bin":"` + binOK + `","startDate":"2020-01-15","endDate":"2024-12-31","grounds":"приказ № 12-к"}`, ekyzmet.ServicePersonnelReport,
			map[string]string{"iin": iinOK, "position": "главный эксперт", "bin": binOK, "startDate": "2020-01-15", "endDate": "2024-12-31", "grounds": "приказ № 12-к"}},
	} {
		t.Run(c.op, func(t *testing.T) {
			r := sent(t, adaptertest.NewAdapter(t, "ekyzmet", c.op, opts), c.body)
			if r.ServiceName != c.service || len(r.Params) != len(c.want) {
				t.Fatalf("%+v", r)
			}
			for k, v := range c.want {
				if got, _ := r.Values(k); len(got) != 1 || got[0] != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

// reply is the real e-Kyzmet answer with its status replaced.
func reply(t *testing.T, code, data string) *adapters.WireResponse {
	t.Helper()
	raw, err := os.ReadFile("testdata/shep_sync_sendmessage_response_ekyzmet.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(raw), "<code>SCSS001</code>", "<code>"+code+"</code>", 1)
	s = strings.Replace(s, "<Response/>", data, 1)
	return &adapters.WireResponse{StatusCode: 200, Body: []byte(s)}
}

func TestStatusMapping(t *testing.T) {
	a := adaptertest.NewAdapter(t, "ekyzmet", "decision-invitation", opts)
	fault, err := shep.MarshalFault("soap:Server", "gateway", &shepsync.ErrorInfo{ErrorCode: "SHEP_DOWN", ErrorMessage: "down"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		resp   *adapters.WireResponse
		status int
		code   string
	}{
		{"success", reply(t, "SCSS001", "<Response/>"), 200, ""},
		{"invalid parameters", reply(t, "ERR001", "<Response/>"), 422, "ERR001"},
		{"not found", reply(t, "ERR404", "<Response/>"), 404, "ERR404"},
		{"unknown service", reply(t, "ERR002", "<Response/>"), 502, "ERR002"},
		{"e-Kyzmet failed", reply(t, "ERR500", "<Response/>"), 502, "ERR500"},
		{"success without a Response", reply(t, "SCSS001", "<Other/>"), 502, "EKYZMET_BAD_RESPONSE"},
		{"SHEP fault", &adapters.WireResponse{StatusCode: 500, Body: fault}, 502, "SHEP_DOWN"},
		{"gateway overloaded", &adapters.WireResponse{StatusCode: 503, Body: []byte("busy")}, 502, "HTTP_503"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := a.Decode(context.Background(), request(""), c.resp)
			if c.status == 200 {
				if err != nil || string(resp.Body) != `{"status":"SCSS001"}` {
					t.Fatalf("%v %v", resp, err)
				}
				return
			}
			ae := adapterError(t, err)
			if ae.Status != c.status || ae.Code != c.code {
				t.Fatalf("got %d %s (%s), want %d %s", ae.Status, ae.Code, ae.Detail, c.status, c.code)
			}
		})
	}
}

func TestAgainstMock(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	for _, c := range []struct {
		op, body string
		status   int
		code     string
	}{
		{"acs-events", `{"events":[{"iin":"` + iinOK + `","event":"IN","time":"2025-03-14T09:05:00+05:00","bin":"` + binOK + `","floor":3,"building":"B"},{"rfid":"04A2B9C1","event":"OUT","time":"2025-03-14T18:00:00+05:00","bin":"` + binOK + `","floor":3,"building":"B"}]}`, 200, ""},
		{"decision-invitation", `{"iin":"` + iinOK + `","docUID":"D-17","decision":"ACCEPT"}`, 200, ""},
		{"decision-invitation", `{"iin":"` + iinMissing + `","docUID":"D-17","decision":"ACCEPT"}`, 404, "ERR404"},
		{"personnel-report", `{"iin":"` + iinOK + `","position":"главный эксперт","bin":"` + binOK + `","startDate":"2020-01-15","grounds":"приказ № 12-к"}`, 200, ""},
	} {
		t.Run(c.op+" "+c.code, func(t *testing.T) {
			a := adaptertest.NewAdapter(t, "ekyzmet", c.op, opts)
			ctx := context.Background()
			req := request(c.body)
			if err := a.(adapters.Validator).Validate(ctx, req); err != nil {
				t.Fatal(err)
			}
			w, err := a.Encode(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			hr, _ := http.NewRequest(http.MethodPost, srv.URL+"/shep/sync", bytes.NewReader(w.Body))
			hr.Header = w.Header.Clone()
			hresp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(hresp.Body)
			hresp.Body.Close()
			resp, err := a.Decode(ctx, req, &adapters.WireResponse{StatusCode: hresp.StatusCode, Body: body})
			if c.status == 200 {
				if err != nil || string(resp.Body) != `{"status":"SCSS001"}` {
					t.Fatalf("%v %v", resp, err)
				}
				return
			}
			if ae := adapterError(t, err); ae.Status != c.status || ae.Code != c.code {
				t.Fatalf("got %d %s, want %d %s", ae.Status, ae.Code, c.status, c.code)
			}
		})
	}
}

func TestUnknownOperation(t *testing.T) {
	if _, err := adaptertest.BuildAdapter(t, "ekyzmet", "send", opts); err == nil || !strings.Contains(err.Error(), "acs-events") {
		t.Fatalf("%v", err)
	}
	if _, err := adaptertest.BuildAdapter(t, "ekyzmet", "acs-events", "password: x"); err == nil || !strings.Contains(err.Error(), "senderId") {
		t.Fatalf("%v", err)
	}
}
