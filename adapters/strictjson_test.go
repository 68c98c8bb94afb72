package adapters

import (
	"errors"
	"testing"
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
