package deploytest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinariesLinkNoKubernetes: the Kubernetes types are for these tests;
// neither binary may link them (go list -deps leaves test files out).
func TestBinariesLinkNoKubernetes(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./cmd/kopir", "./cmd/kopir-mocks")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 50 {
		t.Fatalf("go list -deps listed %d packages: not the binaries' dependencies", len(pkgs))
	}
	for _, pkg := range pkgs {
		for _, banned := range []string{"k8s.io/", "sigs.k8s.io/", "github.com/prometheus-operator/"} {
			if strings.HasPrefix(pkg, banned) {
				t.Errorf("a binary links %s, which only deploy/deploytest may use", pkg)
			}
		}
	}
}
