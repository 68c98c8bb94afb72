package main

import (
	"bytes"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

// TestAgencyMutualTLS serves the agency listener over TLS with the SHEP
// channel asking for client certificates: demo-agency is bound to the
// gateway's BIN. Connections without a certificate, with one of another
// CA, revoked or expired are refused before the channel, precisely and on
// record; a trusted certificate of another organisation may not speak
// for demo-agency; the right one is served, and the iso20022 channel,
// which asks for none, still serves clients without one.
func TestAgencyMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	now := time.Now()
	nb, na := now.Add(-time.Hour), now.Add(24*time.Hour)
	dir := t.TempDir()
	ca, err := testpki.NewCA("Köpir TEST client CA", nb, na)
	must(t, err)
	stranger, err := testpki.NewCA("Köpir TEST other CA", nb, na)
	must(t, err)
	issue := func(ca *testpki.CA, l testpki.Leaf) tls.Certificate {
		if l.NotBefore.IsZero() {
			l.NotBefore, l.NotAfter = nb, na
		}
		cert, key, err := ca.Issue(l)
		must(t, err)
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}
	server := issue(ca, testpki.Leaf{CommonName: "kopir agency listener", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	serverCert, serverKey, err := testpki.WritePEM(dir, "server", server.Leaf, server.PrivateKey.(*rsa.PrivateKey))
	must(t, err)
	caPath, _, err := testpki.WritePEM(dir, "client-ca", ca.Cert, nil)
	must(t, err)
	gatewayBIN := "151240001235"
	agency := issue(ca, testpki.Leaf{CommonName: "demo agency", SerialNumber: "BIN" + gatewayBIN})
	other := issue(ca, testpki.Leaf{CommonName: "another organisation", SerialNumber: "BIN000740000728"})
	revoked := issue(ca, testpki.Leaf{CommonName: "revoked agency", SerialNumber: "BIN" + gatewayBIN})
	expired := issue(ca, testpki.Leaf{CommonName: "expired agency", SerialNumber: "BIN" + gatewayBIN, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)})
	foreign := issue(stranger, testpki.Leaf{CommonName: "demo agency", SerialNumber: "BIN" + gatewayBIN})
	_, crlDER, err := ca.CRL([]*x509.Certificate{revoked.Leaf}, nb, na)
	must(t, err)
	crlPath, err := testpki.WriteCRL(dir, "client-ca.crl", crlDER)
	must(t, err)

	h := newHarnessWith(t, func(h *harness) string {
		cfg := demoConfig(h, "{attempts: 3}")
		cfg = strings.Replace(cfg, fmt.Sprintf("admin: %q}", h.admin), fmt.Sprintf("admin: %q, agencyTLS: {cert: %q, key: %q}}", h.admin, serverCert, serverKey), 1)
		return strings.Replace(cfg, `  - name: shep
    options:
      senders: [{id: demo-agency, password: demo-secret, signers: {bins: ["151240001235"]}}]`, fmt.Sprintf(`  - name: shep
    clientCerts: {required: true, roots: [%q], crls: [%q]}
    options:
      senders: [{id: demo-agency, password: demo-secret, signers: {bins: ["151240001235"]}, clients: {bins: ["151240001235"]}}]`, caPath, crlPath), 1)
	})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	post := func(cert *tls.Certificate, path string, body []byte) (int, http.Header, string) {
		t.Helper()
		tc := &tls.Config{RootCAs: roots}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodPost, "https://"+h.agency+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	gateway := demoSigner(t, "gateway.pem", "gateway.key")
	stamp := now.UnixNano() % 1e9
	envelope := func(id string) []byte {
		b, err := shep.MarshalSendMessage(&shep.Request{
			Info: shep.NewInfo(fmt.Sprintf("%s-%d", id, stamp), "", "MINFIN_PaymentNotify", "demo-agency", "demo-secret", time.Now()),
			Data: shep.Payload{Value: &shep.AnyXML{InnerXML: "<payment><amount>1</amount></payment>"}},
		})
		must(t, err)
		out, err := xmlsig.Sign(b, gateway)
		must(t, err)
		return out
	}
	stored := func(name string, hdr http.Header, wantErr string) {
		t.Helper()
		var d struct {
			Message struct{ Status, Error string }
		}
		if code := h.adminGet("/admin/v1/messages/"+hdr.Get("X-Kopir-Message-Id"), &d); code != 200 || d.Message.Status != "REJECTED" || !strings.Contains(d.Message.Error, wantErr) {
			t.Errorf("%s: stored as %d %+v, want REJECTED naming %s", name, code, d, wantErr)
		}
	}
	for _, c := range []struct {
		name   string
		cert   *tls.Certificate
		status int
		code   string
	}{
		{"no client certificate", nil, 401, ""},
		{"a certificate of another CA", &foreign, 403, string(xmlsig.ReasonUntrusted)},
		{"a revoked certificate", &revoked, 403, string(xmlsig.ReasonRevoked)},
		{"an expired certificate", &expired, 403, string(xmlsig.ReasonExpired)},
	} {
		status, hdr, body := post(c.cert, "/shep/sync", envelope("refused"))
		var p struct{ Title, Code string }
		json.Unmarshal([]byte(body), &p)
		if status != c.status || p.Code != c.code || hdr.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want %d problem code %q", c.name, status, body, c.status, c.code)
			continue
		}
		stored(c.name, hdr, p.Title)
	}
	status, hdr, body := post(&other, "/shep/sync", envelope("other"))
	if status != 500 || !strings.Contains(body, "<errorCode>CLIENT_SENDER_MISMATCH</errorCode>") {
		t.Errorf("another organisation's certificate for demo-agency: %d %s", status, body)
	} else {
		stored("another organisation", hdr, "CLIENT_SENDER_MISMATCH")
	}
	if status, _, body := post(&agency, "/shep/sync", envelope("genuine")); status != 200 {
		t.Errorf("the bound certificate: %d %s", status, body)
	}
	// The ISO 20022 channel asks for no certificate: a client without one
	// reaches it and gets its own contract's answer to a bad document.
	if status, _, body := post(nil, "/iso20022", []byte("<not-iso/>")); status == 401 || status == 403 || status >= 500 {
		t.Errorf("the iso20022 channel without a client certificate: %d %s", status, body)
	}
	if status := h.adminGet("/readyz", nil); status != 200 {
		t.Errorf("/readyz %d after the refusals", status)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
