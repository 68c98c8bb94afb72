package xsdjson

import (
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"
)

// JSONSchemaDialect is the JSON Schema version written.
const JSONSchemaDialect = "https://json-schema.org/draft/2020-12/schema"

type schemaWriter struct {
	set  *Set
	defs map[string]any
	name map[*Type]string
	err  error
}

// JSONSchema describes the element's JSON form. Named complex types are
// $defs (so recursive types stay finite); facets without a JSON Schema
// keyword (totalDigits) are given as x-totalDigits, and every type's XSD
// name as x-xsdType, for a reader who has the schema.
func (el *Element) JSONSchema() (json.RawMessage, error) {
	w := &schemaWriter{set: el.set, defs: map[string]any{}, name: map[*Type]string{}}
	root := w.elemSchema(&el.Elem)
	if w.err != nil {
		return nil, w.err
	}
	m := map[string]any{"$schema": JSONSchemaDialect, "title": el.Name.Local}
	for k, v := range root.(map[string]any) {
		m[k] = v
	}
	if len(w.defs) > 0 {
		m["$defs"] = w.defs
	}
	return json.Marshal(m)
}

func (w *schemaWriter) elemSchema(el *Elem) any {
	s := w.typeSchema(el.Type, true)
	if el.Nillable {
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	}
	return s
}

// typeSchema is the schema of a value of t; withDerived offers the types
// derived from t by "@type".
func (w *schemaWriter) typeSchema(t *Type, withDerived bool) any {
	if t.Simple != nil {
		return simpleSchema(t.Simple, t.Name)
	}
	var s any
	if t.Name.Local == "" {
		s = w.objectSchema(t, false)
	} else {
		s = map[string]any{"$ref": "#/$defs/" + w.def(t)}
	}
	if !withDerived || t.Name.Local == "" {
		return s
	}
	derived, err := w.set.derived(t)
	if err != nil {
		w.err = err
		return s
	}
	if len(derived) == 0 {
		return s
	}
	alts := []any{}
	if !t.Abstract {
		alts = append(alts, s)
	}
	for _, d := range derived {
		alts = append(alts, map[string]any{"allOf": []any{map[string]any{"$ref": "#/$defs/" + w.def(d)}}, "required": []string{TypeKey}})
	}
	return map[string]any{"oneOf": alts}
}

// def registers t under $defs and returns its key.
func (w *schemaWriter) def(t *Type) string {
	if n, ok := w.name[t]; ok {
		return n
	}
	n := t.Name.Local
	for i := 2; ; i++ {
		if _, taken := w.defs[n]; !taken {
			break
		}
		n = fmt.Sprintf("%s%d", t.Name.Local, i)
	}
	w.name[t] = n
	w.defs[n] = nil // reserved while its own fields refer back to it
	w.defs[n] = w.objectSchema(t, true)
	return n
}

func (w *schemaWriter) objectSchema(t *Type, named bool) map[string]any {
	if err := t.prepare(); err != nil {
		w.err = err
		return map[string]any{}
	}
	props := map[string]any{}
	var required []string
	if named {
		props[TypeKey] = map[string]any{"const": t.Name.Local}
	}
	for _, a := range t.Attrs {
		s := simpleSchema(a.Type, QName{})
		if a.Fixed != "" {
			s["const"] = constOf(a.Type, a.Fixed)
		}
		props[a.Name.Local] = s
		if a.Required {
			required = append(required, a.Name.Local)
		}
	}
	if t.Text != nil {
		props[ValueKey] = simpleSchema(t.Text, QName{})
		required = append(required, ValueKey)
	}
	for _, f := range t.fields {
		s := w.elemSchema(f.elem)
		if f.max != 1 {
			arr := map[string]any{"type": "array", "items": s}
			if f.min > 0 {
				arr["minItems"] = f.min
			}
			if f.max != Unbounded {
				arr["maxItems"] = f.max
			}
			s = arr
		}
		props[f.elem.Name.Local] = s
		if f.min > 0 {
			required = append(required, f.elem.Name.Local)
		}
	}
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if t.Name.Local != "" {
		out["x-xsdType"] = t.Name.String()
	}
	if len(required) > 0 {
		sort.Strings(required)
		out["required"] = required
	}
	var all []any
	for _, c := range t.choices {
		if c.required {
			one := []any{}
			for _, m := range c.members {
				one = append(one, map[string]any{"required": []string{m}})
			}
			all = append(all, map[string]any{"oneOf": one})
			continue
		}
		pairs := []any{}
		for i := range c.members {
			for j := i + 1; j < len(c.members); j++ {
				pairs = append(pairs, map[string]any{"required": []string{c.members[i], c.members[j]}})
			}
		}
		all = append(all, map[string]any{"not": map[string]any{"anyOf": pairs}})
	}
	if len(all) > 0 {
		out["allOf"] = all
	}
	return out
}

func constOf(s *Simple, text string) any {
	v, err := s.jsonValue(text)
	if err != nil {
		return text
	}
	return v
}

func simpleSchema(s *Simple, name QName) map[string]any {
	if s.List != nil {
		out := map[string]any{"type": "array", "items": simpleSchema(s.List, QName{})}
		if s.Length != nil {
			out["minItems"], out["maxItems"] = *s.Length, *s.Length
		}
		if s.MinLength != nil {
			out["minItems"] = *s.MinLength
		}
		if s.MaxLength != nil {
			out["maxItems"] = *s.MaxLength
		}
		return out
	}
	out := map[string]any{}
	switch s.Kind {
	case KindString:
		out["type"] = "string"
		switch s.Builtin {
		case "date":
			out["format"] = "date"
		case "dateTime":
			out["format"] = "date-time"
		case "time":
			out["format"] = "time"
		case "anyURI":
			out["format"] = "uri"
		}
		if s.Length != nil {
			out["minLength"], out["maxLength"] = *s.Length, *s.Length
		}
		if s.MinLength != nil {
			out["minLength"] = *s.MinLength
		}
		if s.MaxLength != nil {
			out["maxLength"] = *s.MaxLength
		}
	case KindBoolean:
		out["type"] = "boolean"
	case KindInteger:
		out["type"] = "integer"
	case KindNumber:
		out["type"] = "number"
	}
	if s.Kind == KindInteger || s.Kind == KindNumber {
		num := func(src string) json.Number { return json.Number(strings.TrimPrefix(src, "+")) }
		if s.MinInc != nil {
			out["minimum"] = num(s.minIncSrc)
		}
		if s.MaxInc != nil {
			out["maximum"] = num(s.maxIncSrc)
		}
		if s.MinExc != nil {
			out["exclusiveMinimum"] = num(s.minExcSrc)
		}
		if s.MaxExc != nil {
			out["exclusiveMaximum"] = num(s.maxExcSrc)
		}
		if s.FractionDigits != nil && *s.FractionDigits > 0 {
			step := new(big.Rat).SetFrac64(1, 1)
			for range *s.FractionDigits {
				step.Quo(step, big.NewRat(10, 1))
			}
			out["multipleOf"] = json.Number(step.FloatString(*s.FractionDigits))
		}
		if s.TotalDigits != nil {
			out["x-totalDigits"] = *s.TotalDigits
		}
	}
	switch len(s.patternSrc) {
	case 0:
	case 1:
		out["pattern"] = "^(?:" + s.patternSrc[0] + ")$"
	default:
		var all []any
		for _, p := range s.patternSrc {
			all = append(all, map[string]any{"pattern": "^(?:" + p + ")$"})
		}
		out["allOf"] = all
	}
	if len(s.Enum) > 0 {
		var enum []any
		for _, e := range s.Enum {
			enum = append(enum, constOf(s, e))
		}
		out["enum"] = enum
	}
	if name.Space == NSXSD {
		out["x-xsdType"] = "xs:" + name.Local
	} else if name.Local != "" {
		out["x-xsdType"] = name.String()
	} else if s.Builtin != "" {
		out["x-xsdType"] = "xs:" + s.Builtin
	}
	return out
}
