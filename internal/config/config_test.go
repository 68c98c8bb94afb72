package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/minfin-kz/kopir/adapters/all"
)

const base = `
callers: [{name: demo, tokenSHA256: 2d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5}]
admins: [{name: ops, tokenSHA256: 3d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5, role: viewer}]
routes:
  - name: gbdfl.person
    adapter: gbdfl
    operation: person
    endpoints: [http://127.0.0.1:8090/shep/sync]
    callers: [demo]
    options: {senderId: kopir, password: x}
`

func TestDemoConfigIsValid(t *testing.T) {
	// Relative paths in the file (the demo PKI) are relative to the working
	// directory, the repository root for `make run`.
	t.Chdir("../..")
	c, err := Load("deploy/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if r.Name != "gbdfl.person" || r.Retry.Attempts != 3 || r.MaxBody != 4<<10 || c.Listen.Internal != "127.0.0.1:8080" {
		t.Errorf("demo config read as %+v", r)
	}
}

func TestDefaultsAndEnvironment(t *testing.T) {
	t.Setenv("KOPIR_DATABASE_URL", "postgres://x@127.0.0.1/k")
	c, err := Parse("t.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Routes[0]
	if c.Database != "postgres://x@127.0.0.1/k" || r.Mode != "sync" || r.Timeout.D() != DefaultTimeout || r.MaxBody != DefaultMaxBody || r.Breaker.Failures != 5 {
		t.Errorf("defaults: %+v %+v", c, r)
	}
}

// Every error names the file, the route and the field.
func TestErrorsNameFileRouteAndField(t *testing.T) {
	cases := []struct{ edit, want string }{
		{"    endpoints: [ftp://x]\n", `t.yaml: route "gbdfl.person": endpoints[0]: "ftp://x" is not an http(s) URL`},
		{"    mode: sometimes\n", `t.yaml: route "gbdfl.person": mode: "sometimes" is neither sync nor async`},
		{"    adapter: nosuch\n", `t.yaml: route "gbdfl.person": adapter: unknown adapter "nosuch"`},
		{"    callers: [mallory]\n", `t.yaml: route "gbdfl.person": callers[0]: unknown caller "mallory"`},
		{"    timeout: 30s\n    deadline: 10s\n", `t.yaml: route "gbdfl.person": timeout: per-attempt timeout 30s is longer than the deadline 10s`},
		{"    retry: {attempts: 0, backoff: 1s, cap: 10ms}\n", `t.yaml: route "gbdfl.person": retry.cap: 10ms is shorter than retry.backoff 1s`},
		{"    deadline: 100s\n", `t.yaml: route "gbdfl.person": deadline: 1m40s plus limits.http.bodyReadTimeout 30s does not fit in limits.http.writeTimeout 2m0s`},
	}
	for _, c := range cases {
		// The edit replaces the matching key of the route.
		key := strings.SplitN(strings.TrimSpace(c.edit), ":", 2)[0]
		var lines []string
		for _, l := range strings.Split(base, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), key+":") && strings.HasPrefix(l, "    ") {
				continue
			}
			lines = append(lines, l)
		}
		doc := strings.Join(lines, "\n") + c.edit
		_, err := Parse("t.yaml", []byte(doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("edit %q:\n got %v\nwant %s", c.edit, err, c.want)
		}
	}
}

// The listeners' limits have defaults, may be set, and are checked
// against each other.
func TestHTTPLimits(t *testing.T) {
	c, err := Parse("t.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Limits.HTTP != DefaultHTTPLimits {
		t.Errorf("defaults: %+v", c.Limits.HTTP)
	}
	c, err = Parse("t.yaml", []byte(base+"limits: {http: {bodyReadTimeout: 5s, maxPerClient: 4, maxHeaderBytes: 16KiB}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Limits.HTTP; h.BodyReadTimeout.D() != 5*time.Second || h.MaxPerClient != 4 || h.MaxHeaderBytes != 16<<10 || h.MaxConcurrent != DefaultHTTPLimits.MaxConcurrent {
		t.Errorf("set: %+v", h)
	}
	for edit, want := range map[string]string{
		"{maxPerClient: 600}":                      "t.yaml: limits.http.maxPerClient: 600 is outside 1..maxConcurrent (512)",
		"{maxConcurrent: -1}":                      "t.yaml: limits.http.maxConcurrent: must not be negative",
		"{maxHeaderBytes: 100}":                    "t.yaml: limits.http.maxHeaderBytes: 100 (with maxURIBytes 2097152) is outside",
		"{maxHeaderBytes: 3MiB}":                   "limits.http.maxHeaderBytes: 3145728",
		"{writeTimeout: 10s}":                      "t.yaml: limits.http.writeTimeout: 10s must be longer than bodyReadTimeout 30s plus limits.largeWait 1m0s",
		"{bodyReadTimeout: -1s}":                   "a duration must not be negative",
		"{writeTimeout: 16s, bodyReadTimeout: 1s}": `route "gbdfl.person": deadline: 15s plus limits.http.bodyReadTimeout 1s does not fit in limits.http.writeTimeout 16s`,
	} {
		_, err := Parse("t.yaml", []byte(base+"limits: {http: "+edit+"}\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant %s", edit, err, want)
		}
	}
}

func TestPlainTokensOnlyInDemo(t *testing.T) {
	doc := strings.Replace(base, "tokenSHA256: 2d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5", "token: secret", 1)
	if _, err := Parse("t.yaml", []byte(doc)); err == nil || !strings.Contains(err.Error(), "callers[0].token: plain-text tokens are allowed only with demo: true") {
		t.Fatalf("got %v", err)
	}
	if _, err := Parse("t.yaml", []byte("demo: true\n"+doc)); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownKeyAndMissingFile(t *testing.T) {
	if _, err := Parse("t.yaml", []byte(base+"colour: blue\n")); err == nil || !strings.Contains(err.Error(), "t.yaml") || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := Load("/nonexistent/k.yaml"); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("missing file: %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestTokenMatching(t *testing.T) {
	c := Caller{Name: "a", TokenSHA256: HashToken("s3cret")}
	if !c.Matches("s3cret") || c.Matches("s3cret ") || c.Matches("") {
		t.Error("token matching")
	}
}

// overrides are the environment variables the configuration reference
// documents, with the field each one sets.
var overrides = map[string]func(*Config) string{
	"KOPIR_LISTEN_INTERNAL":   func(c *Config) string { return c.Listen.Internal },
	"KOPIR_LISTEN_AGENCY":     func(c *Config) string { return c.Listen.Agency },
	"KOPIR_LISTEN_ADMIN":      func(c *Config) string { return c.Listen.Admin },
	"KOPIR_DATA_DIR":          func(c *Config) string { return c.DataDir },
	"KOPIR_DATABASE_URL":      func(c *Config) string { return c.Database },
	"KOPIR_NATS_URL":          func(c *Config) string { return c.NATS },
	"KOPIR_NATS_STREAM":       func(c *Config) string { return c.NATSStream },
	"KOPIR_REDIS_URL":         func(c *Config) string { return c.Redis },
	"KOPIR_PERSONAL_DATA_KEY": func(c *Config) string { return c.PersonalDataKey },
}

func TestEnvironmentOverrides(t *testing.T) {
	// Each value also stands in the file, so the override must win over it.
	file := base + `
listen: {internal: "127.0.0.1:1", agency: "127.0.0.1:2", admin: "127.0.0.1:3"}
dataDir: file-data
database: postgres://file@127.0.0.1/k
nats: nats://file:4222
natsStream: FILE
redis: redis://file:6379/0
personalDataKey: file-key
`
	for env, get := range overrides {
		t.Run(env, func(t *testing.T) {
			want := "127.0.0.1:9" // valid for the listen addresses, a string for the rest
			t.Setenv(env, want)
			c, err := Parse("t.yaml", []byte(file))
			if err != nil {
				t.Fatal(err)
			}
			if got := get(c); got != want {
				t.Errorf("%s=%s: field is %q", env, want, got)
			}
		})
	}
}

// Every override the configuration reference lists is read (and tested
// above): a documented variable that is ignored leaves a deployment on a
// default it believes it changed.
func TestDocumentedOverridesAreRead(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, top, _ := strings.Cut(string(doc), "## Top level")
	top, _, _ = strings.Cut(top, "\n## ")
	documented := 0
	for _, line := range strings.Split(top, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		env := strings.Trim(strings.TrimSpace(cells[3]), "`")
		if !strings.HasPrefix(env, "KOPIR_") {
			continue
		}
		documented++
		if overrides[env] == nil {
			t.Errorf("docs/configuration.md documents %s, which the test of overrides does not cover", env)
		}
	}
	if documented != len(overrides) {
		t.Errorf("docs/configuration.md documents %d overrides, the test covers %d", documented, len(overrides))
	}
}

func TestHashingNeedsPersonalDataKey(t *testing.T) {
	hashing := base + "    personalData: {mask: [iin], hash: [phone]}\n"
	_, err := Parse("t.yaml", []byte(hashing))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "personalDataKey" || fe.Route != "" {
		t.Fatalf("hash without a key: %v", err)
	}
	for _, want := range []string{`t.yaml: personalDataKey:`, "gbdfl.person", "personalDataKey in the file", "KOPIR_PERSONAL_DATA_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	for name, doc := range map[string]string{
		"key in the file": "personalDataKey: k\n" + hashing,
		"demo":            "demo: true\n" + hashing,
		"masking only":    base + "    personalData: {mask: [iin]}\n",
	} {
		if _, err := Parse("t.yaml", []byte(doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	t.Setenv("KOPIR_PERSONAL_DATA_KEY", "k")
	if _, err := Parse("t.yaml", []byte(hashing)); err != nil {
		t.Errorf("key in the environment: %v", err)
	}
}

// Kept documents are verified against CRL files only: URLs there would
// never be fetched, and every signature's revocation would be unknown.
func TestEvidenceTrustRefusesCRLURLs(t *testing.T) {
	doc := base + "evidence:\n  trust: {roots: [x.pem], crlURLs: [http://crl.example/x.crl]}\n"
	_, err := Parse("t.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "evidence.trust.crlURLs") {
		t.Fatalf("got %v", err)
	}
}

// Client certificates are verified on TLS connections only, against at
// least one root, and their CRLs are files: each misconfiguration names
// its field.
func TestClientCertsNeedTLSAndRoots(t *testing.T) {
	for doc, field := range map[string]string{
		"channels: [{name: shep, clientCerts: {roots: [ca.pem]}}]\n":                                                                                      "channels[0].clientCerts: client certificates need TLS",
		"listen: {agencyTLS: {cert: s.pem, key: s.key}}\nchannels: [{name: shep, clientCerts: {}}]\n":                                                     "channels[0].clientCerts.roots",
		"listen: {agencyTLS: {cert: s.pem, key: s.key}}\nchannels: [{name: shep, clientCerts: {roots: [ca.pem], crlURLs: [http://crl.example/c.crl]}}]\n": "channels[0].clientCerts.crlURLs",
		"listen: {agencyTLS: {cert: s.pem}}\n":                                                                                                            "listen.agencyTLS: give both cert and key",
	} {
		_, err := Parse("t.yaml", []byte(base+doc))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v, want an error naming %s", doc, err, field)
		}
	}
}

// A simulated clock is refused outside a demo, and its start must be a
// time.
func TestSimulatedClockIsForDemosOnly(t *testing.T) {
	for doc, field := range map[string]string{
		"clock: {simulated: true}\n":                          "clock.simulated",
		"demo: true\nclock: {simulated: true, start: noon}\n": "clock.start",
		"demo: true\nclock: {start: 2026-12-01T09:00:00Z}\n":  "clock.start",
	} {
		_, err := Parse("t.yaml", []byte(base+doc))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v, want an error naming %s", doc, err, field)
		}
	}
	if _, err := Parse("t.yaml", []byte(base+"demo: true\nclock: {simulated: true, start: \"2026-12-01T09:00:00+05:00\"}\n")); err != nil {
		t.Errorf("a demo on a simulated clock: %v", err)
	}
}

func TestConsoleSessionsChecked(t *testing.T) {
	for edit, want := range map[string]string{
		"console: {sessionIdle: -1m}\n":                `t.yaml: line 1: "-1m": a duration must not be negative`,
		"console: {sessionIdle: 9h, sessionMax: 8h}\n": `t.yaml: console.sessionIdle: 9h0m0s is longer than sessionMax 8h0m0s`,
	} {
		if _, err := Parse("t.yaml", []byte(edit+base)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s got %v, want %s", edit, err, want)
		}
	}
	c, err := Parse("t.yaml", []byte("console: {sessionIdle: 10m, sessionMax: 1h}\n"+base))
	if err != nil || c.Console.SessionIdle.D() != 10*time.Minute || c.Console.SessionMax.D() != time.Hour {
		t.Errorf("console settings: %+v %v", c.Console, err)
	}
}

func TestClusterSettings(t *testing.T) {
	c, err := Parse("t.yaml", []byte(base))
	if err != nil || c.NATSReplicas != 1 || c.ShutdownGrace.D() != DefaultShutdownGrace {
		t.Fatalf("defaults: natsReplicas %d, shutdownGrace %s, %v", c.NATSReplicas, c.ShutdownGrace.D(), err)
	}
	if c, err = Parse("t.yaml", []byte("natsReplicas: 3\nshutdownGrace: 25s\n"+base)); err != nil || c.NATSReplicas != 3 || c.ShutdownGrace.D() != 25*time.Second {
		t.Fatalf("set: natsReplicas %d, shutdownGrace %s, %v", c.NATSReplicas, c.ShutdownGrace.D(), err)
	}
	for edit, want := range map[string]string{
		"natsReplicas: 7\n":    `t.yaml: natsReplicas: 7 is not a JetStream replica count (1 to 5)`,
		"natsReplicas: -1\n":   `t.yaml: natsReplicas: -1 is not a JetStream replica count`,
		"shutdownGrace: -1s\n": `a duration must not be negative`,
	} {
		if _, err := Parse("t.yaml", []byte(edit+base)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s got %v, want %s", edit, err, want)
		}
	}
}
