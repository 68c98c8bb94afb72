package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/iso20022/components"
	"github.com/minfin-kz/kopir/contracts/iso20022/isodoc"
	"github.com/minfin-kz/kopir/contracts/iso20022/msg/pacs002"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/internal/xmlsig/testpki"
)

// The hostile-input suite: what an attacker sends to each of the three
// listeners. Every case asserts the exact status and code, that a refusal
// the README says is recorded is stored as REJECTED (found by the message id
// the answer names), that nothing sensitive is in the answer, and that the
// bus still answers /readyz. It runs on SQLite and on PostgreSQL.

// hostile is one request and what must come of it.
type hostile struct {
	name     string
	listener string // internal, agency, admin
	method   string // POST unless set
	path     string
	token    string // bearer token; "" sends none
	header   map[string]string
	body     []byte
	// before, when set, is sent first and must succeed (2xx): the case is
	// its repeat, e.g. a reused Idempotency-Key.
	before *hostile

	status int
	code   string // problem type, field or SOAP / ISO code the answer must name
	record bool   // the refusal must be stored as REJECTED
	allow  string // the Allow header a 405 must carry
}

// suitePKI is the trust the SHEP channel is configured with in the suite,
// and the certificates attackers sign with.
type suitePKI struct {
	dir                                                   string
	valid, expired, revoked, noPolicy, wrongUse, stranger xmlsig.Signer
}

func newSuitePKI(t *testing.T) *suitePKI {
	t.Helper()
	now := time.Now()
	nb, na := now.Add(-48*time.Hour), now.AddDate(1, 0, 0)
	ca, err := testpki.NewCA("hostile-suite root", nb, na)
	if err != nil {
		t.Fatal(err)
	}
	other, err := testpki.NewCA("someone else's root", nb, na)
	if err != nil {
		t.Fatal(err)
	}
	p := &suitePKI{dir: t.TempDir()}
	issue := func(ca *testpki.CA, l testpki.Leaf) (xmlsig.Signer, *x509.Certificate) {
		if l.NotBefore.IsZero() {
			l.NotBefore, l.NotAfter = nb, na.Add(-time.Hour)
		}
		if l.Policies == nil {
			l.Policies = []string{xmlsig.PolicySigning}
		}
		s, c, err := ca.Signer(l)
		if err != nil {
			t.Fatal(err)
		}
		return s, c
	}
	p.valid, _ = issue(ca, testpki.Leaf{CommonName: "demo agency"})
	p.expired, _ = issue(ca, testpki.Leaf{CommonName: "expired", NotBefore: nb, NotAfter: now.Add(-time.Hour)})
	var revokedCert *x509.Certificate
	p.revoked, revokedCert = issue(ca, testpki.Leaf{CommonName: "revoked"})
	p.noPolicy, _ = issue(ca, testpki.Leaf{CommonName: "no policy", Policies: []string{}})
	p.wrongUse, _ = issue(ca, testpki.Leaf{CommonName: "encryption only", KeyUsage: x509.KeyUsageKeyEncipherment})
	p.stranger, _ = issue(other, testpki.Leaf{CommonName: "stranger"})
	_, crl, err := ca.CRL([]*x509.Certificate{revokedCert}, now.Add(-time.Hour), na)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(p.dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", ca.Cert.Raw)
	write("crl.pem", "X509 CRL", crl)
	return p
}

const hostileSecrets = "sender-secret-7Qx" // SHEP password; must never be echoed

func hostileConfig(h *harness, p *suitePKI) string {
	return fmt.Sprintf(`demo: true
listen: {internal: %q, agency: %q, admin: %q}
dataDir: %q
callers: [{name: demo, token: demo-token}]
admins: [{name: operator, token: admin-token, role: admin}]
routes:
  - name: gbdfl.person
    adapter: gbdfl
    operation: person
    endpoints: [http://%[5]s/shep/sync]
    callers: [demo]
    personalData: {mask: [iin, lastName, firstName, middleName, birthDate]}
    options: {senderId: kopir, password: kopir-secret}
  - name: subscriber.deliver
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/e2e]
    callers: [demo]
  - name: payments.credit-transfer
    adapter: iso20022
    operation: credit-transfer
    mode: async
    endpoints: [http://%[5]s/payments]
    callers: [demo]
    options: {senderBIC: KKMFKZ2A, receiverBIC: NBRKKZKX}
  - name: payments.status
    inbound: {channel: iso20022, key: pacs.002}
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/payments/status]
  - name: minfin.payment-notify
    inbound: {channel: shep, key: MINFIN_PaymentNotify}
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/payment-notify]
channels:
  - name: iso20022
    options: {senders: [NBRKKZKX]}
  - name: shep
    maxBody: 256KiB
    options:
      senders: [{id: demo-agency, password: %[6]s}]
      requireSignature: true
      trust: {roots: [%[7]q], crls: [%[8]q], policy: 1.2.398.5.19.1.2.2.1.2}
`, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), h.mocks, hostileSecrets,
		filepath.Join(p.dir, "ca.pem"), filepath.Join(p.dir, "crl.pem"))
}

func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	p := newSuitePKI(t)
	cases := hostileCases(t, p)
	if len(cases) < 80 {
		t.Fatalf("the suite has %d cases; it promises at least 80", len(cases))
	}
	for _, st := range []string{"sqlite", "postgres"} {
		t.Run(st, func(t *testing.T) {
			if st == "postgres" {
				schema := "e2e_hostile_" + uniqueSuffix()
				freshSchema(t, schema)
				t.Setenv("KOPIR_DATABASE_URL", schemaDSN(schema))
			}
			h := newHarnessWith(t, func(h *harness) string { return hostileConfig(h, p) })
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { h.hostile(t, c) })
			}
		})
	}
}

// leaks are what no answer may contain: store and runtime internals, file
// contents, configured secrets, paths of this machine.
var leaks = []string{"SQLSTATE", "sqlite", "pgx", "pq:", "goroutine", "panic", "runtime error", "root:x:0",
	hostileSecrets, "kopir-secret", "admin-token", "demo-token", "PRIVATE KEY", "/tmp/", "/etc/"}

func (h *harness) hostile(t *testing.T, c hostile) {
	if c.before != nil {
		if resp, body := h.send(t, *c.before); resp.StatusCode >= 300 {
			t.Fatalf("the first call failed: %d %s", resp.StatusCode, body)
		}
	}
	resp, body := h.send(t, c)
	if resp.StatusCode != c.status {
		t.Fatalf("status %d, want %d\n%s", resp.StatusCode, c.status, tail(string(body), 2000))
	}
	if c.code != "" && !bytes.Contains(body, []byte(c.code)) {
		t.Errorf("the answer does not name %q:\n%s", c.code, tail(string(body), 2000))
	}
	if c.allow != "" && !strings.Contains(resp.Header.Get("Allow"), c.allow) {
		t.Errorf("Allow %q, want %q", resp.Header.Get("Allow"), c.allow)
	}
	for _, l := range leaks {
		if bytes.Contains(body, []byte(l)) || strings.Contains(fmt.Sprint(resp.Header), l) {
			t.Errorf("the answer gives away %q:\n%s", l, tail(string(body), 2000))
		}
	}
	if c.status >= 400 && len(body) > 16<<10 {
		t.Errorf("a refusal of %d bytes: answers must not echo unbounded input", len(body))
	}
	if bytes.Contains(body, []byte(h.dir)) {
		t.Errorf("the answer names the data folder:\n%s", body)
	}
	if c.record {
		id := resp.Header.Get("X-Kopir-Message-Id")
		if id == "" {
			var v struct{ MessageID string }
			json.Unmarshal(body, &v)
			id = v.MessageID
		}
		if id == "" || len(id) > 64 {
			t.Errorf("the refusal names no message id (%q)", tail(id, 80))
		} else {
			var d struct {
				Message struct{ Status, Route, Error string }
			}
			if code := h.adminGet("/admin/v1/messages/"+id, &d); code != 200 || d.Message.Status != "REJECTED" {
				t.Errorf("refusal %s stored as %d %+v", id, code, d.Message)
			}
			if len(d.Message.Route) > 256 || len(d.Message.Error) > 4096 {
				t.Errorf("refusal stored unbounded: route %d bytes, error %d bytes", len(d.Message.Route), len(d.Message.Error))
			}
		}
	}
	if r, err := http.Get("http://" + h.admin + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Fatalf("/readyz after the case: %v %v", r, err)
	} else {
		r.Body.Close()
	}
}

func (h *harness) send(t *testing.T, c hostile) (*http.Response, []byte) {
	t.Helper()
	addr := map[string]string{"internal": h.internal, "agency": h.agency, "admin": h.admin}[c.listener]
	method := c.method
	if method == "" {
		method = "POST"
	}
	req, err := http.NewRequest(method, "http://"+addr+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	switch {
	case c.listener == "agency" && strings.HasPrefix(c.path, "/shep"):
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	case c.listener == "agency":
		req.Header.Set("Content-Type", "application/xml")
	case len(c.body) > 0:
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, c.path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, body
}

func hostileCases(t *testing.T, p *suitePKI) []hostile {
	var cases []hostile
	cases = append(cases, internalCases()...)
	cases = append(cases, shepCases(t, p)...)
	cases = append(cases, isoCases(t)...)
	cases = append(cases, adminCases()...)
	return cases
}

const person = `{"iin":"880501300124"}`

func order(e2e string) string {
	return fmt.Sprintf(`{"endToEndId":%q,"amount":{"value":"150000.00","currency":"KZT"},
"debtor":{"name":"Treasury","iban":"KZ77070105KZT0000001","bic":"KKMFKZ2A","bin":"990240000030"},
"creditor":{"name":"Supplier LLP","iban":"KZ42601KZT0000123456","bic":"HSBKKZKX","bin":"050540004455"},
"remittanceInformation":"Payment for goods","knp":"911","kod":"11","kbe":"17"}`, e2e)
}

func internalCases() []hostile {
	in := func(name, route, token string, body string, status int, code string) hostile {
		return hostile{name: "internal/" + name, listener: "internal", path: "/v1/routes/" + route, token: token,
			body: []byte(body), status: status, code: code, record: true}
	}
	withHeader := func(c hostile, k, v string) hostile {
		c.header = map[string]string{k: v}
		return c
	}
	deep := strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)
	key := func(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }
	first := hostile{listener: "internal", path: "/v1/routes/gbdfl.person", token: "demo-token", body: []byte(person), header: key("reuse-1")}
	firstAsync := hostile{listener: "internal", path: "/v1/routes/subscriber.deliver", token: "demo-token", body: []byte(`{"n":1}`), header: key("reuse-2")}
	cases := []hostile{
		in("no token", "gbdfl.person", "", person, 401, "Bearer"),
		in("wrong token", "gbdfl.person", "nope", person, 401, "Bearer"),
		in("token of 64 KiB", "gbdfl.person", strings.Repeat("t", 64<<10), person, 401, "Bearer"),
		withHeader(in("basic auth", "gbdfl.person", "", person, 401, "Bearer"), "Authorization", "Basic ZGVtbzpkZW1v"),
		in("unauthenticated route name of 100 KiB", strings.Repeat("r", 100<<10), "", person, 401, "Bearer"),
		in("route name of 100 KiB", strings.Repeat("r", 100<<10), "demo-token", person, 404, "not-found"),
		in("unknown route", "gbdfl.nobody", "demo-token", person, 404, "gbdfl.person"),
		in("route name with control characters", "gbdfl.person%01%7f", "demo-token", person, 404, ""),
		in("malformed JSON", "gbdfl.person", "demo-token", `{"iin":`, 400, "JSON"),
		in("not an object", "gbdfl.person", "demo-token", `["880501300124"]`, 400, "JSON object"),
		in("empty body", "gbdfl.person", "demo-token", ``, 400, "JSON"),
		in("trailing data", "gbdfl.person", "demo-token", person+` {"iin":"1"}`, 400, "JSON"),
		in("duplicate key", "gbdfl.person", "demo-token", `{"iin":"880501300124","iin":"990101300126"}`, 400, "duplicate"),
		in("invalid UTF-8", "gbdfl.person", "demo-token", "{\"iin\":\"88050130012\xff\"}", 400, "UTF-8"),
		in("nesting 5000 deep", "gbdfl.person", "demo-token", deep, 400, ""),
		in("over the size limit", "gbdfl.person", "demo-token", `{"iin":"`+strings.Repeat("1", 2<<20)+`"}`, 413, "bytes"),
		in("unknown field", "gbdfl.person", "demo-token", `{"iin":"880501300124","extra":1}`, 422, "extra"),
		in("bad check digit", "gbdfl.person", "demo-token", `{"iin":"880501300125"}`, 422, "iin"),
		in("IIN as a number", "gbdfl.person", "demo-token", `{"iin":880501300124}`, 422, "iin"),
		in("IIN with a NUL", "gbdfl.person", "demo-token", `{"iin":"88050130012\u0000"}`, 422, "iin"),
		withHeader(in("Idempotency-Key of 4 KiB", "gbdfl.person", "demo-token", person, 400, "Idempotency-Key"), "Idempotency-Key", strings.Repeat("k", 4<<10)),
		withHeader(in("Idempotency-Key with a control character", "gbdfl.person", "demo-token", person, 400, "Idempotency-Key"), "Idempotency-Key", "key\tkey"),
		withHeader(in("Idempotency-Key not ASCII", "gbdfl.person", "demo-token", person, 400, "Idempotency-Key"), "Idempotency-Key", "ключ"),
		withHeader(in("X-Correlation-Id of 8 KiB", "gbdfl.person", "demo-token", person, 400, "X-Correlation-Id"), "X-Correlation-Id", strings.Repeat("c", 8<<10)),
		withHeader(in("X-Correlation-Id with a newline", "gbdfl.person", "demo-token", person, 400, "X-Correlation-Id"), "X-Correlation-Id", "a\tb"),
		{name: "internal/GET on a route", listener: "internal", method: "GET", path: "/v1/routes/gbdfl.person", token: "demo-token", status: 405, allow: "POST"},
		{name: "internal/PUT on a route", listener: "internal", method: "PUT", path: "/v1/routes/gbdfl.person", token: "demo-token", body: []byte(person), status: 405, allow: "POST"},
		{name: "internal/DELETE on a route", listener: "internal", method: "DELETE", path: "/v1/routes/gbdfl.person", token: "demo-token", status: 405, allow: "POST"},
		in("async: malformed JSON", "subscriber.deliver", "demo-token", `{"n":`, 400, "JSON"),
		in("async: duplicate key", "subscriber.deliver", "demo-token", `{"n":1,"n":2}`, 400, "duplicate"),
		in("async: nested duplicate key", "subscriber.deliver", "demo-token", `{"a":{"b":1,"b":2}}`, 400, "duplicate"),
		in("async: invalid UTF-8", "subscriber.deliver", "demo-token", "{\"n\":\"\xc3\x28\"}", 400, "UTF-8"),
		in("payments: bad IBAN", "payments.credit-transfer", "demo-token", strings.Replace(order("H-IBAN"), "KZ42601KZT0000123456", "KZ00601KZT0000123456", 1), 422, "creditor.iban"),
		in("payments: negative amount", "payments.credit-transfer", "demo-token", strings.Replace(order("H-NEG"), `"150000.00"`, `"-1.00"`, 1), 422, "amount"),
		in("payments: nested duplicate key", "payments.credit-transfer", "demo-token", strings.Replace(order("H-DUP"), `"name":"Treasury"`, `"name":"Treasury","name":"Thief"`, 1), 400, "duplicate"),
		in("payments: unknown currency", "payments.credit-transfer", "demo-token", strings.Replace(order("H-CCY"), `"KZT"`, `"XXX"`, 1), 422, "currency"),
		{name: "internal/Idempotency-Key reused with another body", listener: "internal", path: "/v1/routes/gbdfl.person", token: "demo-token",
			body: []byte(`{"iin":"990101300126"}`), header: key("reuse-1"), before: &first, status: 422, code: "idempotency-key-reused", record: true},
		{name: "internal/Idempotency-Key reused on another route", listener: "internal", path: "/v1/routes/subscriber.deliver", token: "demo-token",
			body: []byte(person), header: key("reuse-3"), before: &hostile{listener: "internal", path: "/v1/routes/gbdfl.person", token: "demo-token", body: []byte(person), header: key("reuse-3")},
			status: 422, code: "idempotency-key-reused", record: true},
		{name: "internal/async Idempotency-Key reused with another body", listener: "internal", path: "/v1/routes/subscriber.deliver", token: "demo-token",
			body: []byte(`{"n":2}`), header: key("reuse-2"), before: &firstAsync, status: 422, code: "idempotency-key-reused", record: true},
	}
	return cases
}

func shepCases(t *testing.T, p *suitePKI) []hostile {
	const svc = "MINFIN_PaymentNotify"
	env := func(id, service, sender, password, data string) []byte {
		b, err := shep.MarshalSendMessage(&shep.Request{
			Info: shep.NewInfo(id, "corr-"+id, service, sender, password, time.Now()),
			Data: shep.Payload{Value: &shep.AnyXML{InnerXML: data}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := func(id string) []byte {
		return env(id, svc, "demo-agency", hostileSecrets, "<payment><amount>1</amount></payment>")
	}
	sign := func(s xmlsig.Signer, b []byte) []byte {
		out, err := xmlsig.Sign(b, s)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	signed := func(id string) []byte { return sign(p.valid, good(id)) }
	replace := func(b []byte, old, new string) []byte {
		if !bytes.Contains(b, []byte(old)) {
			t.Fatalf("shep case: %q not in the envelope", old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
	id := func(s string) string { return fmt.Sprintf("%s-%d", s, time.Now().UnixNano()) }
	fault := func(name string, body []byte, code string) hostile {
		return hostile{name: "agency/shep/" + name, listener: "agency", path: "/shep/sync", body: body, status: 500, code: code, record: true}
	}
	laughs := `<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>`
	deep := strings.Repeat("<a>", 10000) + strings.Repeat("</a>", 10000)
	body := func(b []byte) string { // the signed Body element, as it stands
		s := string(b)
		i := strings.Index(s, "<soap:Body")
		if i < 0 {
			i = strings.Index(s, "<SOAP-ENV:Body")
		}
		j := strings.LastIndex(s, "Body>")
		if i < 0 || j < i {
			t.Fatalf("no Body in\n%s", s)
		}
		return s[i : j+len("Body>")]
	}
	s1 := signed(id("xsw1"))
	s2 := signed(id("xsw2"))
	s3 := signed(id("xsw3"))
	s4 := signed(id("xsw4"))
	evil := string(good(id("evil")))
	evilBody := body([]byte(evil))
	cases := []hostile{
		fault("malformed XML", []byte("<soap:Envelope><oops>"), "KOPIR_XML_SYNTAX"),
		fault("external entity", append([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>`), good(id("xxe"))[38:]...), "KOPIR_XML_DOCTYPE"),
		fault("entity expansion", []byte(laughs), "KOPIR_XML_DOCTYPE"),
		fault("nesting 10000 deep", []byte(deep), "KOPIR_XML_DEPTH"),
		{name: "agency/shep/over the size limit", listener: "agency", path: "/shep/sync", body: replace(good(id("big")), "<amount>1</amount>", "<amount>"+strings.Repeat("1", 300<<10)+"</amount>"), status: 500, code: "KOPIR_BODY_TOO_LARGE", record: true},
		fault("wrong namespace", replace(good(id("ns")), shep.NSTypes, "http://bip.bee.kz/SyncChannel/v9/Types"), "KOPIR_UNKNOWN_OPERATION"),
		fault("missing messageId", bytes.Replace(good("gone"), []byte("<messageId>gone</messageId>"), nil, 1), "KOPIR_INVALID_ENVELOPE"),
		fault("unknown service", sign(p.valid, env(id("svc"), "NOPE_Service", "demo-agency", hostileSecrets, "<x/>")), "KOPIR_UNKNOWN_SERVICE"),
		fault("wrong password", sign(p.valid, env(id("pw"), svc, "demo-agency", "guess", "<x/>")), "KOPIR_AUTH_FAILED"),
		fault("unknown sender", sign(p.valid, env(id("who"), svc, "stranger", "x", "<x/>")), "KOPIR_AUTH_FAILED"),
		fault("sender id of 64 KiB", sign(p.valid, env(id("long"), svc, strings.Repeat("s", 64<<10), "x", "<x/>")), "KOPIR_"),
		fault("unsigned", good(id("unsigned")), "SIGNATURE_MISSING"),
		fault("tampered", replace(signed(id("tamper")), "<amount>1</amount>", "<amount>1000000</amount>"), "SIGNATURE_INVALID"),
		fault("expired certificate", sign(p.expired, good(id("exp"))), "CERT_EXPIRED"),
		fault("untrusted certificate", sign(p.stranger, good(id("untr"))), "CERT_UNTRUSTED"),
		fault("revoked certificate", sign(p.revoked, good(id("rev"))), "CERT_REVOKED"),
		fault("certificate without the signing policy", sign(p.noPolicy, good(id("pol"))), "CERT_POLICY"),
		fault("certificate not for signing", sign(p.wrongUse, good(id("use"))), "CERT_KEY_USAGE"),
		// Signature wrapping: the signed Body is kept somewhere the verifier
		// may find it, and another Body is what would be processed.
		fault("wrapping: decoy Body moved into the Header", []byte(strings.Replace(strings.Replace(string(s1), body(s1), evilBody, 1),
			"</wsse:Security>", "</wsse:Security><Wrapper>"+body(s1)+"</Wrapper>", 1)), "SIGNATURE_"),
		fault("wrapping: second Body", []byte(strings.Replace(string(s2), body(s2), body(s2)+evilBody, 1)), "KOPIR_"),
		fault("wrapping: duplicated Id", []byte(strings.Replace(string(s3), "</wsse:Security>", "</wsse:Security>"+body(s3), 1)), "SIGNATURE_"),
		fault("wrapping: valid decoy in the Header, invalid Body", []byte(strings.Replace(strings.Replace(string(s4), "<messageId>", "<messageId></messageId><bogus>", 1),
			"</wsse:Security>", "</wsse:Security>"+strings.Replace(strings.Replace(body(good(id("decoy"))), "<soap:Body", "<Decoy", 1), "</soap:Body>", "</Decoy>", 1), 1)), "KOPIR_"),
		{name: "agency/shep/PUT", listener: "agency", method: "PUT", path: "/shep/sync", body: good(id("put")), status: 405, allow: "POST"},
		{name: "agency/unknown path", listener: "agency", path: "/nowhere", body: []byte("<x/>"), status: 404},
		{name: "agency/shep/async: unknown operation", listener: "agency", path: "/shep/async", body: bytes.ReplaceAll(good(id("aop")), []byte("SendMessage"), []byte("SendMessages")), status: 500, code: "KOPIR_UNKNOWN_OPERATION", record: true},
	}
	return cases
}

func isoCases(t *testing.T) []hostile {
	doc := func(from, msgID, status string) []byte {
		rpt := &components.FIToFIPaymentStatusReportV10{GrpHdr: &components.GroupHeader91{
			MsgId: isodoc.P[components.Max35Text](msgID), CreDtTm: isodoc.P[components.ISODateTime]("2025-03-10T09:00:02Z")}}
		rpt.TxInfAndSts = []*components.PaymentTransaction110{{OrgnlEndToEndId: isodoc.P[components.Max35Text]("E2E-H"),
			TxSts: isodoc.P[components.ExternalPaymentTransactionStatus1Code](status)}}
		hdr := isodoc.NewHeader(from, "KKMFKZ2A", msgID, isodoc.Pacs002, "", time.Now())
		out, err := isodoc.Marshal(xml.Name{Local: "message"}, hdr, isodoc.Pacs002, &pacs002.Document{FIToFIPmtStsRpt: rpt})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	good := doc("NBRKKZKX", "H-OK", "ACSC")
	rej := func(name string, body []byte, status int, code string) hostile {
		return hostile{name: "agency/iso20022/" + name, listener: "agency", path: "/iso20022", body: body, status: status, code: code, record: true}
	}
	s := string(good)
	return []hostile{
		rej("not XML", []byte(`{"json":true}`), 400, "XML_REFUSED"),
		rej("external entity", []byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>`+s[len(xml.Header):]), 400, "XML_REFUSED"),
		rej("entity expansion", []byte(`<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><l>&b;</l>`), 400, "XML_REFUSED"),
		rej("nesting 10000 deep", []byte(strings.Repeat("<a>", 10000)+strings.Repeat("</a>", 10000)), 400, "XML_REFUSED"),
		rej("not accepted here", []byte(strings.ReplaceAll(s, "pacs.002.001.10", "pacs.009.001.08")), 400, "UNKNOWN_MESSAGE"),
		rej("foreign document", []byte(`<Document xmlns="urn:example"/>`), 400, "UNKNOWN_MESSAGE"),
		rej("schema invalid", []byte(strings.Replace(s, "<TxSts>ACSC</TxSts>", "<TxSts>ACCEPTED</TxSts>", 1)), 400, "SCHEMA_INVALID"),
		rej("header names another message", []byte(strings.Replace(s, "<MsgDefIdr>pacs.002.001.10</MsgDefIdr>", "<MsgDefIdr>pacs.002.001.09</MsgDefIdr>", 1)), 400, "HEADER_MISMATCH"),
		rej("sender not allowed", doc("HSBKKZKX", "H-SND", "ACSC"), 400, "HSBKKZKX"),
		rej("MsgId of 4 KiB", []byte(strings.ReplaceAll(s, "H-OK", strings.Repeat("m", 4<<10))), 400, "SCHEMA_INVALID"),
		rej("over the size limit", []byte(strings.Replace(s, "</message>", "<!--"+strings.Repeat("x", 9<<20)+"--></message>", 1)), 413, "XML_REFUSED"),
		{name: "agency/iso20022/GET", listener: "agency", method: "GET", path: "/iso20022", status: 405, allow: "POST"},
	}
}

func adminCases() []hostile {
	get := func(name, path, token string, status int, code string) hostile {
		return hostile{name: "admin/" + name, listener: "admin", method: "GET", path: path, token: token, status: status, code: code}
	}
	post := func(name, path, body string, status int, code string) hostile {
		return hostile{name: "admin/" + name, listener: "admin", path: path, token: "admin-token", body: []byte(body), status: status, code: code}
	}
	return []hostile{
		get("no token", "/admin/v1/messages", "", 401, ""),
		get("wrong token", "/admin/v1/messages", "demo-token", 401, ""),
		get("limit -1", "/admin/v1/messages?limit=-1", "admin-token", 400, "limit"),
		get("limit not a number", "/admin/v1/messages?limit=ten", "admin-token", 400, "limit"),
		get("limit of ten million", "/admin/v1/messages?limit=10000000", "admin-token", 400, "limit"),
		get("unknown status", "/admin/v1/messages?status=BOGUS", "admin-token", 400, "status"),
		get("unknown message", "/admin/v1/messages/00000000-0000-7000-8000-000000000000", "admin-token", 404, ""),
		get("message id of 10 KiB", "/admin/v1/messages/"+strings.Repeat("i", 10<<10), "admin-token", 400, "id"),
		{name: "admin/DELETE on messages", listener: "admin", method: "DELETE", path: "/admin/v1/messages", token: "admin-token", status: 405, allow: "GET"},
		post("replay: malformed JSON", "/admin/v1/replay", `{"status":`, 400, "JSON"),
		post("replay: duplicate key", "/admin/v1/replay", `{"status":"DEAD","status":"FAILED"}`, 400, "duplicate"),
		post("replay of an unknown message", "/admin/v1/messages/00000000-0000-7000-8000-000000000000/replay", ``, 404, ""),
	}
}
