package xsdjson

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
)

// Violation is one way a JSON document breaks the schema's rules, at a
// JSON path (persons[1].iin; "" for the document itself).
type Violation struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// Error lists the violations of one document.
type Error struct {
	Violations []Violation
}

func (e *Error) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		if v.Path == "" {
			parts[i] = v.Message
		} else {
			parts[i] = v.Path + ": " + v.Message
		}
	}
	return strings.Join(parts, "; ")
}

// TypeKey is the JSON key of an xsi:type; ValueKey holds simple content.
const (
	TypeKey  = "@type"
	ValueKey = "value"
)

// MaxViolations bounds how many problems one document reports.
const MaxViolations = 20

type encoder struct {
	set  *Set
	buf  bytes.Buffer
	errs []Violation
}

func (e *encoder) fail(path, format string, args ...any) {
	if len(e.errs) < MaxViolations {
		e.errs = append(e.errs, Violation{Path: path, Message: fmt.Sprintf(format, args...)})
	}
}

func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &Error{Violations: []Violation{{Message: "not valid JSON: " + err.Error()}}}
	}
	if dec.More() {
		return nil, &Error{Violations: []Violation{{Message: "more than one JSON value"}}}
	}
	return v, nil
}

// ToXML checks a JSON document against the element's rules and writes it
// as the element, in schema order, with its namespaces declared on it. A
// failed check is an *Error naming every JSON path at fault.
func (el *Element) ToXML(body []byte) ([]byte, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	e := &encoder{set: el.set}
	e.element(&el.Elem, v, "", "", true)
	if len(e.errs) > 0 {
		return nil, &Error{Violations: e.errs}
	}
	return e.buf.Bytes(), nil
}

// ContentXML is ToXML without the element itself: its children, written
// for a parent in no namespace, as SHEP carries a registry's type inside
// <data xsi:type="…">. Attributes of the element have nowhere to go and
// are refused.
func (el *Element) ContentXML(body []byte) ([]byte, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	e := &encoder{set: el.set}
	t := el.Type
	if t.Simple != nil {
		text, msg := t.Simple.lexical(v)
		if msg != "" {
			return nil, &Error{Violations: []Violation{{Message: msg}}}
		}
		xml.EscapeText(&e.buf, []byte(text))
		return e.buf.Bytes(), nil
	}
	if len(t.Attrs) > 0 {
		return nil, fmt.Errorf("xsdjson: %s has attributes; its content cannot stand alone", el.Name)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, &Error{Violations: []Violation{{Message: "must be an object"}}}
	}
	e.content(t, obj, "", "")
	if len(e.errs) > 0 {
		return nil, &Error{Violations: e.errs}
	}
	return e.buf.Bytes(), nil
}

// Check validates a JSON document against the element's rules without
// keeping the XML.
func (el *Element) Check(body []byte) error {
	_, err := el.ToXML(body)
	return err
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// element writes one element holding v. defaultNS is the default namespace
// in scope where it is written.
func (e *encoder) element(el *Elem, v any, path, defaultNS string, root bool) {
	b := &e.buf
	b.WriteByte('<')
	b.WriteString(el.Name.Local)
	if el.Name.Space != defaultNS || root && el.Name.Space != "" {
		b.WriteString(` xmlns="`)
		xml.EscapeText(b, []byte(el.Name.Space))
		b.WriteByte('"')
	}
	if v == nil {
		if !el.Nillable {
			e.fail(path, "must not be null")
		}
		b.WriteString(` xmlns:xsi="` + NSXSI + `" xsi:nil="true"/>`)
		return
	}
	t := el.Type
	if t.Simple != nil {
		text, msg := t.Simple.lexical(v)
		if msg != "" {
			e.fail(path, "%s", msg)
		}
		b.WriteByte('>')
		xml.EscapeText(b, []byte(text))
		e.end(el)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		e.fail(path, "must be an object")
		b.WriteString("/>")
		return
	}
	if name, given := obj[TypeKey]; given {
		derived, err := e.set.derived(t)
		if err != nil {
			e.fail(path, "%s", err)
			return
		}
		s, _ := name.(string)
		actual := e.set.typeByLocal(s, append([]*Type{t}, derived...))
		if actual == nil {
			var names []string
			for _, d := range append([]*Type{t}, derived...) {
				names = append(names, d.Name.Local)
			}
			e.fail(join(path, TypeKey), "must be one of %s", strings.Join(names, ", "))
			b.WriteString("/>")
			return
		}
		if actual != t {
			fmt.Fprintf(b, ` xmlns:xsi="%s" xmlns:xt="`, NSXSI)
			xml.EscapeText(b, []byte(actual.Name.Space))
			b.WriteString(`" xsi:type="xt:`)
			b.WriteString(actual.Name.Local)
			b.WriteByte('"')
		}
		t = actual
	}
	if t.Abstract {
		e.fail(path, "type %s is abstract: say which type with %q", t.Name.Local, TypeKey)
	}
	for i, a := range t.Attrs {
		av, given := obj[a.Name.Local]
		switch {
		case !given && a.Required:
			e.fail(join(path, a.Name.Local), "is required")
			continue
		case !given:
			continue
		}
		text, msg := a.Type.lexical(av)
		if msg == "" && a.Fixed != "" && text != a.Fixed {
			msg = "must be " + a.Fixed
		}
		if msg != "" {
			e.fail(join(path, a.Name.Local), "%s", msg)
			continue
		}
		b.WriteByte(' ')
		if a.Name.Space != "" {
			fmt.Fprintf(b, `xmlns:a%d="`, i)
			xml.EscapeText(b, []byte(a.Name.Space))
			fmt.Fprintf(b, `" a%d:`, i)
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		xml.EscapeText(b, []byte(text))
		b.WriteByte('"')
	}
	b.WriteByte('>')
	if t.Text != nil {
		tv, given := obj[ValueKey]
		if !given {
			e.fail(join(path, ValueKey), "is required")
		} else {
			text, msg := t.Text.lexical(tv)
			if msg != "" {
				e.fail(join(path, ValueKey), "%s", msg)
			}
			xml.EscapeText(b, []byte(text))
		}
	}
	e.content(t, obj, path, el.Name.Space)
	e.end(el)
}

func (e *encoder) end(el *Elem) {
	e.buf.WriteString("</")
	e.buf.WriteString(el.Name.Local)
	e.buf.WriteByte('>')
}

// content checks obj's keys against t and writes its child elements.
func (e *encoder) content(t *Type, obj map[string]any, path, defaultNS string) {
	if err := t.prepare(); err != nil {
		e.fail(path, "%s", err)
		return
	}
	known := func(k string) bool {
		if k == TypeKey || t.byName[k] != nil || k == ValueKey && t.Text != nil {
			return true
		}
		for _, a := range t.Attrs {
			if a.Name.Local == k {
				return true
			}
		}
		return false
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known(k) {
			e.fail(join(path, k), "is not a field of %s", typeLabel(t))
		}
	}
	values := map[string][]any{}
	for _, f := range t.fields {
		name := f.elem.Name.Local
		p := join(path, name)
		v, given := obj[name]
		if !given {
			if f.min > 0 {
				e.fail(p, "is required")
			}
			continue
		}
		if f.max == 1 {
			values[name] = []any{v}
			continue
		}
		arr, ok := v.([]any)
		if !ok {
			e.fail(p, "must be an array")
			continue
		}
		switch {
		case len(arr) < f.min:
			e.fail(p, "must have at least %d items", f.min)
		case f.max != Unbounded && len(arr) > f.max:
			e.fail(p, "must have at most %d items", f.max)
		}
		values[name] = arr
	}
	for _, c := range t.choices {
		var given []string
		for _, m := range c.members {
			if _, ok := obj[m]; ok {
				given = append(given, m)
			}
		}
		switch {
		case len(given) > 1:
			e.fail(join(path, given[1]), "only one of %s may be given", strings.Join(c.members, ", "))
		case len(given) == 0 && c.required:
			e.fail(path, "one of %s is required", strings.Join(c.members, ", "))
		}
	}
	w := &writer{e: e, t: t, values: values, used: map[string]int{}, path: path, ns: defaultNS}
	w.particle(t.Content)
}

func typeLabel(t *Type) string {
	if t.Name.Local != "" {
		return t.Name.Local
	}
	return "this object"
}

// writer emits the child elements of one object in content-model order,
// taking repeated elements of a repeating group in turn.
type writer struct {
	e      *encoder
	t      *Type
	values map[string][]any
	used   map[string]int
	path   string
	ns     string
}

func (w *writer) remaining(p *Particle) bool {
	if p == nil {
		return false
	}
	if p.Kind == "element" {
		n := p.Elem.Name.Local
		return w.used[n] < len(w.values[n])
	}
	for _, it := range p.Items {
		if w.remaining(it) {
			return true
		}
	}
	return false
}

func (w *writer) particle(p *Particle) {
	if p == nil {
		return
	}
	switch p.Kind {
	case "element":
		n := p.Elem.Name.Local
		f := w.t.byName[n]
		vals := w.values[n]
		for w.used[n] < len(vals) {
			i := w.used[n]
			w.used[n]++
			path := join(w.path, n)
			if f.max != 1 {
				path = fmt.Sprintf("%s[%d]", path, i)
			}
			w.e.element(p.Elem, vals[i], path, w.ns, false)
			if p.Max == 1 {
				break
			}
		}
	case "choice":
		for {
			took := false
			for _, it := range p.Items {
				if w.remaining(it) {
					w.particle(it)
					took = true
					break
				}
			}
			if !took || p.Max == 1 || !w.remaining(p) {
				return
			}
		}
	default:
		for {
			for _, it := range p.Items {
				w.particle(it)
			}
			if p.Max == 1 || !w.remaining(p) {
				return
			}
		}
	}
}
