package adapters

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeStrict reads a closed-contract JSON request into v. Every failure
// names the field: an unknown key or a value of the wrong type is a 422 on
// that field, a syntax error a 400 with its offset, and a key given twice
// or text that is not UTF-8 (CheckJSON) a 400 naming where.
func DecodeStrict(body []byte, v any) error {
	var je *JSONError
	var syntaxErr *json.SyntaxError
	switch err := CheckJSON(body); {
	case errors.As(err, &je):
		return &Error{Status: http.StatusBadRequest, Field: je.Path, Detail: "request body: " + je.Error()}
	case errors.As(err, &syntaxErr):
		return &Error{Status: http.StatusBadRequest, Detail: "request body is not valid JSON: " + err.Error()}
	}
	// CheckJSON has refused anything after the one value (json.Valid), so
	// the decoder needs no look past it.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return Invalid(typeErr.Field, "must be %s, got JSON %s", typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return &Error{Status: http.StatusBadRequest, Detail: "request body is not valid JSON: " + err.Error()}
	}
	// encoding/json reports an unknown key only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return Invalid(strings.Trim(name, `"`), "is not a field of this request")
	}
	return &Error{Status: http.StatusBadRequest, Detail: "request body: " + err.Error()}
}

// JSON faults CheckJSON reports.
const (
	JSONDuplicateKey   = "duplicate-key"
	JSONInvalidUTF8    = "invalid-utf8"
	JSONInvalidUnicode = "invalid-unicode-escape"
	JSONTooDeep        = "too-deep"
)

// MaxJSONDepth is how deep objects and arrays may nest in a request: far
// more than any contract needs, far less than what makes a decoder's stack
// (or a receiver's) the attacker's.
const MaxJSONDepth = 64

// JSONError is a body that is JSON by its syntax but ambiguous, not text,
// or absurd: a key given twice in one object (parsers disagree on which one
// wins, so a check and a receiver could read different values), a string
// that is not UTF-8 or escapes half a surrogate pair (passed on, it
// becomes the receiver's problem), or nesting deeper than MaxJSONDepth.
type JSONError struct {
	Kind   string // JSONDuplicateKey, JSONInvalidUTF8, JSONInvalidUnicode, JSONTooDeep
	Path   string // where, e.g. "payer.accounts[1].iban"; "" is the top level
	Key    string // the duplicated key
	Offset int    // byte offset of the fault in the body
}

func (e *JSONError) Error() string {
	where := e.Path
	if where == "" {
		where = "the top level"
	}
	switch e.Kind {
	case JSONDuplicateKey:
		return fmt.Sprintf("duplicate key %q at %s (byte %d): a key may appear once in an object", e.Key, where, e.Offset)
	case JSONInvalidUTF8:
		return fmt.Sprintf("a string at %s is not valid UTF-8 (byte %d)", where, e.Offset)
	case JSONTooDeep:
		return fmt.Sprintf("objects and arrays nest deeper than %d at %s (byte %d)", MaxJSONDepth, where, e.Offset)
	}
	return fmt.Sprintf("a string at %s escapes half of a UTF-16 surrogate pair (byte %d)", where, e.Offset)
}

// CheckJSON refuses what encoding/json lets through silently: a key given
// twice in any object, nested ones too (the last would win), strings that
// are not valid UTF-8 or escape a lone surrogate (they would be replaced by
// U+FFFD, or passed on as they are), and nesting deeper than MaxJSONDepth. It returns a *JSONError
// naming the path, a *json.SyntaxError for a body that is not JSON, or nil.
func CheckJSON(body []byte) error {
	if !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		if err == nil {
			err = &json.SyntaxError{Offset: int64(len(body))}
		}
		return err
	}
	var frames [8]jsonFrame // most requests nest less deep: no allocation
	return scanJSON(body, frames[:0])
}

// jsonStack is the path to where a scan stands: every open object and
// array, outermost first. It is passed by value and grown by the scan's
// own variable, never through a pointer, so that the frames stay on
// CheckJSON's stack: stored through a pointer they would move to the heap
// on every request.
type jsonStack []jsonFrame

type jsonFrame struct {
	object  bool
	wantKey bool
	key     []byte // object: the member being read, decoded
	index   int    // array: the element being read
	// The object's keys so far: the first few in place, the rest in a map,
	// so that checking a small object allocates nothing.
	small  [4][]byte
	nsmall int
	keys   map[string]struct{}
}

// scanJSON walks a body that json.Valid accepted.
func scanJSON(body []byte, stack jsonStack) error {
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '{', '[':
			if len(stack) == MaxJSONDepth {
				return &JSONError{Kind: JSONTooDeep, Path: stack.path(), Offset: i}
			}
			stack = append(stack, jsonFrame{object: c == '{', wantKey: c == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if f := stack.top(); f.object {
				f.wantKey = true
			} else {
				f.index++
			}
		case '"':
			end, err := scanString(body, stack, i)
			if err != nil {
				return err
			}
			if f := stack.top(); f != nil && f.object && f.wantKey {
				if err := takeKey(body, stack, i, end); err != nil {
					return err
				}
			}
			i = end
		}
	}
	return nil
}

func (st jsonStack) top() *jsonFrame {
	if len(st) == 0 {
		return nil
	}
	return &st[len(st)-1]
}

// takeKey takes the key in body[start:end+1] (quotes included) for the
// object on top of stack.
func takeKey(body []byte, stack jsonStack, start, end int) error {
	f := stack.top()
	raw := body[start : end+1]
	k := raw[1 : len(raw)-1]
	if bytes.IndexByte(raw, '\\') >= 0 {
		var d string
		_ = json.Unmarshal(raw, &d) // valid: json.Valid and str checked it
		k = []byte(d)
	}
	f.wantKey = false
	f.key = k
	dup := false
	for _, o := range f.small[:f.nsmall] {
		dup = dup || bytes.Equal(o, k)
	}
	if _, ok := f.keys[string(k)]; ok {
		dup = true
	}
	if dup {
		return &JSONError{Kind: JSONDuplicateKey, Path: stack.path(), Key: string(k), Offset: start}
	}
	if f.nsmall < len(f.small) {
		f.small[f.nsmall] = k
		f.nsmall++
		return nil
	}
	if f.keys == nil {
		f.keys = map[string]struct{}{}
	}
	f.keys[string(k)] = struct{}{}
	return nil
}

// scanString checks the string opening at b[start] and returns where it
// closes.
func scanString(b []byte, stack jsonStack, start int) (int, error) {
	for i := start + 1; i < len(b); {
		switch c := b[i]; {
		case c == '"':
			return i, nil
		case c == '\\':
			if b[i+1] != 'u' {
				i += 2
				continue
			}
			r := hex4(b[i+2 : i+6])
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00 && i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' &&
				utf16.DecodeRune(r, hex4(b[i+8:i+12])) != utf8.RuneError:
				i += 12
			case utf16.IsSurrogate(r):
				return 0, stack.fault(JSONInvalidUnicode, i)
			default:
				i += 6
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return 0, stack.fault(JSONInvalidUTF8, i)
			}
			i += size
		}
	}
	return len(b), nil
}

// fault is a string fault at offset: in a key it is placed at the
// object holding the key, in a value at the value.
func (st jsonStack) fault(kind string, offset int) error {
	path := st.path()
	if f := st.top(); f != nil && f.object && f.wantKey {
		path = st.pathTo(len(st) - 1)
	}
	return &JSONError{Kind: kind, Path: path, Offset: offset}
}

func hex4(b []byte) rune {
	n, _ := strconv.ParseUint(string(b), 16, 32)
	return rune(n)
}

// path is where the scan stands: every open member and element.
func (st jsonStack) path() string { return st.pathTo(len(st)) }

// pathTo is the path through the first n open containers.
func (st jsonStack) pathTo(n int) string {
	var p strings.Builder
	for _, f := range st[:n] {
		if f.object {
			if p.Len() > 0 {
				p.WriteByte('.')
			}
			p.Write(f.key)
		} else {
			fmt.Fprintf(&p, "[%d]", f.index)
		}
	}
	return p.String()
}
