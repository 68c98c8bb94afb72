package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProductionLinksNoMocks keeps the simulators, and the demo private
// keys they embed, out of the production binary: they belong to
// kopir-mocks. Test files are not listed by go list -deps, so the
// end-to-end tests may still use the mocks.
func TestProductionLinksNoMocks(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "./cmd/kopir")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/kopir: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "/mocks") {
			t.Errorf("cmd/kopir links %s; the mock agencies belong to cmd/kopir-mocks", pkg)
		}
	}
}

// TestMocksCommandPointsElsewhere: an operator used to `kopir mocks` is
// told where the mocks went rather than "unknown command".
func TestMocksCommandPointsElsewhere(t *testing.T) {
	err := run([]string{"mocks"}, nil)
	if err == nil || !strings.Contains(err.Error(), "kopir-mocks") {
		t.Fatalf("kopir mocks: %v", err)
	}
}
