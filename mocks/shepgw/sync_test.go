package shepgw_test

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/gbdfl"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

func TestSHEPFaults(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	for _, c := range []struct {
		name string
		body []byte
		code string
	}{
		{"bad password", mocktest.Envelope(t, "kopir", "nope", gbdfl.ServiceID, "931002451325"), shepgw.CodeAuth},
		{"unknown sender", mocktest.Envelope(t, "who", "kopir-secret", gbdfl.ServiceID, "931002451325"), shepgw.CodeAuth},
		{"unknown service", mocktest.Envelope(t, "kopir", "kopir-secret", "NoSuchService", "931002451325"), shepgw.CodeUnknownService},
		{"no iin", mocktest.Envelope(t, "kopir", "kopir-secret", gbdfl.ServiceID, ""), shepgw.CodeBadRequest},
		{"not soap", []byte("<hello/>"), shepgw.CodeBadRequest},
		{"dtd", []byte(`<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><x>&a;</x>`), shepgw.CodeBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", c.body)
			f := mocktest.Fault(t, status, body)
			if f.Detail.Info == nil || f.Detail.Info.ErrorCode != c.code || f.Detail.Info.ErrorMessage == "" {
				t.Fatalf("%+v %s", f, body)
			}
		})
	}
}

func TestSHEPInjection(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	env := mocktest.Envelope(t, "kopir", "kopir-secret", gbdfl.ServiceID, "931002451325")
	mocktest.PutFault(t, srv.URL, "shep", `{"failRate":1,"status":502}`)
	if status, _ := mocktest.Do(t, "POST", srv.URL+"/shep/sync", env); status != 502 {
		t.Fatal(status)
	}
	mocktest.PutFault(t, srv.URL, "shep", `{"failRate":1,"soapFault":true}`)
	status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", env)
	if f := mocktest.Fault(t, status, body); f.Detail.Info.ErrorCode != shepgw.CodeInjected {
		t.Fatalf("%+v", f)
	}
	// shep counted both under the SHEP messageId, gbdfl never saw them.
	if r := mocktest.Received(t, srv.URL, "shep"); r.Rejected != 2 || r.Total != 0 || r.Items[0].Key != "7c9e6679-7425-40de-944b-e07fc1f90ae7" {
		t.Fatalf("%+v", r)
	}
	if r := mocktest.Received(t, srv.URL, "gbdfl"); r.Total+r.Rejected != 0 {
		t.Fatalf("%+v", r)
	}
	// Latency is added to every call.
	mocktest.PutFault(t, srv.URL, "shep", `{"latencyMs":60}`)
	start := time.Now()
	if status, _ := mocktest.Do(t, "POST", srv.URL+"/shep/sync", env); status != 200 {
		t.Fatal(status)
	}
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("latency %v", d)
	}
}

func TestWSDL(t *testing.T) {
	// The gateway names the address it is configured with.
	srv := httptest.NewUnstartedServer(nil)
	srv.Config.Handler = mocks.New(mocks.Options{}, shepgw.Options{PublicURL: "http://" + srv.Listener.Addr().String()})
	srv.Start()
	defer srv.Close()
	status, b := mocktest.Do(t, "GET", srv.URL+"/shep/sync?wsdl", nil)
	s := string(b)
	if status != 200 || !strings.Contains(s, `<soap:address location="`+srv.URL+`/shep/sync"/>`) ||
		!strings.Contains(s, `location="`+srv.URL+`/shep/sync?file=SyncChannel/v10/Interfaces/ISyncChannel.wsdl"`) {
		t.Fatalf("%d %s", status, s)
	}
	// Follow the import chain down to a common type.
	_, b = mocktest.Do(t, "GET", srv.URL+"/shep/sync?file=SyncChannel/v10/Interfaces/ISyncChannel.wsdl", nil)
	if !strings.Contains(string(b), `schemaLocation="`+srv.URL+`/shep/sync?file=SyncChannel/v10/Types/ISyncChannel.xsd"`) {
		t.Fatalf("%s", b)
	}
	_, b = mocktest.Do(t, "GET", srv.URL+"/shep/sync?file=SyncChannel/v10/Types/ISyncChannel.xsd", nil)
	if !strings.Contains(string(b), `schemaLocation="`+srv.URL+`/shep/sync?file=common/v10/Types/ErrorInfo.xsd"`) {
		t.Fatalf("%s", b)
	}
	if status, b := mocktest.Do(t, "GET", srv.URL+"/shep/sync?file=common/v10/Types/ErrorInfo.xsd", nil); status != 200 || !strings.Contains(string(b), "errorCode") {
		t.Fatalf("%d", status)
	}
}
