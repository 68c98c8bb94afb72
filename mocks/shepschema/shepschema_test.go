package shepschema

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/minfin-kz/kopir/contracts"
)

func byName(t *testing.T, name string) *Service {
	t.Helper()
	svcs, err := Load(contracts.SHEPMocks)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no %s among the embedded services", name)
	return nil
}

// TestRespond: requests are read through the request schema and refused
// when they break it; the answer is the first matching template, filled
// in and written through the response schema.
func TestRespond(t *testing.T) {
	zags := byName(t, "zags")
	tests := []struct{ name, data, want, refusal string }{
		{"found", `<BirthRecordRequest xmlns="urn:kopir:shep:zags:1"><requestId>r1</requestId><iin>100301600125</iin></BirthRecordRequest>`,
			`<requestId>r1</requestId><status>FOUND</status>`, ""},
		{"filled from the request", `<BirthRecordRequest xmlns="urn:kopir:shep:zags:1"><requestId>r1</requestId><iin>100301600125</iin></BirthRecordRequest>`,
			`<child><iin>100301600125</iin>`, ""},
		{"not found", `<BirthRecordRequest xmlns="urn:kopir:shep:zags:1"><requestId>r2</requestId><iin>100301600006</iin></BirthRecordRequest>`,
			`<requestId>r2</requestId><status>NOT_FOUND</status></BirthRecordResponse>`, ""},
		{"attribute of a derived type", `<BirthRecordRequest xmlns="urn:kopir:shep:zags:1"><requestId>r1</requestId><iin>100301600125</iin></BirthRecordRequest>`,
			`<parent role="mother">`, ""},
		{"breaks a facet", `<BirthRecordRequest xmlns="urn:kopir:shep:zags:1"><requestId>r1</requestId><iin>12</iin></BirthRecordRequest>`,
			"", "iin: must match"},
		{"unknown element", `<BirthRecordRequest xmlns="urn:kopir:shep:zags:1"><requestId>r1</requestId><name>x</name></BirthRecordRequest>`,
			"", "not in the schema"},
		{"another agency's element", `<SubjectRequest xmlns="urn:kopir:shep:inspections:1"><bin>000740000728</bin></SubjectRequest>`,
			"", "no element"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, msg := zags.Respond(tc.data)
			if tc.refusal != "" {
				if !strings.Contains(msg, tc.refusal) {
					t.Errorf("refusal %q, want %q", msg, tc.refusal)
				}
				return
			}
			if msg != "" || !strings.Contains(string(doc), tc.want) {
				t.Errorf("answer %s (%s), want %s", doc, msg, tc.want)
			}
		})
	}
}

func TestLoadRefusesBrokenDescriptors(t *testing.T) {
	xsd, _ := contracts.SHEPMocks.ReadFile("inspections/request.xsd")
	for name, yaml := range map[string]string{
		"no serviceId":    "answers: [{answer: {}}]\n",
		"unknown element": "serviceId: S\nrequest: {schema: request.xsd, element: Nope}\nanswers: [{answer: {}}]\n",
		"bad pattern": "serviceId: S\nrequest: {schema: request.xsd, element: \"{urn:kopir:shep:inspections:1}SubjectRequest\"}\n" +
			"response: {schema: request.xsd, element: \"{urn:kopir:shep:inspections:1}SubjectRequest\"}\nanswers: [{when: {bin: '('}, answer: {}}]\n",
	} {
		fsys := fstest.MapFS{"x/shep-mock.yaml": {Data: []byte(yaml)}, "x/request.xsd": {Data: xsd}}
		if _, err := Load(fsys); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
