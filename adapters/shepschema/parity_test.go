package shepschema_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/adaptertest"
)

// gbdflSchemaOpts is gbdfl.person as a schema-driven route: GBD FL's own
// XSD, <data> carrying the Request type (payload: type), SHEP's header
// fields the hand-written adapter fills in given by fill, and its result
// code check by result.
const gbdflSchemaOpts = `serviceId: GBDFL_UniversalServiceSync
senderId: kopir
password: kopir-secret
request:  {schema: ../../contracts/gbdfl/root.xsd, element: request, payload: type}
response: {schema: ../../contracts/gbdfl/root.xsd, element: data, payload: type}
fill: {messageId: messageId, messageDate: now, senderCode: senderId, kdpToken: "const:", publicKey: "const:"}
checks: {iin: [request/iin]}
result: {path: messageResult/code, ok: ["00000"]}
`

// TestParityWithTheHandWrittenGBDFL: on the same mock answers, the
// schema-driven route carries every field the hand-written adapter gives,
// value for value. The differences are on purpose and listed in
// docs/adapters/shep-schema.md: the hand-written adapter flattens
// persons/person[0] into the top level, renames fields (surname →
// lastName, gender → sex as male/female, dictionary nameRu → name), and
// answers 404 for a processed request without persons, where the schema
// route answers 200 with no persons. corresponding lists each pair.
func TestParityWithTheHandWrittenGBDFL(t *testing.T) {
	url := mockServer(t)
	hand := adaptertest.NewAdapter(t, "gbdfl", "person", "senderId: kopir\npassword: kopir-secret")
	schema := adaptertest.NewAdapter(t, "shep", "sync", gbdflSchemaOpts)

	for _, iin := range []string{"900101300126", "850101400120", "100301600125"} {
		t.Run(iin, func(t *testing.T) {
			h, err := call(t, hand, url, `{"iin":"`+iin+`"}`)
			if err != nil {
				t.Fatal(err)
			}
			s, err := call(t, schema, url, `{"iin":"`+iin+`"}`)
			if err != nil {
				t.Fatal(err)
			}
			var hj, sj map[string]any
			json.Unmarshal(h, &hj)
			json.Unmarshal(s, &sj)
			if sj["messageResult"].(map[string]any)["code"] != "00000" {
				t.Fatalf("schema route: %s", s)
			}
			person := sj["persons"].(map[string]any)["person"].([]any)[0].(map[string]any)
			corresponding := []struct{ hand, schema string }{
				{"iin", "iin"}, {"lastName", "surname"}, {"firstName", "name"}, {"middleName", "patronymic"},
				{"birthDate", "birthDate"},
				{"citizenship.code", "citizenship.code"}, {"citizenship.name", "citizenship.nameRu"},
				{"nationality.code", "nationality.code"}, {"nationality.name", "nationality.nameRu"},
				{"lifeStatus.code", "lifeStatus.code"}, {"lifeStatus.name", "lifeStatus.nameRu"},
			}
			for _, c := range corresponding {
				hv, sv := at(hj, c.hand), at(person, c.schema)
				if hv == nil || hv != sv {
					t.Errorf("%s = %v by hand, %s = %v by schema", c.hand, hv, c.schema, sv)
				}
			}
			sex := map[string]string{"1": "male", "2": "female"}[at(person, "gender.code").(string)]
			if hj["sex"] != sex {
				t.Errorf("sex %v by hand, gender %v by schema", hj["sex"], at(person, "gender"))
			}
			// Every top-level field the hand-written adapter gives is
			// accounted for above.
			for k := range hj {
				known := k == "sex"
				for _, c := range corresponding {
					known = known || strings.SplitN(c.hand, ".", 2)[0] == k
				}
				if !known {
					t.Errorf("field %s of the hand-written answer has no counterpart in the parity table", k)
				}
			}
		})
	}

	// Not on record: the hand-written adapter says 404, the schema route
	// passes the registry's processed answer without persons.
	_, herr := call(t, hand, url, `{"iin":"100301600006"}`)
	var ae *adapters.Error
	if !errors.As(herr, &ae) || ae.Status != 404 {
		t.Errorf("hand-written, not on record: %v", herr)
	}
	s, err := call(t, schema, url, `{"iin":"100301600006"}`)
	if err != nil || strings.Contains(string(s), `"persons"`) || !strings.Contains(string(s), `"code":"00000"`) {
		t.Errorf("schema route, not on record: %s %v", s, err)
	}
	// Both refuse a bad IIN before any call, naming the field.
	for name, a := range map[string]adapters.Adapter{"hand": hand, "schema": schema} {
		_, err := call(t, a, url, `{"iin":"900101300127"}`)
		if !errors.As(err, &ae) || ae.Status != 422 || ae.Field != "iin" {
			t.Errorf("%s: bad IIN: %v", name, err)
		}
	}
}

func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}
