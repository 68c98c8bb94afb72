package app

import (
	"strings"
	"testing"

	_ "github.com/minfin-kz/kopir/adapters/all"
	"github.com/minfin-kz/kopir/internal/config"
)

const checkBase = `
callers: [{name: demo, tokenSHA256: 2d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5}]
admins: [{name: ops, tokenSHA256: 3d9f0f1c5fbc4bb1a1cb7a0b0c5c0a5ea4cfc0b3b6c4b1e1c8a6c3b1d2e3f4a5, role: viewer}]
routes:
  - name: gbdfl.person
    adapter: gbdfl
    operation: person
    endpoints: [http://127.0.0.1:8090/shep/sync]
    callers: [demo]
`

// Options are checked by the component's factory when it is built, once,
// and a refusal names the file, the route and the field.
func TestCheckNamesFileRouteAndOptions(t *testing.T) {
	for _, c := range []struct{ options, want string }{
		{"    options: {senderId: kopir, bogus: 1}\n", `t.yaml: route "gbdfl.person": options:`},
		{"    options: {password: x}\n", `t.yaml: route "gbdfl.person": options: gbdfl: options.senderId is required`},
	} {
		cfg, err := config.Parse("t.yaml", []byte(checkBase+c.options))
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("options %q:\n got %v\nwant %s", c.options, err, c.want)
		}
	}
	cfg, err := config.Parse("t.yaml", []byte(checkBase+"    options: {senderId: kopir, password: x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(cfg); err != nil {
		t.Errorf("good options refused: %v", err)
	}
}

// The demo config builds: every adapter and channel accepts its options
// and finds its files (the demo PKI), as make run needs.
func TestDemoConfigBuilds(t *testing.T) {
	t.Chdir("../..")
	cfg, err := config.Load("deploy/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(cfg); err != nil {
		t.Fatal(err)
	}
}
