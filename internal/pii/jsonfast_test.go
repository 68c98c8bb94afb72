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
