package pii

import (
	"bytes"
	"testing"
)

// The one-pass JSON masking is defined by the encoding/json path it
// replaces: for every document both give the same bytes.
var jsonCases = []string{
	`{"iin":"931002451325","person":{"lastName":"Abaev","firstName":"Ali","phone":"+77010000000"},"list":[{"iin":123456789012}]}`,
	`{"b":1,"a":2,"a":3,"c":{"z":null,"y":true,"x":false},"d":[],"e":{}}`,
	`  [ {"iin" : "1" } , 2 , "x" , [ {"name":"Nurlan"} ] ] trailing`,
	`{"lastName":"Иванов","firstName":"Äli <b> & \u2028","iin":"\u0038\u0038"}`,
	`{"k\u0069n":"x","iin":"8805\"01","name":"a\\b\/c","person":{"name":"Нурлан"}}`,
	`{"iin":12.5e3,"n":-0,"person/name":"x","citizenship":{"name":"KZ"}}`,
	`{"iin":"\ud800x","bad":"` + "\xff\xfe" + `","ok":"` + "\xe2\x80\xa8" + `"}`,
	`{"iin":"1",}`, `{"iin":"1"`, `[1,2`, `{"iin": tru}`, `"iin"`, `12`, `null`, ` `, `{"iin":"1"}{"iin":"2"}`,
	`{"phone":"+77010000000","list":[{"phone":[1,{"phone":"x"}]}]}`,
	`{"name":"Ali","person":{"name":["Nurlan",{"name":"inner"}]}}`,
	`{"` + "\xff" + `iin":"1"}`, `{"a":"\t\n\u0001"}`,
}

// decoded is JSON as it was before the one-pass path: the encoding/json
// path behind the same pre-checks.
func decoded(p *Policy, doc []byte) []byte {
	if p.Empty() || len(doc) == 0 || !p.mentions(doc) {
		return doc
	}
	return p.jsonDecoded(doc)
}

func policies() []*Policy {
	return []*Policy{
		NewPolicy([]string{"iin", "lastName", "person/name"}, []string{"phone"}, "k"),
		NewPolicy([]string{"iin", "name", "bad", "ok"}, nil, ""),
		NewPolicy(nil, []string{"iin", "n"}, ""),
	}
}

func TestJSONFastMatchesDecoded(t *testing.T) {
	for _, p := range policies() {
		for _, c := range jsonCases {
			if got, want := p.JSON([]byte(c)), decoded(p, []byte(c)); !bytes.Equal(got, want) {
				t.Errorf("%s:\n one pass %s\n decoded  %s", c, got, want)
			}
		}
	}
	// The one-pass path is the one taken for objects and arrays.
	if _, ok := policies()[0].jsonFast([]byte(jsonCases[0])); !ok {
		t.Error("a plain object did not take the one-pass path")
	}
}

func FuzzJSONFastMatchesDecoded(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c))
	}
	ps := policies()
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, p := range ps {
			if got, want := p.JSON(doc), decoded(p, doc); !bytes.Equal(got, want) {
				t.Fatalf("%q:\n one pass %s\n decoded  %s", doc, got, want)
			}
		}
	})
}

func BenchmarkMask(b *testing.B) {
	p := NewPolicy([]string{"iin", "IIN", "lastName", "firstName", "middleName", "SurName", "Name", "MiddleName", "password"}, nil, "k")
	person := []byte(`{"iin":"880501300124","lastName":"ИВАНОВ","firstName":"ИВАН","middleName":"ИВАНОВИЧ","birthDate":"1988-05-01","sex":"male","citizenship":{"code":"398","name":"КАЗАХСТАН"},"nationality":{"code":"005","name":"КАЗАХ"},"lifeStatus":{"code":"0","name":"Нормальный"},"documents":[{"type":{"code":"002","name":"УДОСТОВЕРЕНИЕ РК"},"number":"012345678","issuedAt":"2015-01-01","expiresAt":"2025-01-01","issuer":{"code":"002","name":"МВД РК"},"status":{"code":"00","name":"Документ действителен"}}]}`)
	xml := []byte(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><ns2:SendMessage><request><requestInfo><messageId>1</messageId><sender><senderId>kopir</senderId><password>secret</password></sender></requestInfo><requestData><data><iin>880501300124</iin><surname>ИВАНОВ</surname><name>ИВАН</name></data></requestData></request></ns2:SendMessage></soap:Body></soap:Envelope>`)
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.JSON(person)
		}
	})
	b.Run("xml", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.XML(xml)
		}
	})
}

// xmlBefore is XML as it was before it copied only on a replacement: the
// oracle for FuzzXMLUnchanged.
func xmlBefore(p *Policy, doc []byte) []byte {
	if p.Empty() || len(doc) == 0 || !p.mentions(doc) {
		return doc
	}
	out := make([]byte, 0, len(doc))
	var stack []string
	for i := 0; i < len(doc); {
		lt := bytes.IndexByte(doc[i:], '<')
		if lt < 0 {
			out = append(out, doc[i:]...)
			break
		}
		text := doc[i : i+lt]
		if len(stack) > 0 && len(text) > 0 && (i+lt+1 < len(doc) && doc[i+lt+1] == '/') {
			parent := ""
			if len(stack) > 1 {
				parent = stack[len(stack)-2]
			}
			if r := p.rule(parent, stack[len(stack)-1]); r != ruleNone {
				text = []byte(p.Value(parent, stack[len(stack)-1], string(text)))
			}
		}
		out = append(out, text...)
		i += lt
		gt := bytes.IndexByte(doc[i:], '>')
		if gt < 0 {
			out = append(out, doc[i:]...)
			break
		}
		tag := doc[i : i+gt+1]
		out = append(out, tag...)
		i += gt + 1
		switch {
		case len(tag) < 3 || tag[1] == '?' || tag[1] == '!':
		case tag[1] == '/':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case tag[len(tag)-2] == '/':
		default:
			name := tag[1 : len(tag)-1]
			if sp := bytes.IndexAny(name, " \t\r\n"); sp >= 0 {
				name = name[:sp]
			}
			if c := bytes.LastIndexByte(name, ':'); c >= 0 {
				name = name[c+1:]
			}
			stack = append(stack, string(name))
		}
	}
	return out
}

func FuzzXMLUnchanged(f *testing.F) {
	for _, s := range []string{`<a><iin>931002451325</iin><ns2:surname x="1">Abaev</ns2:surname><name>Ali</name></a>`,
		`<r><person><name>Nurlan</name><citizenship><name>KAZAKHSTAN</name></citizenship></person><iin/><x><iin>931002451325</iin></x></r>`,
		`<iin>931002451325`, `<<iin>`, `text only iin`, `<a><iin>12</iin`, `<a\tb="1"><phone>+7701</phone></a>`} {
		f.Add([]byte(s))
	}
	ps := policies()
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, p := range ps {
			if got, want := p.XML(doc), xmlBefore(p, doc); !bytes.Equal(got, want) {
				t.Fatalf("%q:\n now    %q\n before %q", doc, got, want)
			}
		}
	})
}
