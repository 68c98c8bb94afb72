package gbdul_test

import (
	"bytes"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/gbdul"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
)

func TestGBDULThroughGateway(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	env, _ := shep.MarshalSendMessage(&shep.Request{
		Info: shep.NewInfo("u-1", "", gbdul.ServiceID, "kopir", "kopir-secret", time.Now()),
		Data: shep.Payload{Value: &struct {
			X string `xml:",innerxml"`
		}{`<request xmlns="` + gbdul.NS3005 + `"><requestNumber>1</requestNumber><declarantId>000740000728</declarantId><businessData><BIN>000740000728</BIN></businessData></request>`}},
	})
	status, body := mocktest.Do(t, "POST", srv.URL+"/shep/sync", env)
	if status != 200 || !bytes.Contains(body, []byte(`<response xmlns="`+gbdul.NS3005+`">`)) || !bytes.Contains(body, []byte("<BIN>000740000728</BIN>")) {
		t.Fatalf("%d %s", status, body)
	}
	var got received3005
	if _, err := shep.ParseResponse(body, &got); err != nil || got.Response.Status.Code != gbdul.StatusOK {
		t.Fatalf("%v %+v", err, got)
	}
}

type received3005 struct {
	Response struct {
		Status struct {
			Code string `xml:"Code"`
		} `xml:"status"`
	} `xml:"response"`
}
