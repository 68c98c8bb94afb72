// Package pii keeps personal data out of the message store: fields a route
// names are masked (asterisks, last two characters kept so an operator can
// still tell records apart) or replaced by a keyed hash (so equal values can
// still be searched for without being readable).
package pii

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Policy says which fields to mask and which to hash. A rule is a field
// name ("iin": that key or element anywhere) or parent/name ("person/name":
// only under person), because agencies reuse names like "name" for both a
// person and a dictionary entry. The zero Policy changes nothing.
type Policy struct {
	mask, hash map[string]bool
	key        []byte
	words      [][]byte // the field names, for a cheap pre-check
	qualified  bool     // some rule is parent/name
}

// NewPolicy builds a policy; key is the HMAC key for hashed fields (when
// empty, plain SHA-256 is used).
func NewPolicy(mask, hash []string, key string) *Policy {
	p := &Policy{mask: set(mask), hash: set(hash), key: []byte(key)}
	for _, r := range append(append([]string{}, mask...), hash...) {
		p.words = append(p.words, []byte(r[strings.LastIndexByte(r, '/')+1:]))
		p.qualified = p.qualified || strings.IndexByte(r, '/') >= 0
	}
	return p
}

func set(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

// Empty reports whether the policy touches nothing.
func (p *Policy) Empty() bool { return p == nil || (len(p.mask) == 0 && len(p.hash) == 0) }

// Value masks or hashes one value of field name under parent; other
// fields pass.
func (p *Policy) Value(parent, name, v string) string {
	return p.apply(p.rule(parent, name), v)
}

// apply is what rule r does to v.
func (p *Policy) apply(r rule, v string) string {
	switch r {
	case ruleMask:
		return Mask(v)
	case ruleHash:
		return p.Hash(v)
	}
	return v
}

// applyBytes is apply for text still in a document's bytes.
func (p *Policy) applyBytes(r rule, v []byte) string {
	if r == ruleMask {
		return mask(v)
	}
	return p.apply(r, string(v))
}

type rule int

const (
	ruleNone rule = iota
	ruleMask
	ruleHash
)

// rule is what the policy does to field name under parent: a rule naming
// the field alone, or parent/name. It is asked once per field of every
// stored body, so it builds parent/name only when some rule has a parent,
// and in a stack buffer (a map lookup by string(bytes) copies nothing).
func (p *Policy) rule(parent, name string) rule {
	if p.Empty() {
		return ruleNone
	}
	var buf [128]byte
	var q []byte
	if p.qualified {
		q = append(append(append(buf[:0], parent...), '/'), name...)
	}
	switch {
	case p.mask[name], p.qualified && p.mask[string(q)]:
		return ruleMask
	case p.hash[name], p.qualified && p.hash[string(q)]:
		return ruleHash
	}
	return ruleNone
}

// ruleBytes is rule for names still in the document's bytes.
func (p *Policy) ruleBytes(parent, name []byte) rule {
	if p.Empty() {
		return ruleNone
	}
	var buf [128]byte
	var q []byte
	if p.qualified {
		q = append(append(append(buf[:0], parent...), '/'), name...)
	}
	switch {
	case p.mask[string(name)], p.qualified && p.mask[string(q)]:
		return ruleMask
	case p.hash[string(name)], p.qualified && p.hash[string(q)]:
		return ruleHash
	}
	return ruleNone
}

// Mask keeps the last two characters of v.
func Mask(v string) string { return mask(v) }

// mask is Mask for text still in a document's bytes, too.
func mask[S ~string | ~[]byte](v S) string {
	if utf8.Valid([]byte(v)) {
		// The same as below, in one allocation: it runs for every masked
		// field of every stored body.
		n := utf8.RuneCount([]byte(v))
		if n <= 2 {
			return strings.Repeat("*", n)
		}
		tail := len(v)
		for range 2 {
			_, size := utf8.DecodeLastRune([]byte(v[:tail]))
			tail -= size
		}
		var b strings.Builder
		b.Grow(n - 2 + len(v) - tail)
		for range n - 2 {
			b.WriteByte('*')
		}
		b.Write([]byte(v[tail:]))
		return b.String()
	}
	r := []rune(string(v))
	if len(r) <= 2 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-2) + string(r[len(r)-2:])
}

// Hash is the keyed hash stored in place of v.
func (p *Policy) Hash(v string) string {
	var sum []byte
	if len(p.key) > 0 {
		m := hmac.New(sha256.New, p.key)
		m.Write([]byte(v))
		sum = m.Sum(nil)
	} else {
		s := sha256.Sum256([]byte(v))
		sum = s[:]
	}
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// JSON returns a copy of doc with the policy's fields replaced at any depth.
// A document that is not JSON is returned as is: the store must still get it.
// The copy is what encoding/json makes of the document decoded into a map
// (keys sorted, compact, strings escaped as json.Marshal does); an object
// or array is rewritten in one pass that gives the same bytes (jsonFast),
// anything else goes through encoding/json itself.
func (p *Policy) JSON(doc []byte) []byte {
	if p.Empty() || len(doc) == 0 || !p.mentions(doc) {
		return doc
	}
	if out, ok := p.jsonFast(doc); ok {
		return out
	}
	return p.jsonDecoded(doc)
}

// jsonDecoded is JSON through encoding/json: decoded, walked, marshalled.
func (p *Policy) jsonDecoded(doc []byte) []byte {
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return doc
	}
	out, err := json.Marshal(p.walk("", "", v))
	if err != nil {
		return doc
	}
	return out
}

// mentions is a cheap pre-check so documents without any listed field are
// not parsed at all.
func (p *Policy) mentions(doc []byte) bool {
	for _, w := range p.words {
		if bytes.Contains(doc, w) {
			return true
		}
	}
	return false
}

// walk replaces values in place; parent is the key holding v's container.
func (p *Policy) walk(parent, key string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = p.walk(key, k, e)
		}
	case []any:
		for i, e := range t {
			t[i] = p.walk(parent, key, e)
		}
	case string:
		return p.Value(parent, key, t)
	case json.Number:
		if p.rule(parent, key) != ruleNone {
			return p.Value(parent, key, t.String())
		}
	}
	return v
}

// XML returns a copy of doc with the text of elements named by the policy
// (by local name, any prefix) replaced. It scans tags rather than parsing,
// so it keeps the document byte for byte apart from the replaced text and
// never fails: a stored body must be kept even when it is not well formed.
// A document in which nothing is replaced is returned as it is.
func (p *Policy) XML(doc []byte) []byte {
	if p.Empty() || len(doc) == 0 {
		return doc
	}
	var out []byte // nil until the first replacement: doc[:done] is then copied
	done := 0
	var names [16][]byte
	stack := names[:0] // element names, slices of doc
	for i := 0; i < len(doc); {
		lt := bytes.IndexByte(doc[i:], '<')
		if lt < 0 {
			break
		}
		text := doc[i : i+lt]
		if len(stack) > 0 && len(text) > 0 && (i+lt+1 < len(doc) && doc[i+lt+1] == '/') {
			var parent []byte
			if len(stack) > 1 {
				parent = stack[len(stack)-2]
			}
			if r := p.ruleBytes(parent, stack[len(stack)-1]); r != ruleNone {
				if out == nil {
					out = make([]byte, 0, len(doc))
				}
				out = append(out, doc[done:i]...)
				out = append(out, p.applyBytes(r, text)...)
				done = i + lt
			}
		}
		i += lt
		gt := bytes.IndexByte(doc[i:], '>')
		if gt < 0 {
			break
		}
		tag := doc[i : i+gt+1]
		i += gt + 1
		switch {
		case len(tag) < 3 || tag[1] == '?' || tag[1] == '!':
		case tag[1] == '/':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case tag[len(tag)-2] == '/':
		default:
			stack = append(stack, localName(tag[1:len(tag)-1]))
		}
	}
	if out == nil {
		return doc
	}
	return append(out, doc[done:]...)
}

func localName(tag []byte) []byte {
	for i, c := range tag {
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			tag = tag[:i]
			break
		}
	}
	if c := bytes.LastIndexByte(tag, ':'); c >= 0 {
		tag = tag[c+1:]
	}
	return tag
}

// Body masks a body whichever it is, JSON or XML.
func (p *Policy) Body(doc []byte) []byte {
	t := bytes.TrimSpace(doc)
	if len(t) > 0 && t[0] == '<' {
		return p.XML(doc)
	}
	return p.JSON(doc)
}

// Digest stands in for a body no personal-data policy can be trusted to
// cover (a call refused before its route is known, a message that failed
// its checks): only its size and SHA-256 are kept, plus any context given.
func Digest(body []byte, context map[string]any) json.RawMessage {
	if len(body) == 0 {
		return nil
	}
	sum := sha256.Sum256(body)
	d := map[string]any{"bytes": len(body), "sha256": hex.EncodeToString(sum[:])}
	for k, v := range context {
		d[k] = v
	}
	out, _ := json.Marshal(d)
	return out
}
