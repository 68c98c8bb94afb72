package egov_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks"
)

const gbdflSend = `{"data":"<messageId>1</messageId><senderCode>kopir</senderCode><iin>931002451325</iin>",` +
	`"dataType":{"namespace":"http://message.persistence.interactive.nat","name":"Request"}}`

func passthrough(t testing.TB, opts string) adapters.Adapter {
	t.Helper()
	f, _ := adapters.Lookup("egov")
	a, err := f(adapters.AdapterConfig{Operation: "send", Options: yamlOpts("serviceId: GBDFL_UniversalServiceSync\nsenderId: kopir\npassword: kopir-secret" + opts)}, adaptertest.Resources(t))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Köpir signs, the mock gateway (like SHEP) verifies; changing one byte of
// the signed body is caught.
func TestSignedSyncRoundTrip(t *testing.T) {
	gw := httptestMock(t, mocks.Options{RequireSignature: true})
	a := passthrough(t, demoSigning+"\nproperties: {CONNECTOR_CLIENT: \"true\"}")
	req := &adapters.Request{MessageID: "sig-1", Body: []byte(gbdflSend)}
	w, err := a.Encode(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	v, err := xmlsig.Verify(w.Body)
	if err != nil || !strings.Contains(v.Certificate.Subject.CommonName, "Köpir DEMO") {
		t.Fatalf("%v %+v", err, v)
	}
	if !bytes.Contains(w.Body, []byte("<properties><key>CONNECTOR_CLIENT</key><value>true</value></properties>")) {
		t.Fatalf("route properties missing:\n%s", w.Body)
	}
	resp, err := a.Decode(context.Background(), req, post(t, gw+"/shep/sync", w))
	if err != nil {
		t.Fatal(err)
	}
	var out egov.SendResponse
	if json.Unmarshal(resp.Body, &out); !strings.Contains(out.Data, "931002451325") {
		t.Fatalf("%+v", out)
	}

	w.Body = bytes.Replace(w.Body, []byte("931002451325"), []byte("931002451326"), 1)
	_, err = a.Decode(context.Background(), req, post(t, gw+"/shep/sync", w))
	var ae *adapters.Error
	if !errors.As(err, &ae) || ae.Code != mocks.CodeSignature || !strings.Contains(ae.Detail, string(xmlsig.ReasonInvalid)) || ae.Retryable {
		t.Fatalf("tampered envelope: %v", err)
	}
	unsigned := passthrough(t, "")
	w, _ = unsigned.Encode(context.Background(), req)
	if _, err = unsigned.Decode(context.Background(), req, post(t, gw+"/shep/sync", w)); !errors.As(err, &ae) || ae.Code != mocks.CodeSignature {
		t.Fatalf("unsigned envelope where signatures are required: %v", err)
	}
}

// The inbound channel reads every SHEP sample; the template's placeholder
// date is the one thing it refuses, precisely.
func TestChannelReadsEverySHEPSample(t *testing.T) {
	in := newIntake(map[string]bool{"GBDFL_UniversalServiceSync": false, "EKyzmetUniversalService": false})
	o := channelOpts()
	o.Senders = append(o.Senders, egov.SenderAuth{ID: "smartbridge", Password: "123"}, egov.SenderAuth{ID: "{self.login}", Password: "{self.password}"})
	_, srv := channelServer(t, o, false, in)
	// NCANode's sample puts <data> in the Interfaces namespace, which the
	// XSD does not allow (requestData/data is unqualified): refused,
	// precisely, unless schema validation is turned off.
	status, h, body := postXML(t, srv.URL+"/shep/sync", readFile(t, "shep_sync_sendmessage_gbdfl_request.xml"))
	if _, code := faultOf(t, status, h, body); code != egov.CodeInvalidEnvelope || !strings.Contains(string(body), "Interfaces}data") {
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
	if _, code := faultOf(t, status, h, body); code != egov.CodeInvalidEnvelope || !strings.Contains(string(body), "messageDate") {
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
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
	f.Add([]byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body/></soap:Envelope>`))
	o := channelOpts()
	o.Senders = append(o.Senders, egov.SenderAuth{ID: "smartbridge", Password: "123"})
	ch, err := egov.NewChannel(o)
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
