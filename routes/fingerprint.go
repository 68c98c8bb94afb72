package routes

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"unicode/utf8"
)

// Fingerprint identifies a request body for its Idempotency-Key: the hex
// SHA-256 of the body in canonical form (a JSON body re-encoded with its
// keys sorted and no insignificant space, numbers as written), so that a
// caller repeating a call is recognised however its JSON library orders
// keys, and a different request under the same key is not. A body that is
// not JSON is taken byte for byte.
func Fingerprint(body []byte) string {
	sum := sha256.Sum256(canonical(body))
	return hex.EncodeToString(sum[:])
}

// canonical is body as encoding/json would write it back after decoding
// it into an interface value with UseNumber (objects' keys sorted, the
// last of a repeated key kept, strings escaped as json.Marshal escapes
// them, numbers as written), written from the body's own bytes instead of
// through maps and interfaces, which cost 2.3% of the bus's CPU on keyed
// async calls. The JSON value is what a json.Decoder reads first,
// accepted exactly as it accepts it; a body it does not read, or that goes
// on with more than a closing bracket, is taken as it is.
// FuzzCanonicalMatchesDecoding holds it to the round trip.
func canonical(body []byte) []byte {
	raw := body
	if !json.Valid(body) {
		// Not one JSON value alone: a json.Decoder may still read one
		// from its start.
		dec := json.NewDecoder(bytes.NewReader(body))
		var first json.RawMessage
		if err := dec.Decode(&first); err != nil || dec.More() {
			return body
		}
		raw = first
	}
	w := canonWriter{out: make([]byte, 0, len(raw))}
	if _, ok := w.value(raw, 0); !ok {
		return body
	}
	return w.out
}

// canonWriter writes the canonical form of JSON that encoding/json has
// already accepted.
type canonWriter struct{ out []byte }

// member is one of an object's members: its key, decoded, and where its
// value's canonical form sits in the writer's output.
type member struct {
	key        []byte
	start, end int
}

// value writes the value at in[i:] (after any space) and returns the
// index just past it.
func (w *canonWriter) value(in []byte, i int) (int, bool) {
	i = skipSpace(in, i)
	if i >= len(in) {
		return i, false
	}
	switch in[i] {
	case '{':
		return w.object(in, i)
	case '[':
		w.out = append(w.out, '[')
		i = skipSpace(in, i+1)
		if i < len(in) && in[i] == ']' {
			w.out = append(w.out, ']')
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = w.value(in, i); !ok {
				return i, false
			}
			i = skipSpace(in, i)
			if i >= len(in) {
				return i, false
			}
			if in[i] == ']' {
				w.out = append(w.out, ']')
				return i + 1, true
			}
			w.out = append(w.out, ',')
			i++
		}
	case '"':
		s, end, ok := stringAt(in, i)
		if !ok {
			return end, false
		}
		w.out = appendJSONString(w.out, s)
		return end, true
	default: // a number, true, false or null: written as it is
		j := i
		for j < len(in) && !isDelim(in[j]) {
			j++
		}
		w.out = append(w.out, in[i:j]...)
		return j, true
	}
}

// object writes the object at in[i]: its members' values first, where
// they fall, then the whole object again in key order over them.
func (w *canonWriter) object(in []byte, i int) (int, bool) {
	base := len(w.out)
	var members []member
	i = skipSpace(in, i+1)
	for i < len(in) && in[i] != '}' {
		key, end, ok := stringAt(in, i)
		if !ok {
			return end, false
		}
		i = skipSpace(in, end)
		if i >= len(in) || in[i] != ':' {
			return i, false
		}
		start := len(w.out)
		if i, ok = w.value(in, i+1); !ok {
			return i, false
		}
		members = append(members, member{key: key, start: start, end: len(w.out)})
		i = skipSpace(in, i)
		if i < len(in) && in[i] == ',' {
			i = skipSpace(in, i+1)
		}
	}
	if i >= len(in) {
		return i, false
	}
	// Stable: of a key given twice, the later stays the later, and is
	// the one kept, as decoding into a map keeps it.
	slices.SortStableFunc(members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	values := w.out[base:]
	obj := make([]byte, 0, len(values)+len(members)*8+2)
	obj = append(obj, '{')
	for k, m := range members {
		if k+1 < len(members) && bytes.Equal(members[k+1].key, m.key) {
			continue
		}
		if len(obj) > 1 {
			obj = append(obj, ',')
		}
		obj = appendJSONString(obj, m.key)
		obj = append(obj, ':')
		obj = append(obj, values[m.start-base:m.end-base]...)
	}
	obj = append(obj, '}')
	w.out = append(w.out[:base], obj...)
	return i + 1, true
}

// stringAt decodes the JSON string at in[i] and returns it with the index
// past its closing quote. A string without escapes or bytes outside
// printable ASCII is returned in place.
func stringAt(in []byte, i int) ([]byte, int, bool) {
	if i >= len(in) || in[i] != '"' {
		return nil, i, false
	}
	plain := true
	j := i + 1
	for ; j < len(in) && in[j] != '"'; j++ {
		switch c := in[j]; {
		case c == '\\':
			plain = false
			j++ // the escaped character, a quote perhaps
		case c < 0x20 || c >= utf8.RuneSelf:
			plain = false
		}
	}
	if j >= len(in) {
		return nil, j, false
	}
	if plain {
		return in[i+1 : j], j + 1, true
	}
	var s string
	if err := json.Unmarshal(in[i:j+1], &s); err != nil {
		return nil, j + 1, false
	}
	return []byte(s), j + 1, true
}

// appendJSONString appends s as json.Marshal writes a string.
func appendJSONString(dst, s []byte) []byte {
	if needsNoEscape(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	enc, _ := json.Marshal(string(s)) // a string always marshals
	return append(dst, enc...)
}

// needsNoEscape: s is printable ASCII with nothing json.Marshal escapes
// (quote, backslash, and <, > and & for HTML).
func needsNoEscape(s []byte) bool {
	for _, c := range s {
		switch {
		case c < 0x20 || c >= utf8.RuneSelf, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

func skipSpace(in []byte, i int) int {
	for i < len(in) && (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r') {
		i++
	}
	return i
}

func isDelim(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// KeyReuse names what a call x under an earlier message's Idempotency-Key
// changed: "route", "body", both, or nothing (a true repeat). A message
// stored before fingerprints were kept is compared by route only.
func KeyReuse(earlier *Message, x *Exchange) []string {
	var differs []string
	if earlier.Route != x.Route.Name {
		differs = append(differs, "route")
	}
	if earlier.Fingerprint != "" && earlier.Fingerprint != x.RequestFingerprint() {
		differs = append(differs, "body")
	}
	return differs
}

// RequestFingerprint is x's Fingerprint, computed once.
func (x *Exchange) RequestFingerprint() string {
	if x.Fingerprint == "" {
		x.Fingerprint = Fingerprint(x.Request.Body)
	}
	return x.Fingerprint
}
