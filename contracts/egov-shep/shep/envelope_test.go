package shep_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

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
	info, err := shep.ParseSendMessage(body, &data)
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
	if _, err := shep.ParseSendMessage(body, &raw); err != nil || !strings.Contains(raw.InnerXML, "<iin>931002451325</iin>") {
		t.Fatalf("raw %q %v", raw.InnerXML, err)
	}
}

func TestParseSampleResponse(t *testing.T) {
	var raw shepsync.AnyType
	info, err := shep.ParseResponse(readFile(t, "shep_sync_sendmessage_response_ekyzmet.xml"), &raw)
	if err != nil {
		t.Fatal(err)
	}
	if info.MessageId != "8141b083-36e7-4cdc-8eb2-c1959ef703ef" || info.Status.Code != shep.StatusSuccess ||
		info.Status.Message != "Сервис отработал штатно" || info.SessionId == nil ||
		*info.SessionId != "{90fabd9e-b324-4e1b-b14c-f1254d339971}" {
		t.Fatalf("%+v %+v", info, info.Status)
	}
	if raw.InnerXML != "<Response/>" {
		t.Fatalf("data %q", raw.InnerXML)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 123e6, time.FixedZone("", 5*3600))
	in := &shep.Request{
		Info: shep.NewInfo("m-1", "c-1", "GBDFL_UniversalServiceSync", "kopir", "p<&>", now),
		Data: shep.Payload{
			Type:  xml.Name{Space: "http://message.persistence.interactive.nat", Local: "Request"},
			Value: &fltypes.Request{MessageId: "m-1", MessageDate: soap.CreateXsdDateTime(now, true), SenderCode: "kopir", Iin: "931002451325"},
		},
	}
	in.Info.Properties = []*shepsync.Property{{Key: "k", Value: "v"}}
	body, err := shep.MarshalSendMessage(in)
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
	info, err := shep.ParseSendMessage(body, &data)
	if err != nil {
		t.Fatal(err)
	}
	if info.Sender.Password != "p<&>" || info.CorrelationId != "c-1" || data.Iin != "931002451325" || info.Properties[0].Value != "v" {
		t.Fatalf("%+v %+v", info, data)
	}
	// What a namespace-aware SOAP stack sees: only SendMessage is in the
	// SyncChannel namespace, its descendants are unqualified.
	spaces := elementSpaces(t, body)
	for local, want := range map[string]string{"SendMessage": shep.NSTypes, "request": "", "requestInfo": "", "serviceId": "", "data": "", "iin": ""} {
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

func TestLimits(t *testing.T) {
	deep := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>` + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + `</s:Body></s:Envelope>`
	_, err := shep.ParseResponse([]byte(deep), nil)
	var se *safexml.Error
	if !errors.As(err, &se) || se.Reason != "depth" {
		t.Fatalf("%v", err)
	}
}

// Every SHEP envelope in the shared samples parses, and the signed one
// verifies cryptographically.
func TestEverySHEPSampleParses(t *testing.T) {
	for _, name := range []string{
		"shep_sync_sendmessage_gbdfl_request.xml",
		"shep_sync_sendmessage_gbdfl_request_signed_rsa.xml",
		"shep_sync_sendmessage_ekyzmet_request_template.xml",
	} {
		var data shep.RawData
		info, err := shep.ParseSendMessage(readFile(t, name), &data)
		if err != nil || info.ServiceId == "" || info.Sender == nil || !data.Present() {
			t.Errorf("%s: %v %+v", name, err, info)
		}
	}
	if _, err := xmlsig.Verify(readFile(t, "shep_sync_sendmessage_gbdfl_request_signed_rsa.xml")); err != nil {
		t.Error(err)
	}
	var send shep.OpRequest[shep.InboundSendMessage]
	if _, err := shep.ParseOp(readFile(t, "shep_async_sendmessage_request.xml"), shep.Limits, shep.Expect(shep.NSAsync, "sendMessage", &send)); err != nil {
		t.Fatal(err)
	}
	if mi := send.Request.MessageInfo; mi.ServiceId != "TestService" || mi.MessageType != "REQUEST" || send.Request.MessageData.Data.Type().Name != "TestObject" {
		t.Fatalf("%+v", mi)
	}
	if _, err := shep.ParseResponse(readFile(t, "shep_sync_sendmessage_response_ekyzmet.xml"), &shep.RawData{}); err != nil {
		t.Fatal(err)
	}

}

// FuzzParseEnvelope targets the parsers the outbound side and the mocks
// share: any input is either refused with an error or yields the fields
// the contract requires to be read.
func FuzzParseEnvelope(f *testing.F) {
	for _, name := range []string{"shep_sync_sendmessage_gbdfl_request.xml", "shep_async_sendmessage_request.xml", "shep_sync_sendmessage_response_ekyzmet.xml"} {
		b, _ := os.ReadFile("testdata/" + name)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if info, err := shep.ParseSendMessage(body, &shep.RawData{}); err == nil && info == nil {
			t.Fatal("no error and no requestInfo")
		}
		if _, err := shep.ParseResponse(body, &shep.RawData{}); err != nil {
			var f *shep.Fault
			var se *safexml.Error
			if !errors.As(err, &f) && !errors.As(err, &se) && !strings.HasPrefix(err.Error(), "shep:") {
				t.Fatalf("unclassified error %T %v", err, err)
			}
		}
		var send shep.OpRequest[shep.InboundSendMessage]
		shep.ParseOp(body, shep.Limits, shep.Expect(shep.NSAsync, "sendMessage", &send))
		xmlsig.Verify(body)
	})
}
