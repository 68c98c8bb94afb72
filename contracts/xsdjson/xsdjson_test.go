package xsdjson

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/internal/xsd"
)

func loadOrder(t *testing.T) (*Element, *xsd.Schema) {
	t.Helper()
	set, err := LoadFile("testdata/main.xsd")
	if err != nil {
		t.Fatal(err)
	}
	el, err := set.Element("{urn:test:main}Order")
	if err != nil {
		t.Fatal(err)
	}
	schema, err := xsd.Compile("testdata/main.xsd")
	if err != nil {
		t.Fatal(err)
	}
	return el, schema
}

const fullOrder = `{"version":"1.0","priority":7,"id":"AB1234","date":"2026-01-02","bin":"123456789012",
"status":"NEW","line":[{"qty":2,"price":10.50},{"qty":1,"price":0.5}],"total":{"currency":"KZT","value":21.5},
"party":[{"name":"Shop"},{"@type":"Person","name":"Aigerim","iin":"900101300123"}],"urgent":true,"tags":[1,2],
"note":null,"key":["a","b"],"val":["1","2"],"comment":"ok"}`

// TestJSONToXML covers every construct: the XML comes out in schema order,
// with the namespaces and xsi attributes, and passes libxml2.
func TestJSONToXML(t *testing.T) {
	el, schema := loadOrder(t)
	tests := []struct {
		name, json string
		contains   []string
	}{
		{"sequence, choice, import, include, facets", fullOrder, []string{
			`<Order xmlns="urn:test:main" version="1.0" priority="7"><id>AB1234</id><date>2026-01-02</date><bin>123456789012</bin><status>NEW</status>`,
		}},
		{"repeated element is an array", fullOrder, []string{`<line><qty>2</qty><price>10.50</price></line><line><qty>1</qty><price>0.5</price></line>`}},
		{"simpleContent with attribute", fullOrder, []string{`<total currency="KZT">21.5</total>`}},
		{"xsi:type of a derived type", fullOrder, []string{`<party xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xt="urn:test:main" xsi:type="xt:Person"><name>Aigerim</name><iin>900101300123</iin></party>`}},
		{"boolean and list", fullOrder, []string{`<urgent>true</urgent><tags>1 2</tags>`}},
		{"nil", fullOrder, []string{`<note xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>`}},
		{"repeating group taken in turn", fullOrder, []string{`<key>a</key><val>1</val><key>b</key><val>2</val>`}},
		{"element ref", fullOrder, []string{`<comment>ok</comment></Order>`}},
		{"choice other branch, optional parts absent",
			`{"version":"1.0","id":"XY0001","date":"2026-01-02","iin":"900101300123","line":[{"qty":1,"price":1}],"total":{"currency":"KZT","value":1}}`,
			[]string{`<iin>900101300123</iin><line>`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := el.ToXML([]byte(tc.json))
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range tc.contains {
				if !strings.Contains(string(doc), c) {
					t.Errorf("missing %s\nin %s", c, doc)
				}
			}
			if vs := schema.Validate(doc); vs != nil {
				t.Errorf("libxml2 refuses the XML: %v\n%s", xsd.Err(vs), doc)
			}
		})
	}
}

// TestHostileJSON: every rule the schema implies is enforced, naming the
// JSON path.
func TestHostileJSON(t *testing.T) {
	el, _ := loadOrder(t)
	base := map[string]any{}
	if err := json.Unmarshal([]byte(fullOrder), &base); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		edit     func(m map[string]any)
		path     string
		fragment string
	}{
		{"wrong type", func(m map[string]any) { m["urgent"] = "yes" }, "urgent", "true or false"},
		{"number for string", func(m map[string]any) { m["id"] = 12 }, "id", "must be a string"},
		{"too long", func(m map[string]any) { m["comment"] = strings.Repeat("x", 11) }, "comment", "at most 10"},
		{"too short", func(m map[string]any) { m["comment"] = "" }, "comment", "at least 1"},
		{"exact length", func(m map[string]any) { m["bin"] = "12345" }, "bin", "exactly 12"},
		{"pattern", func(m map[string]any) { m["id"] = "ab1234" }, "id", "pattern"},
		{"enumeration", func(m map[string]any) { m["status"] = "OLD" }, "status", "one of NEW, DONE"},
		{"unknown key", func(m map[string]any) { m["extra"] = 1 }, "extra", "not a field"},
		{"unknown key deep", func(m map[string]any) {
			m["line"] = []any{map[string]any{"qty": 1, "price": 1, "sku": "x"}}
		}, "line[0].sku", "not a field"},
		{"deep value in array", func(m map[string]any) {
			m["line"] = []any{map[string]any{"qty": 1, "price": 1}, map[string]any{"qty": 0, "price": 1}}
		}, "line[1].qty", "at least 1"},
		{"maxInclusive", func(m map[string]any) { m["line"] = []any{map[string]any{"qty": 1000, "price": 1}} }, "line[0].qty", "at most 999"},
		{"integer", func(m map[string]any) { m["line"] = []any{map[string]any{"qty": 1.5, "price": 1}} }, "line[0].qty", "integer"},
		{"fractionDigits", func(m map[string]any) { m["line"] = []any{map[string]any{"qty": 1, "price": 1.005}} }, "line[0].price", "2 digits after"},
		{"totalDigits", func(m map[string]any) { m["line"] = []any{map[string]any{"qty": 1, "price": 12345.67}} }, "line[0].price", "6 digits"},
		{"maxOccurs", func(m map[string]any) {
			l := map[string]any{"qty": 1, "price": 1}
			m["line"] = []any{l, l, l, l}
		}, "line", "at most 3"},
		{"array expected", func(m map[string]any) { m["line"] = map[string]any{"qty": 1, "price": 1} }, "line", "array"},
		{"required", func(m map[string]any) { delete(m, "date") }, "date", "required"},
		{"required attribute", func(m map[string]any) { delete(m, "version") }, "version", "required"},
		{"fixed attribute", func(m map[string]any) { m["version"] = "2.0" }, "version", "must be 1.0"},
		{"both branches of a choice", func(m map[string]any) { m["iin"] = "900101300123" }, "bin", "only one of"},
		{"neither branch of a choice", func(m map[string]any) { delete(m, "bin") }, "", "one of iin, bin is required"},
		{"date", func(m map[string]any) { m["date"] = "02.01.2026" }, "date", "YYYY-MM-DD"},
		{"xsi:type unknown", func(m map[string]any) { m["party"] = []any{map[string]any{"@type": "Robot", "name": "x"}} }, "party[0].@type", "one of Party, Person"},
		{"field of the derived type only", func(m map[string]any) { m["party"] = []any{map[string]any{"name": "x", "iin": "900101300123"}} }, "party[0].iin", "not a field"},
		{"null where not nillable", func(m map[string]any) { m["comment"] = nil }, "comment", "null"},
		{"simple content", func(m map[string]any) { m["total"] = map[string]any{"currency": "KZT", "value": "x"} }, "total.value", "number"},
		{"list item", func(m map[string]any) { m["tags"] = []any{1, "a"} }, "tags", "item 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]any{}
			json.Unmarshal([]byte(fullOrder), &m)
			tc.edit(m)
			body, _ := json.Marshal(m)
			err := el.Check(body)
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("want *Error, got %v", err)
			}
			for _, v := range e.Violations {
				if v.Path == tc.path && strings.Contains(v.Message, tc.fragment) {
					return
				}
			}
			t.Errorf("want %q at %q, got %v", tc.fragment, tc.path, e.Violations)
		})
	}
}

// TestXMLToJSON reads the XML back into the same JSON, field for field.
func TestXMLToJSON(t *testing.T) {
	el, _ := loadOrder(t)
	doc, err := el.ToXML([]byte(fullOrder))
	if err != nil {
		t.Fatal(err)
	}
	got, err := el.FromXML(doc)
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	json.Unmarshal([]byte(fullOrder), &a)
	json.Unmarshal(got, &b)
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	if string(aj) != string(bj) {
		t.Errorf("round trip:\n%s\n%s", aj, bj)
	}
}

func TestXMLToJSONLexicalForms(t *testing.T) {
	el, _ := loadOrder(t)
	tests := []struct{ name, xml, want string }{
		{"prefixed namespaces, boolean 1, decimal forms",
			`<m:Order xmlns:m="urn:test:main" xmlns:x="http://www.w3.org/2001/XMLSchema-instance" version="1.0"><m:id>AB1234</m:id><m:date>2026-01-02</m:date><m:iin>900101300123</m:iin><m:line><m:qty>007</m:qty><m:price>+.5</m:price></m:line><m:total currency="KZT">5.</m:total><m:party x:type="m:Person"><m:name>A</m:name><m:iin>900101300123</m:iin></m:party><m:urgent>1</m:urgent></m:Order>`,
			`{"version":"1.0","id":"AB1234","date":"2026-01-02","iin":"900101300123","line":[{"qty":7,"price":0.5}],"total":{"currency":"KZT","value":5},"party":[{"@type":"Person","name":"A","iin":"900101300123"}],"urgent":true}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := el.FromXML([]byte(tc.xml))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := el.FromXML([]byte(`<Order xmlns="urn:test:main" version="1.0"><bogus/></Order>`)); err == nil {
		t.Error("an element the schema does not have was accepted")
	}
}

func TestContentXMLAsSHEPCarriesIt(t *testing.T) {
	set, err := LoadFile("testdata/main.xsd")
	if err != nil {
		t.Fatal(err)
	}
	el, err := set.Element("{urn:test:main}comment")
	if err != nil {
		t.Fatal(err)
	}
	got, err := el.ContentXML([]byte(`"hi & bye"`))
	if err != nil || string(got) != "hi &amp; bye" {
		t.Errorf("%s %v", got, err)
	}
	order, _ := set.Element("{urn:test:main}Order")
	if _, err := order.ContentXML([]byte(fullOrder)); err == nil {
		t.Error("content of a type with attributes was written without them")
	}
	doc := el.Document("hi &amp; bye", []xml.Attr{{Name: xml.Name{Space: "xmlns", Local: "p"}, Value: "urn:x"}}, true)
	if want := `<xj:comment xmlns:xj="urn:test:main" xmlns:p="urn:x">hi &amp; bye</xj:comment>`; string(doc) != want {
		t.Errorf("document %s, want %s", doc, want)
	}
	back, err := el.FromDocument(doc)
	if err != nil || string(back) != `"hi \u0026 bye"` {
		t.Errorf("%s %v", back, err)
	}
	wrapped := el.Document(`<comment xmlns="urn:test:main">x</comment>`, nil, false)
	if back, err := el.FromDocument(wrapped); err != nil || string(back) != `"x"` {
		t.Errorf("element inside data: %s %v", back, err)
	}
}

func TestLeaf(t *testing.T) {
	el, _ := loadOrder(t)
	for path, ok := range map[string]bool{
		"Order/iin": true, "iin": true, "line/qty": true, "party/name": true, "total/currency": true, "total/value": true, "version": true,
		"line": false, "nope": false, "iin/x": false, "total/value/x": false,
	} {
		if err := el.Leaf(path); (err == nil) != ok {
			t.Errorf("Leaf(%q) = %v", path, err)
		}
	}
}

func TestJSONSchema(t *testing.T) {
	el, _ := loadOrder(t)
	raw, err := el.JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Schema string                     `json:"$schema"`
		Ref    string                     `json:"$ref"`
		Defs   map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if s.Ref != "#/$defs/Order" {
		t.Fatalf("root: %s", raw)
	}
	for _, want := range []struct{ def, fragment string }{
		{"Order", `"id":{"pattern":"^(?:[A-Z]{2}\\d{4})$","type":"string"`},
		{"Order", `"status":{"enum":["NEW","DONE"],"type":"string"`},
		{"Order", `"line":{"items":{"$ref":"#/$defs/Line"},"maxItems":3,"minItems":1,"type":"array"}`},
		{"Order", `"oneOf":[{"required":["iin"]},{"required":["bin"]}]`},
		{"Order", `"party":{"items":{"oneOf":[{"$ref":"#/$defs/Party"},{"allOf":[{"$ref":"#/$defs/Person"}],"required":["@type"]}]}`},
		{"Order", `"version":{"const":"1.0"`},
		{"Order", `"note":{"anyOf":[{"type":"string","x-xsdType":"xs:string"},{"type":"null"}]}`},
		{"Order", `"additionalProperties":false`},
		{"Order", `"tags":{"items":{"maximum":2147483647,"minimum":-2147483648,"type":"integer"`},
		{"Line", `"price":{"multipleOf":0.01,"type":"number","x-totalDigits":6`},
		{"Line", `"qty":{"maximum":999,"minimum":1,"type":"integer"`},
		{"Order", `"bin":{"maxLength":12,"minLength":12,"pattern":"^(?:\\d{12})$"`},
		{"Order", `"total":{"$ref":"#/$defs/Amount"}`},
		{"Amount", `"properties":{"@type":{"const":"Amount"},"currency":{"type":"string","x-xsdType":"xs:string"},"value":{"type":"number"`},
	} {
		if !strings.Contains(string(s.Defs[want.def]), want.fragment) {
			t.Errorf("$defs/%s lacks %s\n%s", want.def, want.fragment, s.Defs[want.def])
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	set, err := LoadFile("testdata/main.xsd")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Element("{urn:test:main}Nope"); err == nil || !strings.Contains(err.Error(), "Order") {
		t.Errorf("unknown element: %v", err)
	}
	if _, err := LoadFile("testdata/missing.xsd"); err == nil {
		t.Error("a missing file loaded")
	}
}
