package evidence_test

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/evidence"
)

const minimal = "admins: [{name: op, role: admin, tokenSHA256: " + "0000000000000000000000000000000000000000000000000000000000000000" + "}]\n"

func parse(t *testing.T, yaml string) (*config.Config, error) {
	t.Helper()
	return config.Parse("test.yaml", []byte(minimal+yaml))
}

func TestKeysFromConfig(t *testing.T) {
	dir := t.TempDir()
	rawFile, b64File := filepath.Join(dir, "raw.key"), filepath.Join(dir, "b64.key")
	os.WriteFile(rawFile, key(7), 0o600)
	os.WriteFile(b64File, []byte(base64.StdEncoding.EncodeToString(key(8))+"\n"), 0o600)
	c, err := parse(t, "evidence:\n  keys:\n    - {id: new, keyFile: "+rawFile+"}\n    - {id: mid, keyFile: "+b64File+"}\n    - {id: old, key: "+hex.EncodeToString(key(9))+"}\n")
	if err != nil {
		t.Fatal(err)
	}
	k, err := evidence.Load(c)
	if err != nil || k.Current() != "new" || k.Demo() {
		t.Fatalf("keyring: %v %v", k, err)
	}
	if c.Evidence.Retention.D() != config.DefaultEvidenceRetention || c.Evidence.PurgeEvery.D() != config.DefaultEvidencePurge {
		t.Errorf("defaults: %+v", c.Evidence)
	}

	// No key: off, unless demo.
	off, _ := parse(t, "")
	if k, err := evidence.Load(off); k != nil || err != nil {
		t.Errorf("no key: %v %v", k, err)
	}
	demo, _ := parse(t, "demo: true\n")
	if k, err := evidence.Load(demo); err != nil || !k.Demo() {
		t.Errorf("demo: %v %v", k, err)
	}

	// A short key is refused naming the field.
	short, _ := parse(t, "evidence: {keys: [{id: a, key: c2hvcnQ=}]}\n")
	if _, err := evidence.Load(short); err == nil || !strings.Contains(err.Error(), "evidence.keys[0]") {
		t.Errorf("short key: %v", err)
	}
	for yaml, field := range map[string]string{
		"evidence: {keys: [{key: abc}]}\n":                          "evidence.keys[0].id",
		"evidence: {keys: [{id: a}]}\n":                             "exactly one of key and keyFile",
		"evidence: {keys: [{id: a, key: x}, {id: a, key: y}]}\n":    "given twice",
		"routes: [{name: r, evidenceRetention: -1h}]\n":             "must not be negative",
		"evidence: {keys: [{id: a, key: x, keyFile: /dev/null}]}\n": "set key or keyFile, not both",
	} {
		if _, err := parse(t, yaml); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v, want %q", yaml, err, field)
		}
	}
}
