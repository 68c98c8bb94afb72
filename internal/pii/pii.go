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
	"regexp"
	"strings"
)

// Policy says which fields to mask and which to hash. The zero Policy
// changes nothing.
type Policy struct {
	mask, hash map[string]bool
	key        []byte
	xmlField   *regexp.Regexp
}

// NewPolicy builds a policy; key is the HMAC key for hashed fields (when
// empty, plain SHA-256 is used).
func NewPolicy(mask, hash []string, key string) *Policy {
	p := &Policy{mask: set(mask), hash: set(hash), key: []byte(key)}
	names := append(append([]string{}, mask...), hash...)
	if len(names) > 0 {
		quoted := make([]string, len(names))
		for i, n := range names {
			quoted[i] = regexp.QuoteMeta(n)
		}
		// <prefix:name attrs>text</  — element text only; nested elements are left alone.
		p.xmlField = regexp.MustCompile(`<((?:[A-Za-z_][\w.-]*:)?(` + strings.Join(quoted, "|") + `))(\s[^>]*)?>([^<]*)<`)
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

// Value masks or hashes one value of field name; other fields pass.
func (p *Policy) Value(name, v string) string {
	switch {
	case p.mask[name]:
		return Mask(v)
	case p.hash[name]:
		return p.Hash(v)
	}
	return v
}

// Mask keeps the last two characters of v.
func Mask(v string) string {
	r := []rune(v)
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
func (p *Policy) JSON(doc []byte) []byte {
	if p.Empty() || len(doc) == 0 || !p.mentions(doc) {
		return doc
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return doc
	}
	out, err := json.Marshal(p.walk("", v))
	if err != nil {
		return doc
	}
	return out
}

// mentions is a cheap pre-check so documents without any listed field are
// not decoded at all.
func (p *Policy) mentions(doc []byte) bool {
	for n := range p.mask {
		if bytes.Contains(doc, []byte(n)) {
			return true
		}
	}
	for n := range p.hash {
		if bytes.Contains(doc, []byte(n)) {
			return true
		}
	}
	return false
}

func (p *Policy) walk(key string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = p.walk(k, e)
		}
	case []any:
		for i, e := range t {
			t[i] = p.walk(key, e)
		}
	case string:
		return p.Value(key, t)
	case json.Number:
		if p.mask[key] || p.hash[key] {
			return p.Value(key, t.String())
		}
	}
	return v
}

// XML returns a copy of doc with the text of elements named by the policy
// (local name, any prefix) replaced.
func (p *Policy) XML(doc []byte) []byte {
	if p.Empty() || p.xmlField == nil || len(doc) == 0 || !p.mentions(doc) {
		return doc
	}
	return p.xmlField.ReplaceAllFunc(doc, func(m []byte) []byte {
		sub := p.xmlField.FindSubmatch(m)
		name, attrs, text := string(sub[2]), sub[3], string(sub[4])
		var b bytes.Buffer
		b.WriteByte('<')
		b.Write(sub[1])
		b.Write(attrs)
		b.WriteByte('>')
		b.WriteString(p.Value(name, text))
		b.WriteByte('<')
		return b.Bytes()
	})
}

// Body masks a body whichever it is, JSON or XML.
func (p *Policy) Body(doc []byte) []byte {
	t := bytes.TrimSpace(doc)
	if len(t) > 0 && t[0] == '<' {
		return p.XML(doc)
	}
	return p.JSON(doc)
}
