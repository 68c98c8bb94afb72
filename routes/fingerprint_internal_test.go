package routes

import (
	"bytes"
	"encoding/json"
	"testing"
)

// canonicalByDecoding is the canonical form by its definition: the body
// decoded into an interface value with UseNumber and encoded again, or
// the body itself when a json.Decoder does not read one value from it.
func canonicalByDecoding(body []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return body
	}
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return out
}

var canonicalSeeds = []string{
	``, ` `, `{}`, `[]`, `null`, `true`, `false`, `0`, `-1.5e+10`, `"x"`, `  {"b":1, "a":2}  `,
	`{"iin":"880501300124","amount":"125000.00","n":1}`,
	`{"b":{"d":[1,2,{"z":null,"y":true}],"c":"x"},"a":[]}`,
	`{"a":1,"a":2}`, `{"a":{"x":1},"b":0,"a":[3]}`, `{"":1," ":2,"\u0000":3}`,
	`{"k":"<tag> & \"q\" \\ \/ \b\f\n\r\t \u0001 \u2028 \u2029 é 日本 \ud83d\ude00 \ud800"}`,
	"{\"k\":\"\xff\xfe invalid utf-8\"}", "{\"\xc3\x28\":1}",
	`{"n":[1e400, -0, 0.000001, 123456789012345678901234567890]}`,
	`{"a":1} `, `{"a":1}}`, `{"a":1}]`, `{"a":1} x`, `{"a":1}{"b":2}`, `[1,2] 3`, `{"a":}`, `{"a" 1}`, `[1,]`,
	`"unterminated`, `{"a":"b"`, "\t\n\r{\"a\"\t:\n1\r}",
	`{"é":1,"e":2,"z":3,"E":4,"ä":5}`,
}

func TestCanonicalMatchesDecoding(t *testing.T) {
	for _, s := range canonicalSeeds {
		if got, want := canonical([]byte(s)), canonicalByDecoding([]byte(s)); !bytes.Equal(got, want) {
			t.Errorf("canonical(%q) = %q, want %q", s, got, want)
		}
	}
}

// FuzzCanonicalMatchesDecoding holds the walk over the body's bytes to
// the definition: for any body, the same bytes (and so the same
// fingerprint) as decoding and encoding again.
func FuzzCanonicalMatchesDecoding(f *testing.F) {
	for _, s := range canonicalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := canonical(body), canonicalByDecoding(body); !bytes.Equal(got, want) {
			t.Errorf("canonical(%q) = %q, want %q", body, got, want)
		}
	})
}

func BenchmarkFingerprint(b *testing.B) {
	body := []byte(`{"event":"payment.settled","iin":"880501300124","amount":"125000.00","currency":"KZT","document":"PP-2026-000123"}`)
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			canonical(body)
		}
	})
	b.Run("decoding", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			canonicalByDecoding(body)
		}
	})
}
