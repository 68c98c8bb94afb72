package safexml

import (
	"bytes"
	"encoding"
	"encoding/xml"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// EncodeElement writes v as the element start, byte for byte what
// enc.EncodeElement(v, start) followed by enc.Flush() would write, for the
// generated contract types the bus encodes on every call, without
// encoding/xml's reflection over every field of every value.
//
// enc must write to buf and hold nothing unflushed; it is flushed again on
// return. A type the plan below does not cover (attributes, chardata,
// namespaced or nested field names, embedded structs, XMLName fields,
// fields without a name in their tag), and any value with its own
// MarshalXML or MarshalText, is handed to enc, so what is written never
// depends on which path wrote it: TestEncodeMatchesEncodingXML and
// FuzzEncodeMatchesEncodingXML hold the two to the same bytes.
func EncodeElement(buf *bytes.Buffer, enc *xml.Encoder, v any, start xml.StartElement) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if !rv.IsValid() || rv.Kind() == reflect.Pointer {
		return encodeWith(enc, v, start) // nothing, or encoding/xml's error
	}
	t := encPlanOf(rv.Type())
	if start.Name.Space != "" || start.Name.Local == "" || t.kind != encStruct || !plainAttrs(start.Attr) {
		return encodeWith(enc, v, start)
	}
	buf.WriteByte('<')
	buf.WriteString(start.Name.Local)
	for _, a := range start.Attr {
		buf.WriteByte(' ')
		buf.WriteString(a.Name.Local)
		buf.WriteString(`="`)
		escapeString(buf, a.Value)
		buf.WriteByte('"')
	}
	buf.WriteByte('>')
	if err := encodeStruct(buf, enc, rv, t); err != nil {
		return err
	}
	buf.WriteString("</")
	buf.WriteString(start.Name.Local)
	buf.WriteByte('>')
	return nil
}

// plainAttrs: attributes encoding/xml writes as given, with no namespace
// of their own to declare.
func plainAttrs(attrs []xml.Attr) bool {
	for _, a := range attrs {
		if a.Name.Space != "" || a.Name.Local == "" {
			return false
		}
	}
	return true
}

func encodeWith(enc *xml.Encoder, v any, start xml.StartElement) error {
	if err := enc.EncodeElement(v, start); err != nil {
		return err
	}
	return enc.Flush()
}

type encKind uint8

const (
	// encNone is a type the plan does not cover: a struct holding one is
	// written by encoding/xml whole, since an XMLName or an interface's
	// dynamic type could name its element otherwise than its field.
	encNone encKind = iota
	// encOwn is a value that writes itself (MarshalXML, MarshalText) or
	// bytes: handed to encoding/xml under its field's name, which is the
	// name encoding/xml would give it.
	encOwn
	encString // any string kind
	encBool
	encInt
	encUint
	encFloat
	encStruct
	encSlice // a slice (not of bytes) of another plan's values, one element each
)

// encPlan is how values of one type (pointers already followed) are
// written.
type encPlan struct {
	kind   encKind
	fields []encField // encStruct
	elem   *encPlan   // encSlice
}

type encField struct {
	index     int
	name      string
	open      string // "<name>"
	close     string // "</name>"
	omitEmpty bool
	plan      *encPlan
}

var encPlans sync.Map // reflect.Type → *encPlan

var (
	xmlMarshalerType  = reflect.TypeFor[xml.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// encPlanOf returns the plan of t, with pointers followed. Plans are
// built once per type; a recursive type's plan refers to itself.
func encPlanOf(t reflect.Type) *encPlan {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p, ok := encPlans.Load(t); ok {
		return p.(*encPlan)
	}
	building := map[reflect.Type]*encPlan{}
	buildEncPlan(t, building)
	settle(building)
	for bt, bp := range building {
		encPlans.LoadOrStore(bt, bp)
	}
	p, _ := encPlans.Load(t) // this call's, or another's built at the same time
	return p.(*encPlan)
}

func buildEncPlan(t reflect.Type, building map[reflect.Type]*encPlan) *encPlan {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p, ok := encPlans.Load(t); ok {
		return p.(*encPlan)
	}
	if p, ok := building[t]; ok {
		return p
	}
	p := &encPlan{}
	building[t] = p
	pt := reflect.PointerTo(t)
	if t.Kind() != reflect.Interface && (t.Implements(xmlMarshalerType) || pt.Implements(xmlMarshalerType) ||
		t.Implements(textMarshalerType) || pt.Implements(textMarshalerType)) {
		p.kind = encOwn
		return p
	}
	switch t.Kind() {
	case reflect.String:
		p.kind = encString
	case reflect.Bool:
		p.kind = encBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind = encInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind = encUint
	case reflect.Float32, reflect.Float64:
		p.kind = encFloat
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = encOwn
		} else if t.Kind() == reflect.Slice {
			p.kind, p.elem = encSlice, buildEncPlan(t.Elem(), building)
		}
	case reflect.Struct:
		p.kind = encStruct // what a recursive field sees until settle
		if fields, ok := encFields(t, building); ok {
			p.fields = fields
		} else {
			p.kind = encNone
		}
	}
	return p
}

// settle makes every plan that holds an uncovered one uncovered itself,
// which a recursive type can only tell once all its plans are built.
func settle(building map[reflect.Type]*encPlan) {
	for changed := true; changed; {
		changed = false
		for _, p := range building {
			if p.kind == encStruct && slices.ContainsFunc(p.fields, func(f encField) bool { return f.plan.kind == encNone }) ||
				p.kind == encSlice && p.elem.kind == encNone {
				p.kind, changed = encNone, true
			}
		}
	}
}

// encFields plans a struct's fields, or says the struct is not one the
// plan covers.
func encFields(t reflect.Type, building map[reflect.Type]*encPlan) ([]encField, bool) {
	var fields []encField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous || f.Name == "XMLName" {
			return nil, false
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("xml")
		if tag == "-" {
			continue
		}
		xt, ok := readXMLTag(tag)
		// An empty name takes the field type's XMLName; a namespace, ">"
		// (a path of parents) and ",any" are all encoding/xml's to write.
		if !ok || xt.any || xt.ns != "" || xt.name == "" || strings.Contains(xt.name, ">") {
			return nil, false
		}
		name := xt.name
		// Two fields of one name are encoding/xml's error to return.
		if slices.ContainsFunc(fields, func(g encField) bool { return g.name == name }) {
			return nil, false
		}
		fields = append(fields, encField{index: i, name: name, open: "<" + name + ">", close: "</" + name + ">",
			omitEmpty: xt.omitEmpty, plan: buildEncPlan(f.Type, building)})
	}
	return fields, true
}

func encodeStruct(buf *bytes.Buffer, enc *xml.Encoder, v reflect.Value, t *encPlan) error {
	for i := range t.fields {
		f := &t.fields[i]
		if err := encodeField(buf, enc, v.Field(f.index), f, f.plan); err != nil {
			return err
		}
	}
	return nil
}

// encodeField writes one value of field f (one element of it, for a
// slice), in the order of encoding/xml's marshalValue: omitempty first,
// then pointers and interfaces followed, then the kind.
func encodeField(buf *bytes.Buffer, enc *xml.Encoder, v reflect.Value, f *encField, p *encPlan) error {
	if f.omitEmpty && isEmptyValue(v) {
		return nil
	}
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	var scratch [64]byte
	switch p.kind {
	case encString:
		buf.WriteString(f.open)
		escapeString(buf, v.String())
	case encBool:
		buf.WriteString(f.open)
		buf.Write(strconv.AppendBool(scratch[:0], v.Bool()))
	case encInt:
		buf.WriteString(f.open)
		buf.Write(strconv.AppendInt(scratch[:0], v.Int(), 10))
	case encUint:
		buf.WriteString(f.open)
		buf.Write(strconv.AppendUint(scratch[:0], v.Uint(), 10))
	case encFloat:
		buf.WriteString(f.open)
		buf.Write(strconv.AppendFloat(scratch[:0], v.Float(), 'g', -1, v.Type().Bits()))
	case encStruct:
		buf.WriteString(f.open)
		if err := encodeStruct(buf, enc, v, p); err != nil {
			return err
		}
	case encSlice:
		for i, n := 0, v.Len(); i < n; i++ {
			if err := encodeField(buf, enc, v.Index(i), f, p.elem); err != nil {
				return err
			}
		}
		return nil
	default:
		// encOwn (a struct holding an encNone is never walked here):
		// encoding/xml's, addressable as it is in encoding/xml's walk so
		// that a pointer receiver's MarshalXML is found alike.
		var x any
		if v.CanAddr() {
			x = v.Addr().Interface()
		} else {
			x = v.Interface()
		}
		return encodeWith(enc, x, xml.StartElement{Name: xml.Name{Local: f.name}})
	}
	buf.WriteString(f.close)
	return nil
}

// isEmptyValue is encoding/xml's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64,
		reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// escapeString writes s escaped as encoding/xml escapes text and
// attribute values; text of plain printable ASCII, the common case, is
// copied as it is.
func escapeString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if !plainText[s[i]] {
			buf.WriteString(s[:i])
			_ = xml.EscapeText(buf, []byte(s[i:]))
			return
		}
	}
	buf.WriteString(s)
}

// plainText holds the bytes encoding/xml writes as they are wherever they
// stand: printable ASCII but for the five it escapes.
var plainText = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = !strings.ContainsRune(`"'&<>`, rune(c))
	}
	return t
}()
