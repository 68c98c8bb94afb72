package adapters

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeStrictNamesTheField(t *testing.T) {
	type req struct {
		IIN    string `json:"iin"`
		Amount struct {
			Value float64 `json:"value"`
		} `json:"amount"`
	}
	cases := []struct {
		body   string
		status int
		field  string
	}{
		{`{"iin":"1","extra":2}`, 422, "extra"},
		{`{"iin":5}`, 422, "iin"},
		{`{"amount":{"value":"x"}}`, 422, "amount.value"},
		{`{"iin":`, 400, ""},
		{`{"iin":"1"} {}`, 400, ""},
		{`{"iin":"1"}}`, 400, ""}, // a json.Decoder alone would stop at the value and see no more
		{`{"iin":"1"} ]`, 400, ""},
		{`{"iin":"1"}`, 0, ""},
	}
	for _, c := range cases {
		var r req
		err := DecodeStrict([]byte(c.body), &r)
		var ae *Error
		if c.status == 0 {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		if !errors.As(err, &ae) || ae.Status != c.status || ae.Field != c.field {
			t.Errorf("%s: got %#v, want status %d field %q", c.body, err, c.status, c.field)
		}
	}
}

func TestCheckJSONNamesThePath(t *testing.T) {
	cases := []struct {
		body, kind, path string
	}{
		{`{"iin":"1","iin":"2"}`, JSONDuplicateKey, "iin"},
		{`{"a":{"b":1,"c":{"d":1,"d":2}}}`, JSONDuplicateKey, "a.c.d"},
		{`{"a":[{"x":1},{"x":1,"y":1,"x":2}]}`, JSONDuplicateKey, "a[1].x"},
		{`{"k":1,"\u006b":2}`, JSONDuplicateKey, "k"}, // the same key, escaped
		{"{\"name\":\"a\xffb\"}", JSONInvalidUTF8, "name"},
		{"{\"list\":[\"ok\",\"\xc3\"]}", JSONInvalidUTF8, "list[1]"},
		{"{\"a\":{\"b\xfe\":1}}", JSONInvalidUTF8, "a"},
		{`{"s":"\ud800"}`, JSONInvalidUnicode, "s"},
		{`{"s":"\udc00\ud800"}`, JSONInvalidUnicode, "s"},
		{`{"s":"\ud83d\u0041"}`, JSONInvalidUnicode, "s"},
		{`{"s":"\ud83d\ude00","t":"é","u":[1,2,{"v":null}],"w":{"x":{}},"y":"\"}"}`, "", ""},
		{`{"a":{"k":1},"b":{"k":1}}`, "", ""}, // one key in two objects
		// Past the first keys an object holds in place, and keys written
		// with escapes.
		{`{"a":1,"b":2,"c":3,"d":4,"e":5,"a":6}`, JSONDuplicateKey, "a"},
		{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"e":7}`, JSONDuplicateKey, "e"},
		{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":{"h":[{"i":1,"i":2}]}}`, JSONDuplicateKey, "g.h[0].i"},
		{`{"\u0061":1,"a":2}`, JSONDuplicateKey, "a"},
		{`{"p\u0061th":{"x":1,"x":2}}`, JSONDuplicateKey, "path.x"},
		{`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}`, "", ""},
		{`[{"k":1},{"k":1}]`, "", ""},
		{strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65), JSONTooDeep, strings.TrimSuffix(strings.Repeat("a.", 64), ".")},
		{strings.Repeat(`[`, 64) + strings.Repeat("]", 64), "", ""},
	}
	for _, c := range cases {
		err := CheckJSON([]byte(c.body))
		var je *JSONError
		if c.kind == "" {
			if err != nil {
				t.Errorf("%s: %v", c.body, err)
			}
			continue
		}
		if !errors.As(err, &je) || je.Kind != c.kind || je.Path != c.path {
			t.Errorf("%q: got %#v, want %s at %q", c.body, err, c.kind, c.path)
		}
	}
	var se *json.SyntaxError
	if err := CheckJSON([]byte(`{"a":`)); !errors.As(err, &se) {
		t.Errorf("syntax error: %#v", err)
	}
	// DecodeStrict refuses the same, naming the field.
	var v struct{ IIN string }
	if err := DecodeStrict([]byte(`{"IIN":"1","IIN":"2"}`), &v); err == nil || err.(*Error).Status != 400 || err.(*Error).Field != "IIN" {
		t.Errorf("DecodeStrict with a duplicate key: %#v", err)
	}
}

// CheckJSON takes whatever a caller sends: it never panics, and what it
// accepts encoding/json reads back without loss.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"s":"\ud800"}`, "{\"x\":\"\xff\"}", `[{"k":[1,{"k":2}]}]`, `"\\"`, `{"":0,"\u0000":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if CheckJSON(body) != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Errorf("accepted invalid UTF-8: %q", body)
		}
	})
}

// Every internal call's body is checked, some more than once: a body of
// small objects nested no deeper than CheckJSON's frames on the stack is
// checked without allocating.
func TestCheckJSONSmallBodyAllocatesNothing(t *testing.T) {
	body := []byte(`{"iin":"900101300123","period":{"from":"2026-01-01","to":"2026-12-31"},"tags":["a",{"k":1}]}`)
	if n := testing.AllocsPerRun(100, func() {
		if err := CheckJSON(body); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("CheckJSON allocates %v times for a small body, want 0", n)
	}
}
