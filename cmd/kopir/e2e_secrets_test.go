package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// secretsConfig is a production-shaped config: no plain-text token, every
// secret in a file of its own, named by a …File key.
const secretsConfig = `listen: {internal: %[1]q, agency: %[2]q, admin: %[3]q}
dataDir: %[4]q
personalDataKeyFile: %[6]s
callers:
  - {name: treasury, tokenSHA256File: %[7]s}
  - {name: hr, tokenSHA256File: %[8]s}
admins:
  - {name: ops-viewer, tokenSHA256File: %[9]s, role: viewer}
  - {name: ops-operator, tokenSHA256File: %[10]s, role: operator}
  - {name: ops-auditor, tokenSHA256File: %[11]s, role: auditor}
  - {name: ops-admin, tokenSHA256File: %[12]s, role: admin}
routes:
  - name: gbdfl.person
    adapter: gbdfl
    operation: person
    endpoints: [http://%[5]s/shep/sync]
    retry: {attempts: 2, backoff: 10ms, cap: 50ms}
    callers: [treasury]
    personalData: {mask: [iin, lastName, firstName, middleName, birthDate, password]}
    options: {senderId: kopir, passwordFile: %[13]s}
  - {name: gbdul.organization, adapter: gbdul, operation: organization, endpoints: [http://%[5]s/shep/sync], callers: [treasury],
     personalData: {mask: [password]},
     options: {senderId: kopir, passwordFile: %[13]s, declarantId: "000740000728", signing: {pkcs12: %[14]s, passwordFile: %[15]s}}}
  - name: subscriber.deliver
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/e2e]
    retry: {attempts: 2, backoff: 10ms, cap: 50ms}
    callers: [treasury]
    personalData: {hash: [iin]}
  - {name: minfin.payment-notify, inbound: {channel: shep, key: MINFIN_PaymentNotify}, adapter: http, operation: deliver, mode: async,
     endpoints: [http://%[5]s/subscriber/payment-notify]}
channels:
  - name: shep
    options:
      senders: [{id: demo-agency, passwordSHA256File: %[16]s}]
      requireSignature: true
      trust: {roots: [%[17]q], crls: [%[18]q]}
  - name: iso20022
    options: {senders: [NBRKKZKX]}
`

// TestSecretsNeverShow runs the bus with every kind of secret configured
// — tokens and their hashes, the personal-data key, a SHEP sender
// password, a channel sender's password hash, a PKCS#12 password, and the
// passwords in the PostgreSQL, NATS and Redis URLs — each from a file. It
// drives calls on the three listeners, failures and refusals included, and
// the CLI, then looks for every secret in every log line and every answer.
func TestSecretsNeverShow(t *testing.T) {
	suffix := requireExternalServices(t)
	h := &harness{t: t, dir: t.TempDir(), internal: freePort(t), admin: freePort(t), agency: freePort(t), mocks: freePort(t)}

	tokens := map[string]string{}
	for _, who := range []string{"treasury", "hr", "viewer", "operator", "auditor", "admin"} {
		tokens[who] = "tok-" + who + "-Zq8w" + suffix
	}
	secrets := map[string]string{
		"personal-data key": "pdk-Hv3n" + suffix,
		// The mock gateway knows the bus as kopir with this password.
		"SHEP sender password": "kopir-secret",
		"PKCS#12 password":     "p12-pw-Rt5c" + suffix,
		// The mock gateway pushes as demo-agency with this password; the
		// bus holds only its hash, but the password is in every push.
		"channel sender password": "demo-secret",
		"database password":       "db-pw-Lm2q" + suffix,
		"NATS password":           "nats-pw-Wy6e" + suffix,
		"Redis password":          "redis-pw-Bf9u" + suffix,
	}
	for who, tok := range tokens {
		secrets[who+" token"] = tok
		secrets[who+" token hash"] = hashOf(tok)
	}
	secrets["channel sender password hash"] = hashOf(secrets["channel sender password"])
	file := func(name, value string) string {
		p := filepath.Join(h.dir, name)
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p12 := filepath.Join(h.dir, "kopir.p12")
	writePKCS12(t, p12, secrets["PKCS#12 password"])

	h.config = filepath.Join(h.dir, "kopir.yaml")
	cfg := fmt.Sprintf(secretsConfig, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), h.mocks,
		file("pdk", secrets["personal-data key"]),
		file("treasury.sha256", secrets["treasury token hash"]), file("hr.sha256", secrets["hr token hash"]),
		file("viewer.sha256", secrets["viewer token hash"]), file("operator.sha256", secrets["operator token hash"]),
		file("auditor.sha256", secrets["auditor token hash"]), file("admin.sha256", secrets["admin token hash"]),
		file("shep-password", secrets["SHEP sender password"]), p12, file("p12-password", secrets["PKCS#12 password"]),
		file("agency.sha256", secrets["channel sender password hash"]), pki("ca.pem"), pki("crl.pem"))
	if err := os.WriteFile(h.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cfg, secrets["SHEP sender password"]) || strings.Contains(cfg, tokens["treasury"]) {
		t.Fatal("the config itself holds a secret")
	}

	schema := "e2e_secrets_" + suffix
	freshSchema(t, schema)
	stream := "E2E_SECRETS_" + suffix
	t.Cleanup(func() { deleteStream(stream) })
	// A server without authentication takes any password: what matters is
	// that the bus holds one and never shows it.
	t.Setenv("KOPIR_DATABASE_URL_FILE", file("database-url", "postgres://postgres:"+secrets["database password"]+"@127.0.0.1:5432/test?sslmode=disable&search_path="+schema))
	t.Setenv("KOPIR_NATS_URL_FILE", file("nats-url", "nats://kopir:"+secrets["NATS password"]+"@127.0.0.1:4222"))
	t.Setenv("KOPIR_REDIS_URL_FILE", file("redis-url", "redis://default:"+secrets["Redis password"]+"@127.0.0.1:6379/0"))
	t.Setenv("KOPIR_NATS_STREAM", stream)

	// The bus's own log, apart from the mocks', at the most talkative level.
	busLog, err := os.Create(filepath.Join(h.dir, "kopir.log"))
	if err != nil {
		t.Fatal(err)
	}
	h.logs, err = os.Create(filepath.Join(h.dir, "mocks.log"))
	if err != nil {
		t.Fatal(err)
	}
	h.startMocks()

	var seen bytes.Buffer // every answer and every CLI output
	cli := func(token string, args ...string) string {
		cmd := exec.Command(kopirBin, args...)
		cmd.Env = append(os.Environ(), "KOPIR_ADMIN_URL=http://"+h.admin, "KOPIR_ADMIN_TOKEN_FILE="+file("cli-token", token))
		out, _ := cmd.CombinedOutput()
		fmt.Fprintf(&seen, "$ kopir %s\n%s\n", strings.Join(args, " "), out)
		return string(out)
	}
	if out := cli(tokens["admin"], "config", "check", h.config); !strings.Contains(out, ": ok, 4 routes") {
		t.Fatalf("config check: %s", out)
	}
	// A broken reference is reported by file and field, not by value.
	broken := filepath.Join(h.dir, "broken.yaml")
	os.WriteFile(broken, []byte(strings.Replace(cfg, "passwordSHA256File: ", "passwordSHA256: "+secrets["channel sender password hash"]+", passwordSHA256File: ", 1)), 0o600)
	if out := cli(tokens["admin"], "config", "check", broken); !strings.Contains(out, `channel "shep": options.senders[0].passwordSHA256File: set passwordSHA256 or passwordSHA256File, not both`) {
		t.Errorf("config check of a value given twice: %s", out)
	}

	h.bus = exec.Command(kopirBin, "serve", "-config", h.config, "-log-level", "debug")
	h.bus.Stderr = busLog
	if err := h.bus.Start(); err != nil {
		t.Fatal(err)
	}
	h.waitHTTP("http://" + h.admin + "/readyz")

	do := func(method, url, token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(&seen, "%s %s -> %d\n", method, url, resp.StatusCode)
		resp.Header.Write(&seen)
		fmt.Fprintf(&seen, "\n%s\n", raw)
		// Stored wire bodies travel base64-encoded in JSON: look at them
		// as they are, too.
		for _, m := range base64Strings.FindAllSubmatch(raw, -1) {
			if dec, err := base64.StdEncoding.DecodeString(string(m[1])); err == nil {
				fmt.Fprintf(&seen, "(decoded) %s\n", dec)
			}
		}
		return resp.StatusCode, string(raw)
	}
	in := func(path string) string { return "http://" + h.internal + path }
	ad := func(path string) string { return "http://" + h.admin + path }
	ag := func(path string) string { return "http://" + h.agency + path }
	expect := func(what string, got, want int, body string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %d, want %d: %s", what, got, want, body)
		}
	}

	// Internal listener: successes, refusals, agency failures.
	s, b := do("POST", in("/v1/routes/gbdfl.person"), tokens["treasury"], `{"iin":"880501300124"}`)
	expect("GBD FL call", s, 200, b)
	s, b = do("POST", in("/v1/routes/gbdul.organization"), tokens["treasury"], `{"bin":"000740000728"}`)
	expect("signed GBD UL call (PKCS#12 key)", s, 200, b)
	s, b = do("POST", in("/v1/routes/gbdfl.person"), tokens["treasury"], `{"iin":"880501300125"}`)
	expect("bad IIN", s, 422, b)
	s, b = do("POST", in("/v1/routes/gbdfl.person"), tokens["hr"], `{"iin":"880501300124"}`)
	expect("caller not allowed on the route", s, 403, b)
	s, b = do("POST", in("/v1/routes/gbdfl.person"), tokens["admin"], `{"iin":"880501300124"}`)
	expect("admin token on the internal API", s, 401, b)
	s, b = do("POST", in("/v1/routes/no.such"), tokens["treasury"], `{}`)
	expect("unknown route", s, 404, b)
	s, b = do("POST", in("/v1/routes/gbdfl.person"), tokens["treasury"], `{"iin":`)
	expect("malformed JSON", s, 400, b)
	h.mockControl("PUT", "/_control/faults/shep", `{"failRate":1,"status":503}`)
	s, b = do("POST", in("/v1/routes/gbdfl.person"), tokens["treasury"], `{"iin":"880501300124"}`)
	expect("gateway failing", s, 502, b)
	h.mockControl("DELETE", "/_control/faults/shep", "")
	h.mockControl("PUT", "/_control/faults/subscriber", `{"failRate":1,"status":400}`)
	s, b = do("POST", in("/v1/routes/subscriber.deliver"), tokens["treasury"], `{"iin":"880501300124"}`)
	expect("async call", s, 202, b)
	dead := between(b, `"id":"`, `"`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, m := do("GET", ad("/admin/v1/messages/"+dead), tokens["viewer"], ""); strings.Contains(m, `"status": "DEAD"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.mockControl("DELETE", "/_control/faults/subscriber", "")

	// Agency listener: a signed push taken, an unsigned one and garbage refused.
	pushed := h.mockControl("POST", "/_control/shep/push", fmt.Sprintf(`{"serviceId":"MINFIN_PaymentNotify","messageId":"7d4c1e2a-0000-4000-8000-%012d","data":"<payment><amount>1</amount></payment>","url":"http://%s/shep","sign":true}`, rand.IntN(1e12), h.agency))
	unsigned := h.mockControl("POST", "/_control/shep/push", fmt.Sprintf(`{"serviceId":"MINFIN_PaymentNotify","messageId":"7d4c1e2a-0000-4000-8001-%012d","data":"<x/>","url":"http://%s/shep","sign":false}`, rand.IntN(1e12), h.agency))
	fmt.Fprintf(&seen, "pushes:\n%s\n%s\n", pushed, unsigned)
	if !strings.Contains(string(unsigned), "SIGNATURE_MISSING") {
		t.Errorf("unsigned push: %s", unsigned)
	}
	s, b = do("POST", ag("/shep/sync"), "", `<not-soap`)
	expect("garbage SOAP", s, 500, b)
	s, b = do("POST", ag("/iso20022"), "", `<Document/>`)
	if s < 400 {
		t.Errorf("empty ISO 20022 document: %d %s", s, b)
	}
	s, b = do("GET", ag("/shep/sync?wsdl"), "", "")
	expect("WSDL", s, 200, b)

	// Admin listener: each role reads, the wrong ones are refused.
	for _, path := range []string{"/admin/v1/messages?limit=50", "/admin/v1/stats", "/admin/v1/breakers", "/admin/v1/messages/" + dead} {
		s, b = do("GET", ad(path), tokens["viewer"], "")
		expect("viewer GET "+path, s, 200, b)
	}
	// Every stored exchange, wire bodies included, as an operator sees it.
	var page struct{ Items []struct{ ID string } }
	_, list := do("GET", ad("/admin/v1/messages?limit=100"), tokens["viewer"], "")
	json.Unmarshal([]byte(list), &page)
	if len(page.Items) < 10 {
		t.Errorf("%d messages stored, want every call and refusal: %s", len(page.Items), list)
	}
	for _, m := range page.Items {
		do("GET", ad("/admin/v1/messages/"+m.ID), tokens["viewer"], "")
	}
	s, b = do("POST", ad("/admin/v1/messages/"+dead+"/replay"), tokens["viewer"], "")
	expect("viewer replays", s, 403, b)
	s, b = do("GET", ad("/admin/v1/audit/verify"), tokens["operator"], "")
	expect("operator verifies the audit chain", s, 403, b)
	s, b = do("POST", ad("/admin/v1/messages/"+dead+"/replay"), tokens["operator"], "")
	expect("operator replays a dead message", s, 202, b)
	s, b = do("GET", ad("/admin/v1/audit/verify"), tokens["auditor"], "")
	expect("auditor verifies the audit chain", s, 200, b)
	s, b = do("GET", ad("/admin/v1/messages"), tokens["treasury"], "")
	expect("caller token on the admin API", s, 401, b)
	s, b = do("GET", ad("/metrics"), "", "")
	expect("metrics", s, 200, b)
	s, b = do("GET", ad("/readyz"), "", "")
	expect("readyz", s, 200, b)
	s, b = do("GET", ad("/debug/pprof/"), tokens["admin"], "")
	expect("admin reads profiles", s, 200, b)
	cli(tokens["viewer"], "messages", "list")
	if out := cli(tokens["viewer"], "replay", dead); !strings.Contains(out, "forbidden: ") || !strings.Contains(out, "needs role operator") {
		t.Errorf("CLI replay as a viewer:\n%s", out)
	}
	cli(tokens["operator"], "messages", "show", dead)
	if out := cli(tokens["auditor"], "audit", "verify"); !strings.Contains(out, "audit chain intact") {
		t.Errorf("CLI audit verify as an auditor:\n%s", out)
	}
	cli(tokens["admin"], "stats")

	// Stopping flushes whatever the bus still had to say.
	h.bus.Process.Signal(os.Interrupt)
	h.bus.Wait()
	h.bus = nil
	// A store or Redis that cannot be reached stops the start-up: the error
	// says which, not with what password. (An external NATS is waited for.)
	down := freePort(t)
	for env, url := range map[string]string{
		"KOPIR_DATABASE_URL": "postgres://postgres:" + secrets["database password"] + "@" + down + "/test?sslmode=disable&connect_timeout=5",
		"KOPIR_REDIS_URL":    "redis://default:" + secrets["Redis password"] + "@" + down + "/0",
	} {
		cmd := exec.Command(kopirBin, "serve", "-config", h.config, "-log-level", "debug")
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "KOPIR_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env+"_FILE="+file("unreachable", url), "KOPIR_DATA_DIR="+filepath.Join(h.dir, "data-"+env))
		out, err := cmd.CombinedOutput()
		fmt.Fprintf(&seen, "$ %s_FILE=… kopir serve\n%s\n", env, out)
		if err == nil || !strings.Contains(string(out), "kopir: ") {
			t.Errorf("%s unreachable: the bus started (%v):\n%s", env, err, tail(string(out), 2000))
		}
	}

	logs, _ := os.ReadFile(busLog.Name())
	if len(logs) == 0 {
		t.Fatal("the bus logged nothing: the test would prove nothing")
	}
	for name, secret := range secrets {
		for where, text := range map[string][]byte{"the bus's log": logs, "an answer": seen.Bytes()} {
			if i := bytes.Index(text, []byte(secret)); i >= 0 {
				t.Errorf("the %s appears in %s: …%s…", name, where, text[max(0, i-200):min(len(text), i+len(secret)+50)])
			}
		}
	}
	t.Logf("%d secrets looked for in %d log bytes and %d answer bytes", len(secrets), len(logs), seen.Len())
}

var base64Strings = regexp.MustCompile(`"([A-Za-z0-9+/]{16,}={0,2})"`)

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func between(s, from, to string) string {
	_, after, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(after, to)
	return v
}

// writePKCS12 packs the demo signing key and certificate into a PKCS#12
// file protected by password.
func writePKCS12(t *testing.T, path, password string) {
	t.Helper()
	keyPEM, err := os.ReadFile(pki("kopir.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := xmlsig.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile(pki("kopir.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := pkcs12.Modern.Encode(key, cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pfx, 0o600); err != nil {
		t.Fatal(err)
	}
}
