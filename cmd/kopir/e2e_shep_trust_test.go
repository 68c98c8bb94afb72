package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep/sheptest"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// TestSHEPTrustRefusals drives the agency listener of the real bus with
// the signature wrapping forms, signed with the gateway's demo key (the
// one bound to demo-agency), and with a valid signature of another
// organisation: each gets its precise SOAP fault, is stored REJECTED,
// and /readyz and genuine messages still answer.
func TestSHEPTrustRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarness(t, "{attempts: 3}")
	gateway := demoSigner(t, "gateway.pem", "gateway.key")
	kopir := demoSigner(t, "kopir.pem", "kopir.key")
	envelope := func(id, extra string) []byte {
		b, err := shep.MarshalSendMessage(&shep.Request{
			Info: shep.NewInfo(id, "", "MINFIN_PaymentNotify", "demo-agency", "demo-secret", time.Now()),
			Data: shep.Payload{Value: &shep.AnyXML{InnerXML: "<payment><amount>1</amount></payment>"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Replace(b, []byte("</serviceId>"), []byte("</serviceId>"+extra), 1)
	}
	sign := func(s xmlsig.Signer) func([]byte) []byte {
		return func(b []byte) []byte {
			out, err := xmlsig.Sign(b, s)
			if err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	// In a signed envelope, what aims at the signature is SIGNATURE_WRAPPING.
	codes := map[string]string{sheptest.Structure: "KOPIR_ENVELOPE_STRUCTURE", sheptest.DuplicateID: "SIGNATURE_WRAPPING", sheptest.DisplacedBody: "SIGNATURE_WRAPPING", sheptest.Wrapping: "SIGNATURE_WRAPPING"}
	stamp := time.Now().UnixNano() % 1e9
	cases := map[string][2]string{} // name → envelope, code
	for _, f := range sheptest.WrappingForms(envelope(fmt.Sprintf("w-%d", stamp), ""), envelope(fmt.Sprintf("w-%d", stamp), "<priority>1</priority>"), sign(gateway)) {
		cases[f.Name] = [2]string{string(f.Envelope), codes[f.Want]}
	}
	cases["signed by another organisation"] = [2]string{string(sign(kopir)(envelope(fmt.Sprintf("m-%d", stamp), ""))), "SIGNATURE_SENDER_MISMATCH"}
	for name, c := range cases {
		status, hdr, body := h.agencyPost("/shep/sync", []byte(c[0]))
		if status != 500 || !strings.Contains(body, "<errorCode>"+c[1]+"</errorCode>") {
			t.Errorf("%s: %d, want a fault with errorCode %s\n%s", name, status, c[1], body)
			continue
		}
		var d struct {
			Message struct{ Status, Error string }
		}
		if code := h.adminGet("/admin/v1/messages/"+hdr.Get("X-Kopir-Message-Id"), &d); code != 200 || d.Message.Status != "REJECTED" || !strings.Contains(d.Message.Error, c[1]) {
			t.Errorf("%s: stored as %d %+v", name, code, d)
		}
	}
	if status := h.adminGet("/readyz", nil); status != 200 {
		t.Errorf("/readyz %d after the refusals", status)
	}
	if status, _, body := h.agencyPost("/shep/sync", sign(gateway)(envelope(fmt.Sprintf("ok-%d", stamp), ""))); status != 200 {
		t.Errorf("a genuine message after the refusals: %d %s", status, body)
	}
}

func demoSigner(t *testing.T, cert, key string) xmlsig.Signer {
	t.Helper()
	s, err := xmlsig.LoadSigner(xmlsig.KeyConfig{Cert: pki(cert), Key: pki(key)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// agencyPost sends a SOAP envelope to the agency listener as the gateway
// would, and returns the status, headers and answer.
func (h *harness) agencyPost(path string, envelope []byte) (int, http.Header, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.agency+path, bytes.NewReader(envelope))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `""`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("agency listener %s: %v", path, err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, string(answer)
}
