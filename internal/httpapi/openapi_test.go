package httpapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestComponentRewritesLocalReferences: a derived schema's $defs become
// components beside it and its references follow them, wherever they are.
func TestComponentRewritesLocalReferences(t *testing.T) {
	for _, c := range []struct {
		name, schema string
		want         map[string]string // component → its JSON
	}{
		{"no definitions", `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object"}`,
			map[string]string{"r.request": `{"type":"object"}`}},
		{"nested and recursive references", `{"type":"object","properties":{"a":{"$ref":"#/$defs/A"},"l":{"type":"array","items":{"$ref":"#/$defs/A"}}},
			"$defs":{"A":{"type":"object","properties":{"next":{"$ref":"#/$defs/A"},"b":{"oneOf":[{"$ref":"#/$defs/B x"}]}}},"B x":{"type":"string"}}}`,
			map[string]string{
				"r.request":     `{"type":"object","properties":{"a":{"$ref":"#/components/schemas/r.request.A"},"l":{"type":"array","items":{"$ref":"#/components/schemas/r.request.A"}}}}`,
				"r.request.A":   `{"type":"object","properties":{"next":{"$ref":"#/components/schemas/r.request.A"},"b":{"oneOf":[{"$ref":"#/components/schemas/r.request.B_x"}]}}}`,
				"r.request.B_x": `{"type":"string"}`,
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			schemas := map[string]any{}
			ref, err := component(schemas, "r.request", json.RawMessage(c.schema))
			if err != nil {
				t.Fatal(err)
			}
			if ref["$ref"] != "#/components/schemas/r.request" {
				t.Errorf("reference %v", ref)
			}
			if len(schemas) != len(c.want) {
				t.Errorf("components %v, want %d", schemas, len(c.want))
			}
			for name, js := range c.want {
				var want any
				if err := json.Unmarshal([]byte(js), &want); err != nil {
					t.Fatal(err)
				}
				got, _ := json.Marshal(schemas[name])
				var gotV any
				json.Unmarshal(got, &gotV)
				if !reflect.DeepEqual(gotV, want) {
					t.Errorf("%s = %s\nwant %s", name, got, js)
				}
			}
		})
	}
}
