package ncanode_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/ncanode"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/internal/units"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
	"github.com/minfin-kz/kopir/mocks"
	mockncanode "github.com/minfin-kz/kopir/mocks/ncanode"
)

// resources are the core's, as far as NCANode is concerned: the real
// layered transport, so that what it reports to an exchange's observer is
// what the bus would store.
func resources(t testing.TB) adapters.Resources {
	return adapters.Resources{
		Logger: slog.New(slog.DiscardHandler), Clock: time.Now,
		NewTransport: func(spec adapters.TransportSpec) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{Endpoints: spec.Endpoints, Retry: spec.Retry, Breaker: spec.Breaker, AttemptTimeout: spec.Timeout.D()})
		},
	}
}

func mockNCANode(t testing.TB, o ...any) (url string, control string) {
	srv := httptest.NewServer(mocks.New(mocks.Options{Seed: 1}, o...))
	t.Cleanup(srv.Close)
	return srv.URL + mockncanode.Prefix, srv.URL
}

func demoP12(t testing.TB) []byte {
	b, err := os.ReadFile("../../mocks/pki/" + testpki.DemoKopirP12)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envelope is an unsigned SHEP SendMessage asking GBD FL about an IIN.
func envelope(t testing.TB) []byte {
	b, err := os.ReadFile("../../internal/xmlsig/testdata/shep_sync_sendmessage_gbdfl_request.xml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const iin = "931002451325"

func received(t *testing.T, control string) mocks.Received {
	t.Helper()
	resp, err := http.Get(control + "/_control/received/" + mockncanode.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r mocks.Received
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func putFault(t *testing.T, control, fault string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, control+"/_control/faults/"+mockncanode.Name, strings.NewReader(fault))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("fault %s: %d", fault, resp.StatusCode)
	}
}

func signer(t testing.TB, o ncanode.SigningOptions, p12 []byte, password string) *ncanode.Signer {
	t.Helper()
	s, err := ncanode.NewSigner(o, p12, password)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Provision(resources(t)); err != nil {
		t.Fatal(err)
	}
	return s
}

func count(t *testing.T, control, key string) int64 {
	t.Helper()
	for _, it := range received(t, control).Items {
		if it.Key == key {
			return it.Count
		}
	}
	return 0
}

// NCANode signs, Köpir sends what it signed: the envelope verifies against
// the demo root with the demo key's certificate, the mock logged that very
// signature, the certificate was checked once for two envelopes, and the
// exchange's attempt observer never saw a request carrying the key.
func TestSignerSignsThroughNCANode(t *testing.T) {
	url, control := mockNCANode(t)
	s := signer(t, ncanode.SigningOptions{Service: ncanode.Service{URL: url}}, demoP12(t), testpki.DemoP12Password)
	var observed []adapters.AttemptInfo
	var mu sync.Mutex
	ctx := adapters.WithAttemptObserver(context.Background(), func(a adapters.AttemptInfo) { mu.Lock(); observed = append(observed, a); mu.Unlock() })

	var sigs []string
	var cert *x509.Certificate
	for range 2 {
		signed, err := s.SignEnvelope(ctx, envelope(t))
		if err != nil {
			t.Fatal(err)
		}
		v, err := xmlsig.Verify(signed)
		if err != nil {
			t.Fatal(err)
		}
		cert = v.Certificate
		sigs = append(sigs, mockncanode.SignatureValue(signed))
	}
	if cert.Subject.CommonName != "Köpir DEMO sender" {
		t.Fatalf("signed by %q", cert.Subject)
	}
	for _, sig := range sigs {
		if count(t, control, "sign "+sig) != 1 {
			t.Errorf("the mock did not produce signature %.20s…", sig)
		}
	}
	if n := count(t, control, "x509 "+cert.SerialNumber.Text(16)); n != 1 {
		t.Errorf("certificate checked %d times for two envelopes, want once (cached)", n)
	}
	if len(observed) != 0 {
		t.Errorf("calls to NCANode were reported to the exchange's observer (their bodies hold the key): %d", len(observed))
	}
}

type failure struct {
	code      string
	status    int
	retryable bool
}

func outboundErr(t *testing.T, err error) failure {
	t.Helper()
	var ae *adapters.Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *adapters.Error, got %T %v", err, err)
	}
	return failure{ae.Code, ae.Status, ae.Retryable}
}

func TestSignerFailuresAreNamed(t *testing.T) {
	url, control := mockNCANode(t)
	fast := ncanode.Service{URL: url, Retry: adapters.RetrySpec{Attempts: 2, Backoff: units.Duration(time.Millisecond), Cap: units.Duration(time.Millisecond)}}

	_, err := signer(t, ncanode.SigningOptions{Service: fast}, demoP12(t), "wrong").SignEnvelope(context.Background(), envelope(t))
	if got := outboundErr(t, err); got != (failure{ncanode.CodeRejected, 502, false}) {
		t.Errorf("wrong password: %+v (%v)", got, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	_, err = signer(t, ncanode.SigningOptions{Service: ncanode.Service{URL: closed, Retry: fast.Retry}}, demoP12(t), testpki.DemoP12Password).SignEnvelope(context.Background(), envelope(t))
	if got := outboundErr(t, err); got != (failure{ncanode.CodeUnreachable, 502, true}) {
		t.Errorf("unreachable: %+v (%v)", got, err)
	}

	for _, status := range []string{"500", "503"} {
		putFault(t, control, `{"failRate":1,"status":`+status+`}`)
		_, err = signer(t, ncanode.SigningOptions{Service: fast}, demoP12(t), testpki.DemoP12Password).SignEnvelope(context.Background(), envelope(t))
		if got := outboundErr(t, err); got != (failure{ncanode.CodeError, 502, true}) || !strings.Contains(err.Error(), "HTTP "+status) {
			t.Errorf("NCANode answering %s: %+v (%v)", status, got, err)
		}
	}
}

// issued is a fresh CA with a leaf in a PKCS#12 container, for certificates
// the demo PKI does not have: revoked, expired, without the policy.
type issued struct {
	ca   *testpki.CA
	cert *x509.Certificate
	p12  []byte
	key  xmlsig.Signer
}

func issue(t *testing.T, l testpki.Leaf) issued {
	t.Helper()
	now := time.Now()
	ca, err := testpki.NewCA("Test root", now.AddDate(-2, 0, 0), now.AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(l)
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(key, cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	s, err := xmlsig.NewRSASigner(key, cert)
	if err != nil {
		t.Fatal(err)
	}
	return issued{ca, cert, p12, s}
}

func (i issued) trust(t *testing.T, revoke bool) *xmlsig.Trust {
	t.Helper()
	var crls []*x509.RevocationList
	if revoke {
		crl, _, err := i.ca.CRL([]*x509.Certificate{i.cert}, time.Now().Add(-time.Minute), time.Now().AddDate(0, 0, 7))
		if err != nil {
			t.Fatal(err)
		}
		crls = append(crls, crl)
	}
	tr, err := xmlsig.NewTrust([]*x509.Certificate{i.ca.Cert}, nil, crls, "")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// An envelope signed with a certificate NCANode holds revoked, expired or
// unknown is not sent: the caller hears which.
func TestSignerRefusesBadCertificate(t *testing.T) {
	now := time.Now()
	good := testpki.Leaf{CommonName: "sender", NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), Policies: []string{xmlsig.PolicySigning}}
	expired := good
	expired.NotBefore, expired.NotAfter = now.AddDate(-1, 0, 0), now.Add(-time.Hour)

	revoked := issue(t, good)
	url, _ := mockNCANode(t, mockncanode.Options{Trust: revoked.trust(t, true)})
	_, err := signer(t, ncanode.SigningOptions{Service: ncanode.Service{URL: url, RevocationCheck: []string{"CRL"}}}, revoked.p12, "pw").SignEnvelope(context.Background(), envelope(t))
	if got := outboundErr(t, err); got != (failure{string(xmlsig.ReasonRevoked), 502, false}) {
		t.Errorf("revoked: %+v (%v)", got, err)
	}

	old := issue(t, expired)
	url, _ = mockNCANode(t, mockncanode.Options{Trust: old.trust(t, false)})
	_, err = signer(t, ncanode.SigningOptions{Service: ncanode.Service{URL: url}}, old.p12, "pw").SignEnvelope(context.Background(), envelope(t))
	if got := outboundErr(t, err); got.code != string(xmlsig.ReasonExpired) {
		t.Errorf("expired: %+v (%v)", got, err)
	}

	stranger := issue(t, good)
	url, _ = mockNCANode(t) // trusts the demo root only
	_, err = signer(t, ncanode.SigningOptions{Service: ncanode.Service{URL: url}}, stranger.p12, "pw").SignEnvelope(context.Background(), envelope(t))
	if got := outboundErr(t, err); got.code != string(xmlsig.ReasonUntrusted) {
		t.Errorf("unknown CA: %+v (%v)", got, err)
	}
}

func verifier(t testing.TB, s ncanode.Service, policy string) *ncanode.Verifier {
	t.Helper()
	v, err := ncanode.NewVerifier(s, policy)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Provision(resources(t)); err != nil {
		t.Fatal(err)
	}
	return v
}

func reasonOf(t *testing.T, err error) (xmlsig.Reason, bool) {
	t.Helper()
	var e *xmlsig.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *xmlsig.Error, got %T %v", err, err)
	}
	return e.Reason, e.Unavailable
}

func TestVerifier(t *testing.T) {
	now := time.Now()
	good := testpki.Leaf{CommonName: "agency", NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), Policies: []string{xmlsig.PolicySigning}}
	sender := issue(t, good)
	url, control := mockNCANode(t, mockncanode.Options{Trust: sender.trust(t, false)})
	v := verifier(t, ncanode.Service{URL: url, RevocationCheck: []string{"OCSP"}}, xmlsig.PolicySigning)
	signed, err := xmlsig.Sign(envelope(t), sender.key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.VerifyEnvelope(context.Background(), signed)
	if err != nil || !got.Certificate.Equal(sender.cert) {
		t.Fatalf("verified %+v: %v", got, err)
	}
	if count(t, control, "verify "+mockncanode.SignatureValue(signed)) != 1 {
		t.Error("NCANode was not asked")
	}

	s := string(signed)
	before := received(t, control).Total
	for name, c := range map[string]struct {
		env  string
		want xmlsig.Reason
	}{
		"unsigned":    {string(envelope(t)), xmlsig.ReasonMissing},
		"second body": {s[:len(s)-len("</SOAP-ENV:Envelope>")] + `<SOAP-ENV:Body><x/></SOAP-ENV:Body></SOAP-ENV:Envelope>`, xmlsig.ReasonMalformed},
	} {
		_, err := v.VerifyEnvelope(context.Background(), []byte(c.env))
		if r, _ := reasonOf(t, err); r != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
	if after := received(t, control).Total; after != before {
		t.Errorf("NCANode was asked about envelopes outside the profile (%d calls)", after-before)
	}

	_, err = v.VerifyEnvelope(context.Background(), []byte(strings.Replace(s, iin, "931002451326", 1)))
	if r, _ := reasonOf(t, err); r != xmlsig.ReasonInvalid {
		t.Errorf("tampered: %v", err)
	}

	noPolicy := good
	noPolicy.Policies = nil
	other := issue(t, noPolicy)
	url2, _ := mockNCANode(t, mockncanode.Options{Trust: other.trust(t, true)})
	otherSigned, err := xmlsig.Sign(envelope(t), other.key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifier(t, ncanode.Service{URL: url2, RevocationCheck: []string{"OCSP"}}, "").VerifyEnvelope(context.Background(), otherSigned)
	if r, _ := reasonOf(t, err); r != xmlsig.ReasonRevoked {
		t.Errorf("revoked: %v", err)
	}
	_, err = verifier(t, ncanode.Service{URL: url2}, xmlsig.PolicySigning).VerifyEnvelope(context.Background(), otherSigned)
	if r, _ := reasonOf(t, err); r != xmlsig.ReasonPolicy {
		t.Errorf("without the policy: %v", err)
	}

	putFault(t, control, `{"failRate":1,"status":500}`)
	_, err = v.VerifyEnvelope(context.Background(), signed)
	if r, unavailable := reasonOf(t, err); r != ncanode.CodeError || !unavailable {
		t.Errorf("NCANode failing: %v (unavailable %v)", err, unavailable)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for _, c := range []struct {
		s    ncanode.Service
		want string
	}{
		{ncanode.Service{}, "url: NCANode's base URL is required"},
		{ncanode.Service{URL: "ftp://x"}, `url: "ftp://x" is not an absolute http(s) URL`},
		{ncanode.Service{URL: "http://x", RevocationCheck: []string{"OCSP", "LDAP"}}, `revocationCheck[1]: "LDAP" is neither OCSP nor CRL`},
	} {
		if _, err := ncanode.NewVerifier(c.s, ""); err == nil || err.Error() != c.want {
			t.Errorf("%+v: %v, want %s", c.s, err, c.want)
		}
	}
	if _, err := ncanode.NewSigner(ncanode.SigningOptions{Service: ncanode.Service{URL: "http://x"}}, nil, "pw"); err == nil {
		t.Error("an empty key container was accepted")
	}
	s, _ := ncanode.NewSigner(ncanode.SigningOptions{Service: ncanode.Service{URL: "http://x"}}, []byte{1}, "pw")
	if _, err := s.SignEnvelope(context.Background(), envelope(t)); err == nil {
		t.Error("an unprovisioned signer signed")
	}
}
