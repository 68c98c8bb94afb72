package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// listenerLimits are the listeners' limits these tests run with: a body
// read timeout short enough to wait for, a per-address cap a few slow
// bodies reach. The head size limits keep their defaults.
const listenerLimits = `
limits:
  http: {bodyReadTimeout: 2s, writeTimeout: 90s, maxPerClient: 6}
`

func limitedHarness(t *testing.T) *harness {
	return newHarnessWith(t, func(h *harness) string { return demoConfig(h, "{attempts: 3}") + listenerLimits })
}

// TestListenerRefusals sends what the listeners must refuse by their
// limits, their JSON rules and their idempotency rules, on SQLite and on
// PostgreSQL: each request gets its exact status and problem type (and
// field, and Allow), is stored as REJECTED under the message id it was
// given, bounded, and /readyz still answers after it. On PostgreSQL the
// store is then taken away: callers are told "store unavailable", never the
// database's own words.
func TestListenerRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	t.Run("sqlite", func(t *testing.T) {
		refusalSuite(t, limitedHarness(t), nil)
	})
	t.Run("postgres", func(t *testing.T) {
		schema := "e2e_listeners_" + uniqueSuffix()
		freshSchema(t, schema)
		t.Setenv("KOPIR_DATABASE_URL", schemaDSN(schema))
		h := limitedHarness(t)
		refusalSuite(t, h, func() {
			if _, err := pgAdmin(t).Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
				t.Fatal(err)
			}
			storeGone(t, h)
		})
	})
}

type refusalCase struct {
	name     string
	listener string // internal, agency, admin
	method   string
	path     string
	header   map[string]string
	body     string
	status   int
	typ      string // the problem type after urn:kopir:problem:
	field    string
	allow    string
	stored   bool // recorded as REJECTED under the answer's messageId
}

const demoAuth, adminAuth = "Bearer demo-token", "Bearer admin-token"

func refusalCases() []refusalCase {
	auth := map[string]string{"Authorization": demoAuth}
	with := func(k, v string) map[string]string { return map[string]string{"Authorization": demoAuth, k: v} }
	admin := map[string]string{"Authorization": adminAuth}
	return []refusalCase{
		// Nothing unbounded: oversize names, keys and headers are refused
		// before anything is stored whole or sent.
		{"1 MB route name, no token", "internal", "POST", "/v1/routes/" + strings.Repeat("r", 1<<20), nil, person, 401, "unauthorized", "", "", true},
		{"1 MB route name", "internal", "POST", "/v1/routes/" + strings.Repeat("r", 1<<20), auth, person, 404, "not-found", "", "", true},
		{"3 MiB URI, no token", "internal", "POST", "/v1/routes/" + strings.Repeat("r", 3<<20), nil, person, 414, "uri-too-long", "", "", true},
		{"4 KB Idempotency-Key", "internal", "POST", "/v1/routes/gbdfl.person", with("Idempotency-Key", strings.Repeat("k", 4096)), person, 400, "invalid-idempotency-key", "Idempotency-Key", "", true},
		{"control character in Idempotency-Key", "internal", "POST", "/v1/routes/gbdfl.person", with("Idempotency-Key", "a\tb"), person, 400, "invalid-idempotency-key", "Idempotency-Key", "", true},
		{"2 MiB header", "internal", "POST", "/v1/routes/gbdfl.person", with("X-Padding", strings.Repeat("p", 2<<20)), person, 431, "request-headers-too-large", "X-Padding", "", true},
		{"100 KB correlation id", "internal", "POST", "/v1/routes/gbdfl.person", with("X-Correlation-Id", strings.Repeat("c", 100<<10)), person, 400, "invalid-x-correlation-id", "X-Correlation-Id", "", true},
		{"long correlation id", "internal", "POST", "/v1/routes/gbdfl.person", with("X-Correlation-Id", strings.Repeat("c", 200)), person, 400, "invalid-x-correlation-id", "X-Correlation-Id", "", true},
		{"unknown route", "internal", "POST", "/v1/routes/gbdfl.nobody", auth, person, 404, "unknown-route", "", "", true},
		{"route name of 4000 bytes", "internal", "POST", "/v1/routes/" + strings.Repeat("u", 4000), auth, person, 404, "not-found", "", "", true},
		{"2 MiB header on the agency listener", "agency", "POST", "/shep/sync", map[string]string{"SOAPAction": strings.Repeat("s", 2<<20)}, "<x/>", 431, "request-headers-too-large", "Soapaction", "", true},
		{"3 MiB URI on the admin listener", "admin", "GET", "/admin/v1/messages?route=" + strings.Repeat("r", 3<<20), admin, "", 414, "uri-too-long", "", "", true},
		{"10 KiB route filter", "admin", "GET", "/admin/v1/messages?route=" + strings.Repeat("r", 10<<10), admin, "", 400, "bad-request", "route", "", true},
		{"10 KiB message id", "admin", "GET", "/admin/v1/messages/" + strings.Repeat("i", 10<<10), admin, "", 400, "bad-request", "id", "", true},
		{"message id with a quote", "internal", "GET", "/v1/messages/x'or'1", auth, "", 400, "invalid-message-id", "id", "", true},
		// Loose JSON.
		{"duplicate key", "internal", "POST", "/v1/routes/gbdfl.person", auth, `{"iin":"880501300124","iin":"990101300123"}`, 400, "duplicate-json-key", "iin", "", true},
		{"nested duplicate key, async route", "internal", "POST", "/v1/routes/payments.credit-transfer", auth, `{"endToEndId":"E","amount":{"value":"1.00","currency":"KZT","value":"9.00"}}`, 400, "duplicate-json-key", "amount.value", "", true},
		{"duplicate key in an array, async route", "internal", "POST", "/v1/routes/subscriber.deliver", auth, `{"items":[{"n":1},{"n":2,"n":3}]}`, 400, "duplicate-json-key", "items[1].n", "", true},
		{"invalid UTF-8", "internal", "POST", "/v1/routes/subscriber.deliver", auth, "{\"name\":\"\xc3\x28\"}", 400, "invalid-utf-8", "name", "", true},
		{"lone surrogate", "internal", "POST", "/v1/routes/subscriber.deliver", auth, `{"name":"\udc00"}`, 400, "invalid-unicode-escape", "name", "", true},
		{"duplicate key in the admin API", "admin", "POST", "/admin/v1/replay", admin, `{"status":"DEAD","status":"FAILED"}`, 400, "bad-request", "status", "", true},
		{"invalid UTF-8 in the admin API", "admin", "POST", "/admin/v1/replay", admin, "{\"route\":\"\xff\"}", 400, "bad-request", "route", "", true},
		{"unknown field in the admin API", "admin", "POST", "/admin/v1/replay", admin, `{"status":"DEAD","everything":true}`, 400, "bad-request", "everything", "", true},
		{"negative bulk limit", "admin", "POST", "/admin/v1/replay", admin, `{"status":"DEAD","limit":-1}`, 400, "bad-request", "limit", "", true},
		{"absurd bulk limit", "admin", "POST", "/admin/v1/replay", admin, `{"status":"DEAD","limit":10000000}`, 400, "bad-request", "limit", "", true},
		{"negative limit", "admin", "GET", "/admin/v1/messages?limit=-1", admin, "", 400, "bad-request", "limit", "", true},
		{"absurd limit", "admin", "GET", "/admin/v1/messages?limit=10000000", admin, "", 400, "bad-request", "limit", "", true},
		{"non-numeric limit", "admin", "GET", "/admin/v1/messages?limit=ten", admin, "", 400, "bad-request", "limit", "", true},
		{"limit twice", "admin", "GET", "/admin/v1/messages?limit=1&limit=2", admin, "", 400, "bad-request", "limit", "", true},
		{"unknown parameter", "admin", "GET", "/admin/v1/stats?statu=DEAD", admin, "", 400, "bad-request", "statu", "", true},
		{"bad status", "admin", "GET", "/admin/v1/messages?status=GONE", admin, "", 400, "bad-request", "status", "", true},
		{"bad after", "admin", "GET", "/admin/v1/messages?after=x'%20OR%201=1", admin, "", 400, "bad-request", "after", "", true},
		// Wrong methods are 405 with Allow on every listener.
		{"GET a route", "internal", "GET", "/v1/routes/gbdfl.person", auth, "", 405, "method-not-allowed", "", "POST", true},
		{"DELETE a message", "internal", "DELETE", "/v1/messages/0190e7e2-0000-7000-8000-000000000000", auth, "", 405, "method-not-allowed", "", "GET, HEAD", true},
		{"GET the ISO 20022 receiver", "agency", "GET", "/iso20022", nil, "", 405, "method-not-allowed", "", "POST", true},
		{"PUT the SHEP endpoint", "agency", "PUT", "/shep/sync", nil, "<x/>", 405, "method-not-allowed", "", "GET, HEAD, POST", true},
		{"DELETE the message list", "admin", "DELETE", "/admin/v1/messages", admin, "", 405, "method-not-allowed", "", "GET, HEAD", true},
		{"POST readyz", "admin", "POST", "/readyz", nil, "", 405, "method-not-allowed", "", "GET, HEAD", true},
		// Unknown paths are 404 problems, recorded.
		{"unknown internal path", "internal", "GET", "/etc/passwd", nil, "", 404, "not-found", "", "", true},
		{"deep JSON", "internal", "POST", "/v1/routes/subscriber.deliver", auth, strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100), 400, "json-nested-too-deep", "", "", true},
		{"unknown agency path", "agency", "POST", "/admin/v1/replay", nil, "", 404, "not-found", "", "", true},
		{"unknown admin path", "admin", "GET", "/admin/v2/messages", admin, "", 404, "not-found", "", "", true},
		// Every refusal recorded: auth failures on every endpoint and
		// listener, 422s of sync and async routes.
		{"no token", "internal", "POST", "/v1/routes/gbdfl.person", nil, person, 401, "unauthorized", "", "", true},
		{"no token, message status", "internal", "GET", "/v1/messages/0190e7e2-0000-7000-8000-000000000000", nil, "", 401, "unauthorized", "", "", true},
		{"no token, payment history", "internal", "GET", "/v1/payments/E2E-1", nil, "", 401, "unauthorized", "", "", true},
		{"wrong admin token", "admin", "GET", "/admin/v1/messages", map[string]string{"Authorization": "Bearer guess"}, "", 401, "unauthorized", "", "", true},
		{"no admin token, replay", "admin", "POST", "/admin/v1/replay", nil, `{"status":"DEAD"}`, 401, "unauthorized", "", "", true},
		{"bad IIN, sync", "internal", "POST", "/v1/routes/gbdfl.person", auth, `{"iin":"880501300125"}`, 422, "invalid-request-field", "iin", "", true},
		{"bad IBAN, async", "internal", "POST", "/v1/routes/payments.credit-transfer", auth, strings.Replace(order("E2E-H1"), "KZ42601KZT0000123456", "KZ42601KZT0000123457", 1), 422, "invalid-request-field", "creditor.iban", "", true},
	}
}

// reply is one HTTP answer as the suite reads it.
type reply struct {
	status int
	header http.Header
	p      map[string]any
	raw    string
}

func (h *harness) addr(listener string) string {
	return map[string]string{"internal": h.internal, "agency": h.agency, "admin": h.admin}[listener]
}

func (h *harness) do(listener, method, path string, header map[string]string, body string) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, "http://"+h.addr(listener)+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path[:min(len(path), 60)], err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &a.p)
	return a
}

// stored is a message as the admin API shows it.
type storedMsg struct {
	Message struct {
		Status, Route, Caller, CorrelationID, IdempotencyKey, Error string
		HTTPStatus                                                  int
	}
	Audit []struct{ Action, Detail string }
}

func (h *harness) storedMessage(id string) (storedMsg, int) {
	var s storedMsg
	code := h.adminGet("/admin/v1/messages/"+id, &s)
	return s, code
}

// expectRefusal checks an answer against its case: status, problem type,
// field, Allow; and that the refusal is stored, bounded, as REJECTED.
func (h *harness) expectRefused(t *testing.T, c refusalCase, a reply) {
	t.Helper()
	if a.status != c.status || a.header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s: %d %s %.300s", c.name, a.status, a.header.Get("Content-Type"), a.raw)
		return
	}
	if a.p["type"] != "urn:kopir:problem:"+c.typ || c.field != "" && a.p["field"] != c.field || a.header.Get("Allow") != c.allow {
		t.Errorf("%s: type %v field %v Allow %q, want %s %q %q", c.name, a.p["type"], a.p["field"], a.header.Get("Allow"), c.typ, c.field, c.allow)
	}
	if len(a.raw) > 8<<10 {
		t.Errorf("%s: the answer is %d bytes", c.name, len(a.raw))
	}
	for _, l := range leaks {
		if strings.Contains(a.raw, l) {
			t.Errorf("%s: the answer gives away %q: %.300s", c.name, l, a.raw)
		}
	}
	if !c.stored {
		return
	}
	id, _ := a.p["messageId"].(string)
	s, code := h.storedMessage(id)
	if code != 200 || s.Message.Status != "REJECTED" || s.Message.HTTPStatus != c.status || len(s.Audit) < 2 {
		t.Errorf("%s: message %q stored as %d %+v", c.name, id, code, s.Message)
	}
	if n := len(s.Message.Route) + len(s.Message.Error) + len(s.Message.CorrelationID) + len(s.Message.IdempotencyKey); n > 4<<10 {
		t.Errorf("%s: %d bytes of outside text kept", c.name, n)
	}
}

func (h *harness) readyAfter(t *testing.T, after string) {
	t.Helper()
	resp, err := http.Get("http://" + h.admin + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz after %s: %v %v", after, resp, err)
	}
	resp.Body.Close()
}

func refusalSuite(t *testing.T, h *harness, last func()) {
	for _, c := range refusalCases() {
		h.expectRefused(t, c, h.do(c.listener, c.method, c.path, c.header, c.body))
		h.readyAfter(t, c.name)
	}
	t.Run("idempotency by key and body", func(t *testing.T) { idempotencyByBody(t, h) })
	t.Run("slow bodies", func(t *testing.T) { slowBodies(t, h) })
	t.Run("per-address cap", func(t *testing.T) { addressCap(t, h) })
	// The bus serves on after all of it.
	if status, p, err := h.call("gbdfl.person", "", person); err != nil || status != 200 || p["iin"] != "880501300124" {
		t.Errorf("after the hostile suite: %d %v %v", status, p, err)
	}
	if last != nil {
		last()
	}
}

// idempotencyByBody reuses keys with other bodies and routes: 422 naming
// what differs, recorded without taking the key, the agency called once.
func idempotencyByBody(t *testing.T, h *harness) {
	h.mockControl("DELETE", "/_control/received/shep", "")
	key := fmt.Sprintf("hostile-%d", time.Now().UnixNano())
	hdr := map[string]string{"Authorization": demoAuth, "Idempotency-Key": key}
	first := h.do("internal", "POST", "/v1/routes/gbdfl.person", hdr, person)
	if first.status != 200 {
		t.Fatalf("first call: %d %s", first.status, first.raw)
	}
	firstID := first.header.Get("X-Kopir-Message-Id")
	if again := h.do("internal", "POST", "/v1/routes/gbdfl.person", hdr, `{ "iin" : "880501300124" }`); again.status != 200 || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the same body, spaced otherwise: %d %s", again.status, again.raw)
	}
	for _, c := range []struct {
		route, body, differs string
	}{
		{"gbdfl.person", `{"iin":"990101300123"}`, "[body]"},
		{"subscriber.deliver", person, "[route]"},
		{"subscriber.deliver", `{"n":1}`, "[route body]"},
	} {
		a := h.do("internal", "POST", "/v1/routes/"+c.route, hdr, c.body)
		h.expectRefused(t, refusalCase{name: "key reused on " + c.route + " " + c.body, status: 422, typ: "idempotency-key-reused", field: "Idempotency-Key", stored: true}, a)
		if fmt.Sprint(a.p["differs"]) != c.differs || !strings.Contains(fmt.Sprint(a.p["detail"]), firstID) {
			t.Errorf("%s %s: differs %v, detail %v", c.route, c.body, a.p["differs"], a.p["detail"])
		}
		if s, _ := h.storedMessage(fmt.Sprint(a.p["messageId"])); s.Message.IdempotencyKey != "" {
			t.Errorf("the refusal took the key: %+v", s.Message)
		}
	}
	var rec struct{ Total int }
	json.Unmarshal(h.mockControl("GET", "/_control/received/shep", ""), &rec)
	if rec.Total != 1 {
		t.Errorf("the agency was called %d times under one key", rec.Total)
	}
	// Async: a repeat gets the first message, another body is refused.
	akey := map[string]string{"Authorization": demoAuth, "Idempotency-Key": key + "-async"}
	a1 := h.do("internal", "POST", "/v1/routes/subscriber.deliver", akey, `{"n":1,"m":2}`)
	a2 := h.do("internal", "POST", "/v1/routes/subscriber.deliver", akey, `{"m":2,"n":1}`)
	if a1.status != 202 || a2.status != 202 || a1.p["id"] != a2.p["id"] {
		t.Errorf("async repeat: %d %v / %d %v", a1.status, a1.p, a2.status, a2.p)
	}
	a3 := h.do("internal", "POST", "/v1/routes/subscriber.deliver", akey, `{"n":2,"m":2}`)
	h.expectRefused(t, refusalCase{name: "async key reused", status: 422, typ: "idempotency-key-reused", field: "Idempotency-Key", stored: true}, a3)
	h.readyAfter(t, "reused keys")
}

// slowRequest sends a request's head and one byte of a 100-byte body, and
// returns the connection, whose answer comes once the bus gives up.
func slowRequest(t *testing.T, addr, path, auth string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := "POST " + path + " HTTP/1.1\r\nHost: kopir\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
	if auth != "" {
		head += "Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n{"); err != nil {
		t.Fatal(err)
	}
	return conn
}

func readAnswer(t *testing.T, conn net.Conn) reply {
	t.Helper()
	// The bus answers a slow body within its bodyReadTimeout (2 s here);
	// one that never answers fails the test instead of holding it.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	json.Unmarshal(raw, &a.p)
	return a
}

// slowBodies: a body that trickles in is cut off with 408 on every
// listener, recorded.
func slowBodies(t *testing.T, h *harness) {
	for _, c := range []struct{ listener, path, auth string }{
		{"internal", "/v1/routes/gbdfl.person", demoAuth},
		{"agency", "/shep/sync", ""},
		{"agency", "/iso20022", ""},
		{"admin", "/admin/v1/replay", adminAuth},
	} {
		a := readAnswer(t, slowRequest(t, h.addr(c.listener), c.path, c.auth))
		h.expectRefused(t, refusalCase{name: "slow body to " + c.listener + " " + c.path, status: 408, typ: "request-body-too-slow", stored: true}, a)
		h.readyAfter(t, "a slow body")
	}
}

// addressCap holds the per-address cap with slow bodies: the next request
// from the address is 503 with Retry-After, until they are cut off.
//
// The held requests are counted once the bus has read their heads, which
// the test cannot see; a probe that gets there before the last of them
// takes its place, and that held request is the one refused 503. That run
// proves nothing, so it is tried again, up to three times.
func addressCap(t *testing.T, h *harness) {
	for try := 1; ; try++ {
		busy, held := holdAddressCap(t, h)
		displaced := 0
		for _, a := range held {
			if a.status == 503 {
				displaced++
			}
		}
		if displaced == 1 && try < 3 {
			t.Logf("try %d: the probe took a held request's place; again", try)
			continue
		}
		if busy.status != 503 || busy.header.Get("Retry-After") == "" || busy.p["type"] != "urn:kopir:problem:too-many-requests-in-flight" {
			t.Errorf("past the per-address cap: %d %v %s", busy.status, busy.header, busy.raw)
		}
		for _, a := range held {
			if a.status != 408 {
				t.Errorf("a held slow request: %d %s", a.status, a.raw)
			}
		}
		break
	}
	if a := h.do("internal", "GET", "/healthz", nil, ""); a.status != 200 {
		t.Errorf("once the slow requests are gone: %d", a.status)
	}
}

// holdAddressCap sends six slow bodies from one address, probes the
// address until it is refused, and returns the probe's answer and the
// slow requests' answers.
func holdAddressCap(t *testing.T, h *harness) (reply, []reply) {
	var held []net.Conn
	for range 6 {
		held = append(held, slowRequest(t, h.internal, "/v1/routes/gbdfl.person", demoAuth))
	}
	var busy reply
	for range 500 {
		if busy = h.do("internal", "GET", "/healthz", nil, ""); busy.status == 503 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	answers := make([]reply, len(held))
	for i, c := range held {
		answers[i] = readAnswer(t, c)
		c.Close()
	}
	return busy, answers
}

// storeGone runs after the database lost the bus's schema: every answer
// says the store is unavailable, none carries the database's own words.
func storeGone(t *testing.T, h *harness) {
	leaked := func(what string, a reply) {
		for _, word := range []string{"SQLSTATE", "relation", "does not exist", "pgx", "postgres"} {
			if strings.Contains(a.raw, word) {
				t.Errorf("%s: the answer carries the database's words (%q): %s", what, word, a.raw)
			}
		}
	}
	call := h.do("internal", "POST", "/v1/routes/gbdfl.person", map[string]string{"Authorization": demoAuth}, person)
	if call.status != 503 || call.p["type"] != "urn:kopir:problem:store-unavailable" || call.p["messageId"] == nil || call.header.Get("Retry-After") == "" {
		t.Errorf("a call without a store: %d %s", call.status, call.raw)
	}
	leaked("a call", call)
	keyed := h.do("internal", "POST", "/v1/routes/gbdfl.person", map[string]string{"Authorization": demoAuth, "Idempotency-Key": "k-gone"}, person)
	if keyed.status != 503 || keyed.p["type"] != "urn:kopir:problem:store-unavailable" {
		t.Errorf("a keyed call without a store: %d %s", keyed.status, keyed.raw)
	}
	leaked("a keyed call", keyed)
	async := h.do("internal", "POST", "/v1/routes/subscriber.deliver", map[string]string{"Authorization": demoAuth}, `{"n":1}`)
	if async.status != 503 || async.p["type"] != "urn:kopir:problem:store-unavailable" {
		t.Errorf("an async call without a store: %d %s", async.status, async.raw)
	}
	leaked("an async call", async)
	status := h.do("internal", "GET", "/v1/messages/0190e7e2-0000-7000-8000-000000000000", map[string]string{"Authorization": demoAuth}, "")
	if status.status != 503 {
		t.Errorf("a status read without a store: %d %s", status.status, status.raw)
	}
	leaked("a status read", status)
	for _, path := range []string{"/admin/v1/messages", "/admin/v1/messages/0190e7e2-0000-7000-8000-000000000000", "/admin/v1/stats", "/admin/v1/audit/verify"} {
		a := h.do("admin", "GET", path, map[string]string{"Authorization": adminAuth}, "")
		if a.status != 503 {
			t.Errorf("admin %s without a store: %d %s", path, a.status, a.raw)
		}
		leaked("admin "+path, a)
	}
	ready := h.do("admin", "GET", "/readyz", nil, "")
	if ready.status != 503 {
		t.Errorf("/readyz without a store: %d %s", ready.status, ready.raw)
	}
	leaked("/readyz", ready)
	if a := h.do("internal", "GET", "/healthz", nil, ""); a.status != 200 {
		t.Errorf("the listener stopped serving: %d", a.status)
	}
}
