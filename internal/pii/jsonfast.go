package pii

import (
	"bytes"
	"encoding/json"
	"slices"
	"sync"
	"unicode/utf8"
)

// jsonFast masks a document whose first value is an object or an array
// without building it as maps: the value is checked with json.Valid, then
// copied token by token, each object's members written in sorted key order
// with the last of repeated keys kept, as json.Marshal writes a decoded
// map. ok is false when the document is not an object or array, or not
// one this pass can finish; JSON then takes the encoding/json path, which
// stays the definition of the result (TestJSONFastMatchesDecoded).
func (p *Policy) jsonFast(doc []byte) (_ []byte, ok bool) {
	i := skipSpace(doc, 0)
	if i == len(doc) || (doc[i] != '{' && doc[i] != '[') {
		return nil, false
	}
	end, ok := valueEnd(doc, i)
	if !ok {
		return nil, false
	}
	v := doc[i:end]
	if !json.Valid(v) {
		// The decoder reads exactly this value and would refuse it too.
		return doc, true
	}
	return p.write(v)
}

// Canonical is the JSON value doc as encoding/json writes it back after
// decoding it into an interface value with UseNumber: objects' members in
// key order, the last of a repeated key kept, strings escaped as
// json.Marshal escapes them, numbers as written. It is the masking rewrite
// with nothing to mask; the Idempotency-Key fingerprint hashes it. ok is
// false when doc is not one valid JSON value.
func Canonical(doc []byte) (_ []byte, ok bool) {
	if !json.Valid(doc) {
		return nil, false
	}
	var none *Policy
	if out, ok := none.write(doc); ok {
		return out, true
	}
	return none.jsonDecoded(doc), true
}

// write rewrites the valid JSON value v; ok is false where it leaves v to
// encoding/json (nesting deeper than maxFastDepth, a key that is not UTF-8).
func (p *Policy) write(v []byte) (_ []byte, ok bool) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	w := jsonWriter{p: p, out: make([]byte, 0, len(v)+len(v)/8), scratch: sc}
	if _, ok := w.value(v, 0, nil, nil, 0); !ok {
		return nil, false
	}
	return w.out, true
}

// scratch is what a rewrite needs only while it runs: the members of the
// objects open on the way down, and the copy an object is reordered from.
type scratch struct {
	members []member
	tmp     []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{members: make([]member, 0, 64), tmp: make([]byte, 0, 4096)} }}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// valueEnd finds the end of the object or array starting at i by matching
// brackets outside strings; for a valid value it is where the decoder
// stops reading.
func valueEnd(b []byte, i int) (int, bool) {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return 0, false
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1, true
			}
		}
	}
	return 0, false
}

type member struct {
	key        []byte // decoded
	start, end int    // the encoded value, in jsonWriter.out
}

type jsonWriter struct {
	p   *Policy
	out []byte
	*scratch
}

const maxFastDepth = 64

// value copies the valid JSON value at src[i:] under key of parent and
// returns the index after it.
func (w *jsonWriter) value(src []byte, i int, parent, key []byte, depth int) (int, bool) {
	i = skipSpace(src, i)
	switch c := src[i]; {
	case c == '{':
		return w.object(src, i, key, depth)
	case c == '[':
		if depth >= maxFastDepth {
			return 0, false
		}
		w.out = append(w.out, '[')
		i = skipSpace(src, i+1)
		if src[i] == ']' {
			w.out = append(w.out, ']')
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = w.value(src, i, parent, key, depth+1); !ok {
				return 0, false
			}
			i = skipSpace(src, i)
			if src[i] == ']' {
				w.out = append(w.out, ']')
				return i + 1, true
			}
			w.out = append(w.out, ',')
			i++ // ','
		}
	case c == '"':
		end := stringEnd(src, i)
		lit := src[i:end]
		r := w.p.ruleBytes(parent, key)
		if r == ruleNone && plain(lit[1:len(lit)-1]) {
			w.out = append(w.out, lit...)
			return end, true
		}
		var s string
		if body := lit[1 : len(lit)-1]; plain(body) {
			s = w.p.applyBytes(r, body) // r is a rule here: plain text without one was copied above
		} else if err := json.Unmarshal(lit, &s); err != nil {
			return 0, false
		} else if r != ruleNone {
			s = w.p.apply(r, s)
		}
		return end, w.appendString(s)
	case c == 't' || c == 'n':
		w.out = append(w.out, src[i:i+4]...)
		return i + 4, true
	case c == 'f':
		w.out = append(w.out, src[i:i+5]...)
		return i + 5, true
	default: // a number
		end := i
		for end < len(src) && numberByte(src[end]) {
			end++
		}
		r := w.p.ruleBytes(parent, key)
		if r == ruleNone {
			w.out = append(w.out, src[i:end]...)
			return end, true
		}
		return end, w.appendString(w.p.apply(r, string(src[i:end])))
	}
}

// object copies an object whose members are under key, members sorted by
// key, a repeated key keeping its last value.
func (w *jsonWriter) object(src []byte, i int, key []byte, depth int) (int, bool) {
	if depth >= maxFastDepth {
		return 0, false
	}
	// This object's members go on top of its ancestors' in w.members;
	// its children's are pushed and popped above them in between.
	mark := len(w.members)
	defer func() { w.members = w.members[:mark] }()
	base := len(w.out)
	i = skipSpace(src, i+1)
	for src[i] != '}' {
		end := stringEnd(src, i)
		k := src[i+1 : end-1]
		if bytes.IndexByte(k, '\\') >= 0 {
			var s string
			if err := json.Unmarshal(src[i:end], &s); err != nil {
				return 0, false
			}
			k = []byte(s)
		} else if !utf8.Valid(k) {
			return 0, false // the decoder would replace bytes; leave it to it
		}
		i = skipSpace(src, end) + 1 // ':'
		start := len(w.out)
		var ok bool
		if i, ok = w.value(src, i, key, k, depth+1); !ok {
			return 0, false
		}
		w.members = append(w.members, member{key: k, start: start, end: len(w.out)})
		i = skipSpace(src, i)
		if src[i] == ',' {
			i = skipSpace(src, i+1)
		}
	}
	ms := w.members[mark:]
	slices.SortStableFunc(ms, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	w.tmp = append(w.tmp[:0], w.out[base:]...)
	w.out = append(w.out[:base], '{')
	first := true
	for n, m := range ms {
		if n+1 < len(ms) && bytes.Equal(ms[n+1].key, m.key) {
			continue // a later value for the same key replaced this one
		}
		if !first {
			w.out = append(w.out, ',')
		}
		first = false
		if plain(m.key) {
			w.out = append(append(append(w.out, '"'), m.key...), '"')
		} else if !w.appendString(string(m.key)) {
			return 0, false
		}
		w.out = append(w.out, ':')
		w.out = append(w.out, w.tmp[m.start-base:m.end-base]...)
	}
	w.out = append(w.out, '}')
	return i + 1, true
}

// stringEnd is the index after the string literal starting at i.
func stringEnd(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

func numberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// plain reports whether json.Marshal writes body, between quotes, as it
// is: no quote or backslash, no control characters, none of the characters it
// escapes for HTML, valid UTF-8 without U+2028/U+2029.
func plain[S ~string | ~[]byte](body S) bool {
	ascii := true
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c < 0x20, c == '\\', c == '"', c == '<', c == '>', c == '&':
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if ascii {
		return true
	}
	b := []byte(body)
	return utf8.Valid(b) && !bytes.Contains(b, []byte("\u2028")) && !bytes.Contains(b, []byte("\u2029"))
}

// appendString writes s as json.Marshal does.
func (w *jsonWriter) appendString(s string) bool {
	if plain(s) {
		w.out = append(append(append(w.out, '"'), s...), '"')
		return true
	}
	b, err := json.Marshal(s)
	if err != nil {
		return false
	}
	w.out = append(w.out, b...)
	return true
}
