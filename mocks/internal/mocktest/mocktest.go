// Package mocktest is what the mocks' tests share: calls to a mocks server
// and its control API, and a GBD FL request envelope, the gateway tests'
// usual message.
package mocktest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/mocks"
)

// Envelope is a SyncChannel SendMessage asking GBD FL about iin.
func Envelope(t testing.TB, sender, password, service, iin string) []byte {
	t.Helper()
	now := time.Now()
	b, err := shep.MarshalSendMessage(&shep.Request{
		Info: shep.NewInfo("7c9e6679-7425-40de-944b-e07fc1f90ae7", "", service, sender, password, now),
		Data: shep.Payload{
			Type:  xml.Name{Space: "http://message.persistence.interactive.nat", Local: "Request"},
			Value: &fltypes.Request{MessageId: "7c9e6679-7425-40de-944b-e07fc1f90ae7", MessageDate: soap.CreateXsdDateTime(now, true), SenderCode: sender, Iin: iin},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Do makes one call; header is name, value pairs.
func Do(t testing.TB, method, url string, body []byte, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Fault is the SOAP Fault an answer must be.
func Fault(t *testing.T, status int, body []byte) *shep.Fault {
	t.Helper()
	if status != 500 {
		t.Fatalf("fault with HTTP %d", status)
	}
	_, err := shep.ParseResponse(body, nil)
	var f *shep.Fault
	if !errors.As(err, &f) {
		t.Fatalf("not a fault: %v\n%s", err, body)
	}
	return f
}

// PutFault injects a fault into mock through the control API at url.
func PutFault(t *testing.T, url, mock, body string) {
	t.Helper()
	status, b := Do(t, "PUT", url+"/_control/faults/"+mock, []byte(body))
	if status != 200 {
		t.Fatalf("%d %s", status, b)
	}
}

// Received is what reached mock, from the control API at url.
func Received(t *testing.T, url, mock string) mocks.Received {
	t.Helper()
	status, b := Do(t, "GET", url+"/_control/received/"+mock, nil)
	var r mocks.Received
	if status != 200 || json.Unmarshal(b, &r) != nil {
		t.Fatalf("%d %s", status, b)
	}
	return r
}
