package shepchannel_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters/shepchannel"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep/sheptest"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// samples are the SHEP envelopes of the shared contract collection, kept
// with the contract's own tests.
const samples = "../../contracts/egov-shep/shep/testdata/"

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(samples + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The inbound channel reads every SHEP sample; the template's placeholder
// date is the one thing it refuses, precisely.
func TestChannelReadsEverySHEPSample(t *testing.T) {
	in := newIntake(map[string]bool{"GBDFL_UniversalServiceSync": false, "EKyzmetUniversalService": false})
	o := channelOpts()
	o.Senders = append(o.Senders, shepchannel.SenderAuth{ID: "smartbridge", Password: "123"}, shepchannel.SenderAuth{ID: "{self.login}", Password: "{self.password}"})
	_, srv := channelServer(t, o, false, in)
	// NCANode's sample puts <data> in the Interfaces namespace, which the
	// XSD does not allow (requestData/data is unqualified): refused,
	// precisely, unless schema validation is turned off.
	status, h, body := postXML(t, srv.URL+"/shep/sync", readFile(t, "shep_sync_sendmessage_gbdfl_request.xml"))
	if _, code := faultOf(t, status, h, body); code != shepchannel.CodeInvalidEnvelope || !strings.Contains(string(body), "Interfaces}data") {
		t.Fatalf("%s %s", code, body)
	}
	lax := o
	off := false
	lax.SchemaValidation = &off
	_, laxSrv := channelServer(t, lax, false, in)
	if status, _, body := postXML(t, laxSrv.URL+"/shep/sync", readFile(t, "shep_sync_sendmessage_gbdfl_request.xml")); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	// Signed, but by an NCA test certificate that expired in 2022.
	status, h, body = postXML(t, laxSrv.URL+"/shep/sync", readFile(t, "shep_sync_sendmessage_gbdfl_request_signed_rsa.xml"))
	if _, code := faultOf(t, status, h, body); code != string(xmlsig.ReasonExpired) {
		t.Fatalf("%s", code)
	}
	status, h, body = postXML(t, srv.URL+"/shep/sync", readFile(t, "shep_sync_sendmessage_ekyzmet_request_template.xml"))
	if _, code := faultOf(t, status, h, body); code != shepchannel.CodeInvalidEnvelope || !strings.Contains(string(body), "messageDate") {
		t.Fatalf("%s %s", code, body)
	}
}

// FuzzInboundEnvelope throws arbitrary bodies at the channel: it must
// answer 200 or a SOAP fault, never panic, and nothing that is not a
// well-formed, authenticated SendMessage reaches the intake.
func FuzzInboundEnvelope(f *testing.F) {
	for _, name := range []string{"shep_sync_sendmessage_gbdfl_request.xml", "shep_sync_sendmessage_gbdfl_request_signed_rsa.xml",
		"shep_sync_sendmessage_ekyzmet_request_template.xml", "shep_async_sendmessage_request.xml", "shep_sync_sendmessage_response_ekyzmet.xml"} {
		b, err := os.ReadFile(samples + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	valid := syncEnvelope(f, "f-1", "TestService", "smartbridge", "123", "<x/>")
	for _, form := range sheptest.WrappingForms(valid, bytes.Replace(valid, []byte("</serviceId>"), []byte("</serviceId><priority/>"), 1), func(b []byte) []byte { return signWith(f, fixture(f).sender, b) }) {
		f.Add(form.Envelope)
	}
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`))
	o := channelOpts()
	o.Senders = append(o.Senders, shepchannel.SenderAuth{ID: "smartbridge", Password: "123"})
	ch, err := shepchannel.NewChannel(o)
	if err != nil {
		f.Fatal(err)
	}
	ch.Log = slog.New(slog.DiscardHandler)
	in := newIntake(map[string]bool{"GBDFL_UniversalServiceSync": false, "TestService": false})
	routes := ch.Routes(in)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"POST /sync", "POST /async"} {
			before, _, _ := counts(in)
			rec := httptest.NewRecorder()
			routes[path].ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/shep"+path[5:], bytes.NewReader(body)))
			after, _, _ := counts(in)
			switch rec.Code {
			case http.StatusOK:
				if path == "POST /sync" {
					if _, err := shep.ParseResponse(rec.Body.Bytes(), nil); err != nil {
						t.Fatalf("200 with an unreadable SendMessageResponse: %v", err)
					}
				}
			case http.StatusInternalServerError:
				if after != before {
					t.Fatal("a refused message was accepted")
				}
				if _, err := shep.ParseResponse(rec.Body.Bytes(), nil); err == nil {
					t.Fatal("500 without a SOAP fault")
				}
			default:
				t.Fatalf("HTTP %d", rec.Code)
			}
			if after > before && safexml.Check(bytes.NewReader(body), shep.Limits) != nil {
				t.Fatal("accepted a document safexml refuses")
			}
		}
	})
}
