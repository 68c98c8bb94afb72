package xsdjson_test

import (
	"testing"

	"github.com/minfin-kz/kopir/contracts/xsdjson"
	"github.com/minfin-kz/kopir/internal/xsd"
)

// FuzzRequestJSON feeds a caller's JSON to a derived schema: Check and
// ToXML must never panic, and JSON that Check accepts must become XML the
// agency's XSD accepts too, since that XML is what leaves the bus.
func FuzzRequestJSON(f *testing.F) {
	set, err := xsdjson.LoadFile("../zags/request.xsd")
	if err != nil {
		f.Fatal(err)
	}
	el, err := set.Element("{urn:kopir:shep:zags:1}BirthRecordRequest")
	if err != nil {
		f.Fatal(err)
	}
	schema, err := xsd.Compile("../zags/request.xsd")
	if err != nil {
		f.Fatal(err)
	}
	valid := `{"requestId":"r1","iin":"100301600125"}`
	if err := el.Check([]byte(valid)); err != nil {
		// The property below is only exercised from JSON Check accepts.
		f.Fatalf("the seed %s is not accepted: %v", valid, err)
	}
	for _, seed := range []string{
		valid,
		`{"requestId":"r2","certificate":{"series":"IV-АБ","number":"1234567"}}`,
		`{"iin":12}`, `{"iin":"1","extra":true}`, `[]`, `{"certificate":{"number":"1"}}`, `{"iin":"\u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if el.Check(body) != nil {
			return
		}
		doc, err := el.ToXML(body)
		if err != nil {
			t.Fatalf("%s passed Check but does not become XML: %v", body, err)
		}
		if vs := schema.Validate(doc); len(vs) > 0 {
			t.Fatalf("%s passed Check but its XML fails the XSD: %v\n%s", body, vs, doc)
		}
	})
}
