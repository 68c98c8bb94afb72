package config

import (
	"os"
	"strings"
	"testing"

	_ "github.com/minfin-kz/kopir/adapters/all"
)

const base = `
callers: [{name: demo, tokenSHA256: 2d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5}]
admins: [{name: ops, tokenSHA256: 3d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5}]
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
