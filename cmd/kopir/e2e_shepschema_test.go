package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// contract is a file under contracts/, absolute, as a config names it.
func contract(name string) string {
	p, err := filepath.Abs(filepath.Join("..", "..", "contracts", name))
	if err != nil {
		panic(err)
	}
	return p
}

// storedText is every string of a stored message as the admin API shows
// it, wire bodies decoded from base64.
func storedText(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case string:
			b.WriteString(t + "\n")
			if raw, err := base64.StdEncoding.DecodeString(t); err == nil {
				b.Write(raw)
				b.WriteString("\n")
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		case map[string]any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	return b.String()
}

func shepSchemaConfig(h *harness) string {
	return fmt.Sprintf(`demo: true
listen: {internal: %q, agency: %q, admin: %q}
dataDir: %q
callers: [{name: demo, token: demo-token}, {name: other, token: other-token}]
admins: [{name: operator, token: admin-token, role: admin}]
routes:
  - name: gbdfl.person
    adapter: gbdfl
    operation: person
    endpoints: [http://%[5]s/shep/sync]
    callers: [demo, other]
    options: {senderId: kopir, password: kopir-secret}
  - name: zags.birth-record
    adapter: shep
    operation: sync
    endpoints: [http://%[5]s/shep/sync]
    callers: [demo]
    personalData: {mask: [iin, lastName, firstName, middleName, birthDate, password]}
    options:
      serviceId: ZAGS_BirthRecordService
      senderId: kopir
      password: kopir-secret
      request:  {schema: %[6]q, element: "{urn:kopir:shep:zags:1}BirthRecordRequest"}
      response: {schema: %[7]q, element: "{urn:kopir:shep:zags:1}BirthRecordResponse"}
      checks: {iin: [BirthRecordRequest/iin]}
      fill: {requestId: messageId}
  - name: inspections.subject
    adapter: shep
    operation: sync
    endpoints: [http://%[5]s/shep/sync]
    callers: [demo]
    options:
      serviceId: ERSP_SubjectInspections
      senderId: kopir
      password: kopir-secret
      request:  {schema: %[8]q, element: "{urn:kopir:shep:inspections:1}SubjectRequest"}
      response: {schema: %[9]q, element: "{urn:kopir:shep:inspections:1}SubjectResponse"}
      checks: {bin: [SubjectRequest/bin]}
  - name: elicense.licenses
    adapter: shep
    operation: sync
    endpoints: [http://%[5]s/shep/sync]
    callers: [demo]
    options:
      serviceId: ELICENSE_LicenseSearch
      senderId: kopir
      password: kopir-secret
      request:  {schema: %[10]q, element: "{urn:kopir:shep:elicense:1}LicenseSearchRequest"}
      response: {schema: %[11]q, element: "{urn:kopir:shep:elicense:1}LicenseSearchResponse"}
      checks: {bin: [LicenseSearchRequest/bin], iin: [LicenseSearchRequest/iin]}
`, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), h.mocks,
		contract("zags/request.xsd"), contract("zags/response.xsd"),
		contract("inspections/request.xsd"), contract("inspections/response.xsd"),
		contract("elicense/request.xsd"), contract("elicense/response.xsd"))
}

// TestSchemaDrivenSHEPRoutes: agencies connected by config alone answer
// through the real bus and the mock gateway; hostile JSON is refused 422
// naming its JSON path; the derived schemas are published to callers who
// may use the route; personal data is masked in the store as on any route.
func TestSchemaDrivenSHEPRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarnessWith(t, shepSchemaConfig)

	status, got, err := h.call("inspections.subject", "", `{"bin":"000740000728","year":2025}`)
	if err != nil || status != 200 {
		t.Fatalf("inspections: %d %v %v", status, got, err)
	}
	subject, _ := got["subject"].(map[string]any)
	insp, _ := got["inspection"].([]any)
	if subject["bin"] != "000740000728" || subject["riskDegree"] != "MEDIUM" || len(insp) != 2 {
		t.Errorf("inspections answer: %v", got)
	}
	if first, _ := insp[0].(map[string]any); first["kind"] != "scheduled" || first["violationsFound"] != 2.0 {
		t.Errorf("attributes and integers: %v", insp[0])
	}

	status, got, _ = h.call("elicense.licenses", "", `{"bin":"000740000728","activityCode":["01402"]}`)
	licenses, _ := got["license"].([]any)
	if status != 200 || len(licenses) != 2 {
		t.Fatalf("elicense: %d %v", status, got)
	}
	if l, _ := licenses[0].(map[string]any); l["status"] != "ACTIVE" || l["number"] != "KZ12LAA00001234" ||
		fmt.Sprint(l["fee"]) != "map[currency:KZT value:36920]" {
		t.Errorf("attributes and simple content: %v", licenses[0])
	}

	status, got, _ = h.call("zags.birth-record", "", `{"iin":"100301600125"}`)
	record, _ := got["record"].(map[string]any)
	if status != 200 || got["status"] != "FOUND" || record["registrationDate"] != "2010-03-15" {
		t.Fatalf("zags: %d %v", status, got)
	}
	id := ""
	if s, ok := got["requestId"].(string); ok {
		id = s // the bus's message id, filled in as requestId
	}
	var detail map[string]any
	if h.adminGet("/admin/v1/messages/"+id, &detail) != 200 {
		t.Errorf("the call is not stored under its message id %q", id)
	}
	stored := storedText(detail)
	if strings.Contains(stored, "100301600125") || strings.Contains(stored, "АХМЕТОВА") || !strings.Contains(stored, "<iin>**********25</iin>") {
		t.Errorf("personal data in the store is not masked as configured:\n%s", stored)
	}

	if status, got, _ := h.call("zags.birth-record", "", `{"iin":"100301600006"}`); status != 200 || got["status"] != "NOT_FOUND" || got["record"] != nil {
		t.Errorf("zags, not on record: %d %v", status, got)
	}

	for _, c := range []struct{ route, body, field, fragment string }{
		{"zags.birth-record", `{"iin":100301600125}`, "iin", "must be a string"},
		{"zags.birth-record", `{"certificate":{"series":"ABCDEFGHIJK","number":"1234567"}}`, "certificate.series", "at most 10"},
		{"zags.birth-record", `{"iin":"10030160012X"}`, "iin", "pattern"},
		{"zags.birth-record", `{"iin":"100301600125","nickname":"x"}`, "nickname", "not a field"},
		{"zags.birth-record", `{"iin":"100301600128"}`, "iin", "check digit"},
		{"inspections.subject", `{"bin":"000740000728","year":1999}`, "year", "at least 2000"},
		{"inspections.subject", `{"bin":"000740000729"}`, "bin", "check digit"},
		{"elicense.licenses", `{"bin":"000740000728","activityCode":"01402"}`, "activityCode", "must be an array"},
		{"elicense.licenses", `{"bin":"000740000728","iin":"100301600125"}`, "iin", "only one of"},
	} {
		status, p, _ := h.call(c.route, "", c.body)
		detail, _ := p["detail"].(string)
		if status != 422 || p["field"] != c.field || !strings.Contains(detail, c.fragment) {
			t.Errorf("%s %s: %d %v", c.route, c.body, status, p)
		}
	}

	get := func(route, token string) (int, map[string]json.RawMessage) {
		req, _ := http.NewRequest("GET", "http://"+h.internal+"/v1/routes/"+route+"/schema", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]json.RawMessage
		json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	status, schemas := get("zags.birth-record", "demo-token")
	if status != 200 || !strings.Contains(string(schemas["request"]), `"title":"BirthRecordRequest"`) ||
		!strings.Contains(string(schemas["response"]), `"title":"BirthRecordResponse"`) {
		t.Errorf("schema: %d %s", status, schemas)
	}
	for _, c := range []struct {
		route, token string
		want         int
	}{
		{"zags.birth-record", "", 401},
		{"zags.birth-record", "other-token", 403},
		{"gbdfl.person", "demo-token", 404}, // a hand-written adapter publishes none
		{"no.such-route", "demo-token", 404},
	} {
		if status, _ := get(c.route, c.token); status != c.want {
			t.Errorf("GET %s/schema as %q: %d, want %d", c.route, c.token, status, c.want)
		}
	}
}
