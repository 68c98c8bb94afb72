// Package layering holds the tests that keep the tree's shape: which way
// dependencies point, and who writes the message store.
package layering

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/minfin-kz/kopir/"

// leaves are the internal packages the plugin layers may use: libraries
// that import nothing of the bus but other leaves (identifier checks, XML
// safety, schema validation, XML signatures and their RSA keys, config
// units, personal-data masking and the canonical JSON it writes).
var leaves = map[string]bool{
	"internal/units": true, "internal/kzid": true, "internal/iban": true,
	"internal/safexml": true, "internal/xsd": true, "internal/xmlsig": true,
	"internal/libcrypto": true, "internal/pii": true,
}

// A leaf stays a leaf: it imports no package of the module but other leaves.
func TestLeavesImportOnlyLeaves(t *testing.T) {
	var patterns []string
	for l := range leaves {
		patterns = append(patterns, "./"+l)
	}
	for pkg, deps := range imports(t, patterns...) {
		for _, d := range deps {
			if !leaves[d] {
				t.Errorf("%s imports %s: a leaf library may use only other leaves", pkg, d)
			}
		}
	}
}

// imports lists, for each package matching patterns, its non-test imports
// within the module.
func imports(t *testing.T, patterns ...string) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-f", `{{.ImportPath}} {{join .Imports " "}}`}, patterns...)...)
	cmd.Dir = root(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(f[0], module)
		m[pkg] = nil
		for _, imp := range f[1:] {
			if rest, ok := strings.CutPrefix(imp, module); ok {
				m[pkg] = append(m[pkg], rest)
			}
		}
	}
	return m
}

func root(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs(".")
	for ; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("no go.mod above the test")
	return ""
}

// routes/ and adapters/ are implemented against, never the other way: they
// may use the leaf libraries of internal/ and nothing else of it.
func TestPluginLayersImportOnlyLeaves(t *testing.T) {
	for pkg, deps := range imports(t, "./routes/...", "./adapters/...") {
		for _, d := range deps {
			if strings.HasPrefix(d, "internal/") && !leaves[d] {
				t.Errorf("%s imports %s: routes/ and adapters/ declare the interfaces they need and internal/ implements them", pkg, d)
			}
			if strings.HasPrefix(pkg, "adapters") && strings.HasPrefix(d, "routes") {
				t.Errorf("%s imports %s: adapters sit below the route table", pkg, d)
			}
		}
	}
}

// contracts/ is the agencies' protocols: it depends on nothing but leaves.
func TestContractsImportOnlyLeaves(t *testing.T) {
	for pkg, deps := range imports(t, "./contracts/...") {
		for _, d := range deps {
			if !strings.HasPrefix(d, "contracts/") && !leaves[d] {
				t.Errorf("%s imports %s: a contract package may use only other contracts and the leaf libraries", pkg, d)
			}
		}
	}
}

// Only the ledger writes the store: no other package builds a store.Event.
func TestOnlyTheLedgerBuildsStoreEvents(t *testing.T) {
	base := root(t)
	err := filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(base, path)
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "data" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if strings.HasPrefix(rel, filepath.Join("internal", "ledger")) || strings.HasPrefix(rel, filepath.Join("internal", "store")) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(src, []byte("store.Event{")) || bytes.Contains(src, []byte("store.AuditEntry{")) {
			t.Errorf("%s builds a store event: record through internal/ledger instead", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
