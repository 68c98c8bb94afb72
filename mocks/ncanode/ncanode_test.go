package ncanode_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	contract "github.com/minfin-kz/kopir/contracts/ncanode"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/mocks"
	"github.com/minfin-kz/kopir/mocks/internal/mocktest"
	"github.com/minfin-kz/kopir/mocks/ncanode"
	"github.com/minfin-kz/kopir/mocks/pki"
)

func demoKey(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../pki/" + testpki.DemoKopirP12)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func post(t *testing.T, url, path string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	status, body := mocktest.Do(t, "POST", url+ncanode.Prefix+path, b, "Content-Type", "application/json")
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: %d %s", path, status, body)
	}
	return status
}

func demoTrust(t *testing.T) *xmlsig.Trust {
	t.Helper()
	ca, _ := pki.Files.ReadFile(testpki.DemoCA)
	roots, err := xmlsig.ParseCertificates(ca)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := xmlsig.NewTrust(roots, nil, nil, xmlsig.PolicySigning)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// What the mock signs is the gateway's layout with the key it was handed,
// verifiable by anyone trusting the demo root; it verifies its own work,
// describes the certificate, and logs each signature it made or checked.
func TestSignVerifyInfo(t *testing.T) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	env := mocktest.Envelope(t, "kopir", "kopir-secret", "GBDFL_UniversalServiceSync", "880501300124")

	var signed contract.SignResponse
	if st := post(t, srv.URL, contract.PathWSSESign, contract.WSSESignRequest{XML: string(env), Key: demoKey(t), Password: testpki.DemoP12Password}, &signed); st != 200 || signed.Status.Status != 200 {
		t.Fatalf("sign: %d %+v", st, signed.Status)
	}
	v, err := xmlsig.Verify([]byte(signed.XML))
	if err != nil {
		t.Fatal(err)
	}
	if err := demoTrust(t).Check(t.Context(), v.Certificate, time.Now()); err != nil || v.Certificate.Subject.CommonName != "Köpir DEMO sender" {
		t.Fatalf("signed by %q: %v", v.Certificate.Subject, err)
	}
	sig := ncanode.SignatureValue([]byte(signed.XML))

	var ver contract.VerificationResponse
	if st := post(t, srv.URL, contract.PathWSSEVerify, contract.VerifyRequest{XML: signed.XML, RevocationCheck: []string{contract.RevocationCRL}}, &ver); st != 200 || !ver.Valid || len(ver.Signers) != 1 {
		t.Fatalf("verify: %d %+v", st, ver)
	}
	ci := ver.Signers[0]
	if ci.SerialNumber != v.Certificate.SerialNumber.Text(16) || ci.KeyUsage != contract.KeyUsageSign || len(ci.Revocations) != 1 || ci.Revocations[0].Revoked || ci.Revocations[0].By != "CRL" {
		t.Fatalf("certificate described as %+v", ci)
	}
	tampered := strings.Replace(signed.XML, "880501300124", "880501300125", 1)
	if post(t, srv.URL, contract.PathWSSEVerify, contract.VerifyRequest{XML: tampered}, &ver); ver.Valid || len(ver.Signers) != 1 || !ver.Signers[0].Valid {
		t.Fatalf("tampered envelope: %+v", ver)
	}
	if post(t, srv.URL, contract.PathWSSEVerify, contract.VerifyRequest{XML: string(env)}, &ver); ver.Valid || len(ver.Signers) != 0 {
		t.Fatalf("unsigned envelope: %+v", ver)
	}

	var info contract.VerificationResponse
	der := base64.StdEncoding.EncodeToString(v.Certificate.Raw)
	if st := post(t, srv.URL, contract.PathX509Info, contract.VerifyRequest{Certs: []string{der}}, &info); st != 200 || !info.Valid || len(info.Signers) != 1 {
		t.Fatalf("x509 info: %d %+v", st, info)
	}
	if !info.Signers[0].NotAfter.Equal(v.Certificate.NotAfter) || info.Signers[0].Subject.CommonName != "Köpir DEMO sender" {
		t.Fatalf("x509 info: %+v", info.Signers[0])
	}

	got := mocktest.Received(t, srv.URL, ncanode.Name)
	for _, key := range []string{"sign " + sig, "verify " + sig, "x509 " + ci.SerialNumber} {
		found := false
		for _, it := range got.Items {
			found = found || it.Key == key && it.Count >= 1
		}
		if !found {
			t.Errorf("log has no %.40q…: %+v", key, got.Items)
		}
	}
}

// A certificate outside the mock's CA store is described as not valid; a
// wrong password or no key is refused 400 as NCANode refuses it; injected
// faults answer NCANode's error shape with the injected status.
func TestRefusalsAndFaults(t *testing.T) {
	other, err := testpki.NewCA("Other root", time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	stranger, _, err := other.Issue(testpki.Leaf{CommonName: "stranger", NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}))
	defer srv.Close()
	var info contract.VerificationResponse
	post(t, srv.URL, contract.PathX509Info, contract.VerifyRequest{Certs: []string{base64.StdEncoding.EncodeToString(stranger.Raw)}}, &info)
	if info.Valid || info.Signers[0].Valid {
		t.Fatalf("a certificate of an unknown CA: %+v", info)
	}

	env := mocktest.Envelope(t, "kopir", "kopir-secret", "GBDFL_UniversalServiceSync", "880501300124")
	var st contract.Status
	if code := post(t, srv.URL, contract.PathWSSESign, contract.WSSESignRequest{XML: string(env), Key: demoKey(t), Password: "wrong"}, &st); code != 400 || st.Status != 400 || st.Message == "" {
		t.Fatalf("wrong password: %d %+v", code, st)
	}
	if code := post(t, srv.URL, contract.PathWSSESign, contract.WSSESignRequest{XML: string(env)}, &st); code != 400 {
		t.Fatalf("no key: %d %+v", code, st)
	}

	mocktest.PutFault(t, srv.URL, ncanode.Name, `{"failRate":1,"status":503}`)
	if code := post(t, srv.URL, contract.PathWSSESign, contract.WSSESignRequest{XML: string(env), Key: demoKey(t), Password: testpki.DemoP12Password}, &st); code != 503 || st.Status != 503 {
		t.Fatalf("injected failure: %d %+v", code, st)
	}
	if got := mocktest.Received(t, srv.URL, ncanode.Name); got.Rejected != 1 {
		t.Fatalf("injected failure not logged: %+v", got)
	}
}

// The mock's own trust can be replaced, e.g. by one holding a CRL that
// revokes a certificate; revocation is only reported when asked for.
func TestRevocationWhenAsked(t *testing.T) {
	now := time.Now()
	ca, err := testpki.NewCA("Test root", now.Add(-time.Hour), now.AddDate(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.Issue(testpki.Leaf{CommonName: "revoked", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	crl, _, err := ca.CRL([]*x509.Certificate{cert}, now.Add(-time.Minute), now.AddDate(0, 0, 7))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := xmlsig.NewTrust([]*x509.Certificate{ca.Cert}, nil, []*x509.RevocationList{crl}, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, ncanode.Options{Trust: tr}))
	defer srv.Close()
	der := base64.StdEncoding.EncodeToString(cert.Raw)
	var info contract.VerificationResponse
	post(t, srv.URL, contract.PathX509Info, contract.VerifyRequest{Certs: []string{der}}, &info)
	if !info.Valid {
		t.Fatalf("without revocationCheck revocation is not looked at: %+v", info)
	}
	post(t, srv.URL, contract.PathX509Info, contract.VerifyRequest{Certs: []string{der}, RevocationCheck: []string{contract.RevocationOCSP}}, &info)
	rv := info.Signers[0].Revocations
	if info.Valid || len(rv) != 1 || !rv[0].Revoked || rv[0].By != "OCSP" {
		t.Fatalf("revoked certificate: %+v", info)
	}
}
