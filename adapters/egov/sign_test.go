package egov_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/mocks/shepgw"
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
	gw := httptestMock(t, shepgw.Options{RequireSignature: true})
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
	if !errors.As(err, &ae) || ae.Code != shepgw.CodeSignature || !strings.Contains(ae.Detail, string(xmlsig.ReasonInvalid)) || ae.Retryable {
		t.Fatalf("tampered envelope: %v", err)
	}
	unsigned := passthrough(t, "")
	w, _ = unsigned.Encode(context.Background(), req)
	if _, err = unsigned.Decode(context.Background(), req, post(t, gw+"/shep/sync", w)); !errors.As(err, &ae) || ae.Code != shepgw.CodeSignature {
		t.Fatalf("unsigned envelope where signatures are required: %v", err)
	}
}
