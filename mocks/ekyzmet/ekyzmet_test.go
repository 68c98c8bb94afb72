package ekyzmet_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/ekyzmet"
	"github.com/minfin-kz/kopir/mocks"
	ekmock "github.com/minfin-kz/kopir/mocks/ekyzmet"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
)

const (
	iinOK      = "931002451325"
	iinBad     = "931002451326" // check digit off by one
	iinMissing = "931002400003" // serial 0000: no civil servant
	binOK      = "000740000728"
	binBad     = "000740000729"
)

// send posts a SendMessage to EKyzmetUniversalService whose data is req
// and returns the status code and the data of the answer.
func send(t *testing.T, url, id, data string) (code, msg, respData string) {
	t.Helper()
	env, err := shep.MarshalSendMessage(&shep.Request{
		Info: shep.NewInfo(id, "", ekyzmet.ServiceID, "kopir", "kopir-secret", time.Now()),
		Data: shep.Payload{Value: &shepsync.AnyType{InnerXML: data}},
	})
	if err != nil {
		t.Fatal(err)
	}
	status, body := mocktest.Do(t, "POST", url+"/shep/sync", env)
	if status != 200 {
		t.Fatalf("HTTP %d: %s", status, body)
	}
	var d shepsync.AnyType
	info, err := shep.ParseResponse(body, &d)
	if err != nil {
		t.Fatal(err)
	}
	return info.Status.Code, info.Status.Message, d.InnerXML
}

func param(key string, values ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<param><key>%s</key><type>String</type><values>", key)
	for _, v := range values {
		fmt.Fprintf(&b, "<value>%s</value>", v)
	}
	b.WriteString("</values></param>")
	return b.String()
}

func request(service string, params ...string) string {
	return `<Request serviceName="` + service + `">` + strings.Join(params, "") + `</Request>`
}

func acs(iins, times, bins []string, extra ...string) string {
	n := len(iins)
	rep := func(v string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	return request(ekyzmet.ServiceACSEvents, append([]string{
		param("ИИН", iins...), param("Событие", rep("IN")...), param("Время", times...),
		param("БИН", bins...), param("Номер этажа", rep("3")...), param("Наименование здания", rep("Дом министерств")...),
	}, extra...)...)
}

func TestDispatch(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	ts := "2025-03-14T09:05:00+05:00"
	two := func(a, b string) []string { return []string{a, b} }
	invitation := func(iin string) string {
		return request(ekyzmet.ServiceDecisionInvitation, param("iin", iin), param("docUID", "D-17"), param("decision", "ACCEPT"))
	}
	personnel := func(iin, bin, end string) string {
		ps := []string{param("iin", iin), param("position", "главный эксперт"), param("bin", bin), param("startDate", "2020-01-15")}
		if end != "" {
			ps = append(ps, param("endDate", end))
		}
		return request(ekyzmet.ServicePersonnelReport, append(ps, param("grounds", "приказ № 12-к"))...)
	}
	for i, c := range []struct {
		name, data, code, msg string
	}{
		{"acs events", acs(two(iinOK, iinOK), two(ts, ts), two(binOK, binOK)), "SCSS001", ""},
		{"acs by rfid", acs(two(iinOK, ""), two(ts, ts), two(binOK, binOK), param("RFID", "", "04A2B9C1")), "SCSS001", ""},
		{"acs unequal lists", acs(two(iinOK, iinOK), []string{ts}, two(binOK, binOK)), "ERR001", "unequal length"},
		{"acs bad IIN", acs(two(iinOK, iinBad), two(ts, ts), two(binOK, binOK)), "ERR001", "ИИН value 2"},
		{"acs bad BIN", acs(two(iinOK, iinOK), two(ts, ts), two(binOK, binBad)), "ERR001", "БИН value 2"},
		{"acs bad time", acs(two(iinOK, iinOK), two(ts, "14.03.2025"), two(binOK, binOK)), "ERR001", "Время"},
		{"acs missing key", request(ekyzmet.ServiceACSEvents, param("ИИН", iinOK)), "ERR001", "missing"},
		{"decision invitation", invitation(iinOK), "SCSS001", ""},
		{"decision invitation unknown person", invitation(iinMissing), "ERR404", "not on record"},
		{"decision invitation unknown key", request(ekyzmet.ServiceDecisionInvitation, param("iin", iinOK), param("docUID", "D"), param("decision", "A"), param("extra", "x")), "ERR001", "unknown key"},
		{"personnel report", personnel(iinOK, binOK, "2024-12-31"), "SCSS001", ""},
		{"personnel report open-ended", personnel(iinOK, binOK, ""), "SCSS001", ""},
		{"personnel report bad BIN", personnel(iinOK, binBad, ""), "ERR001", "bin"},
		{"personnel report end before start", personnel(iinOK, binOK, "2019-01-01"), "ERR001", "before"},
		{"unknown service", request("nope", param("iin", iinOK)), "ERR002", "nope"},
		{"not a Request", `<Other/>`, "ERR001", "Request"},
		{"key twice", request(ekyzmet.ServiceDecisionInvitation, param("iin", iinOK), param("iin", iinOK)), "ERR001", "Request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, msg, data := send(t, srv.URL, fmt.Sprintf("7c9e6679-7425-40de-944b-%012d", i), c.data)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Fatalf("status %s %q, want %s containing %q", code, msg, c.code, c.msg)
			}
			if strings.TrimSpace(data) != "<Response/>" {
				t.Fatalf("data %q, want the sample's empty Response", data)
			}
		})
	}
	if r := mocktest.Received(t, srv.URL, "ekyzmet"); r.Total != 17 {
		t.Errorf("the mock's log counts %d calls, want 17", r.Total)
	}
}

func TestNotFoundOption(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{}, ekmock.Options{NotFound: func(iin string) bool { return iin == iinOK }}))
	defer srv.Close()
	for i, c := range []struct{ iin, code string }{{iinOK, "ERR404"}, {iinMissing, "SCSS001"}} {
		data := request(ekyzmet.ServiceDecisionInvitation, param("iin", c.iin), param("docUID", "D"), param("decision", "A"))
		if code, msg, _ := send(t, srv.URL, fmt.Sprintf("7c9e6679-7425-40de-944b-%012d", i), data); code != c.code {
			t.Errorf("%s: %s %s, want %s", c.iin, code, msg, c.code)
		}
	}
}

func TestInjectedFault(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	mocktest.PutFault(t, srv.URL, "ekyzmet", `{"failRate":1,"soapFault":true}`)
	env, err := shep.MarshalSendMessage(&shep.Request{
		Info: shep.NewInfo("7c9e6679-7425-40de-944b-e07fc1f90ae7", "", ekyzmet.ServiceID, "kopir", "kopir-secret", time.Now()),
		Data: shep.Payload{Value: &shepsync.AnyType{InnerXML: request(ekyzmet.ServiceDecisionInvitation, param("iin", iinOK), param("docUID", "D"), param("decision", "A"))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", env)
	if f := mocktest.Fault(t, status, body); f.Detail.Info == nil || f.Detail.Info.ErrorCode != "MOCK_INJECTED_FAULT" {
		t.Fatalf("%+v", f)
	}
}
