package admin

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestOpenAPIDescribesEveryEndpoint: the document has one operation per
// entry of Endpoints, with its role, and no description outlives its
// endpoint.
func TestOpenAPIDescribesEveryEndpoint(t *testing.T) {
	s := &Server{}
	raw, err := s.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Role     string `json:"x-role"`
			Security []any  `json:"security"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range s.Endpoints() {
		seen[e.Pattern] = true
		method, path, _ := strings.Cut(e.Pattern, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			t.Errorf("%s: not in the document", e.Pattern)
			continue
		}
		want := string(e.Role)
		if e.Role == Open {
			want = "open"
		}
		if op.Role != want || (e.Role == Open) != (len(op.Security) == 0) {
			t.Errorf("%s: x-role %q, %d security requirements; the endpoint needs %q", e.Pattern, op.Role, len(op.Security), want)
		}
	}
	for pattern := range endpointDocs {
		if !seen[pattern] {
			t.Errorf("endpointDocs describes %s, which Endpoints no longer has", pattern)
		}
	}
}
