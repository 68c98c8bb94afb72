package safexml_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/hooklift/gowsdl/soap"

	"github.com/minfin-kz/kopir/contracts/egov-shep/shepasync"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shepsync"
	"github.com/minfin-kz/kopir/contracts/gbdfl/fltypes"
	"github.com/minfin-kz/kopir/internal/safexml"
)

// EncodeElement is held to encoding/xml: for every value, the same bytes
// or the same error.

type ptrMarshaler struct{ V string }

func (m *ptrMarshaler) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return e.EncodeElement("own:"+m.V, start)
}

type textual int

func (t textual) MarshalText() ([]byte, error) {
	return []byte("t<" + string(rune('a'+int(t)%26)) + ">"), nil
}

type leaf struct {
	A string  `xml:"a"`
	B *string `xml:"b,omitempty"`
}

type covered struct {
	S      string            `xml:"s"`
	SE     string            `xml:"se,omitempty"`
	K      Kind              `xml:"k,omitempty"`
	I      int               `xml:"i"`
	I8     int8              `xml:"i8,omitempty"`
	U      uint64            `xml:"u"`
	F      float64           `xml:"f,omitempty"`
	F32    float32           `xml:"f32"`
	T      bool              `xml:"t"`
	P      *string           `xml:"p"`
	PE     *int              `xml:"pe,omitempty"`
	L      leaf              `xml:"l,omitempty"`
	LP     *leaf             `xml:"lp"`
	LS     []*leaf           `xml:"ls,omitempty"`
	VS     []leaf            `xml:"vs"`
	SS     []string          `xml:"ss,omitempty"`
	SN     []*string         `xml:"sn"`
	NN     [][]int           `xml:"nn"`
	Raw    []byte            `xml:"raw,omitempty"`
	Arr    [3]byte           `xml:"arr"`
	When   soap.XSDDateTime  `xml:"when,omitempty"`
	Day    soap.XSDDate      `xml:"day"`
	Own    ptrMarshaler      `xml:"own"`
	OwnP   *ptrMarshaler     `xml:"ownp,omitempty"`
	Text   textual           `xml:"text"`
	Skip   string            `xml:"-"`
	hidden string            //nolint:unused // unexported: never written
	Self   *covered          `xml:"self,omitempty"`
	Many   map[string]string `xml:"-"`
}

// Types the plan leaves to encoding/xml whole.
type withIface struct {
	X any `xml:"x"`
}
type withName struct {
	XMLName xml.Name `xml:"named"`
	V       string   `xml:"v"`
}
type holdsNamed struct {
	N withName `xml:"n"`
}
type withAttr struct {
	ID string `xml:"id,attr"`
	V  string `xml:"v"`
}
type withPath struct {
	V string `xml:"a>b"`
}
type withNS struct {
	V string `xml:"urn:x v"`
}
type untagged struct {
	V string
}
type withMap struct {
	M map[string]int `xml:"m"`
}

// twice has two fields of one element name, which encoding/xml refuses;
// made at run time, since vet refuses it too.
var twice = reflect.StructOf([]reflect.StructField{
	{Name: "A", Type: reflect.TypeFor[string](), Tag: `xml:"x"`},
	{Name: "B", Type: reflect.TypeFor[string](), Tag: `xml:"x,omitempty"`},
})

func twiceValue() any {
	v := reflect.New(twice)
	v.Elem().Field(0).SetString("a")
	v.Elem().Field(1).SetString("b")
	return v.Interface()
}

type embeds struct {
	leaf
	C string `xml:"c"`
}

func same(t *testing.T, v any, start xml.StartElement) {
	t.Helper()
	var want bytes.Buffer
	enc := xml.NewEncoder(&want)
	wantErr := enc.EncodeElement(v, start)
	if wantErr == nil {
		wantErr = enc.Flush()
	}
	var got bytes.Buffer
	gotErr := safexml.EncodeElement(&got, xml.NewEncoder(&got), v, start)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("%T: error %v, encoding/xml's %v", v, gotErr, wantErr)
	}
	if wantErr == nil && !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("%T:\n got %s\nwant %s", v, got.Bytes(), want.Bytes())
	}
}

func TestEncodeMatchesEncodingXML(t *testing.T) {
	s, n := "x", 0
	at := xml.StartElement{Name: xml.Name{Local: "data"}, Attr: []xml.Attr{
		{Name: xml.Name{Local: "xmlns:xsi"}, Value: "http://www.w3.org/2001/XMLSchema-instance"},
		{Name: xml.Name{Local: "xsi:type"}, Value: `d:R<"&'>`}}}
	plain := xml.StartElement{Name: xml.Name{Local: "v"}}
	full := &covered{S: "a<b>&\"c'\t\n\r\x01\xff é \uFFFD", K: "k", I: -7, I8: 3, U: 1 << 63, F: 1.5e-9, F32: 0.1,
		T: true, P: &s, PE: &n, L: leaf{A: "l"}, LP: &leaf{A: "p", B: &s}, LS: []*leaf{{A: "1"}, nil, {A: "2"}},
		VS: []leaf{{}, {A: "v"}}, SS: []string{"", "y"}, SN: []*string{nil, &s}, NN: [][]int{{1, 2}, nil, {3}},
		Raw: []byte("r&"), Arr: [3]byte{'a', 'b', 'c'},
		When: soap.CreateXsdDateTime(time.Date(2026, 12, 1, 10, 11, 12, 345, time.FixedZone("", 5*3600)), true),
		Day:  soap.CreateXsdDate(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), false),
		Own:  ptrMarshaler{V: "o"}, OwnP: &ptrMarshaler{V: "q"}, Text: 5, Skip: "no", hidden: "no",
		Self: &covered{S: "inner", Self: &covered{}}, Many: map[string]string{"a": "b"}}
	for _, v := range []any{
		full, *full, &covered{}, covered{},
		&withIface{X: &withName{V: "w"}}, &withIface{}, &withName{V: "n"}, &holdsNamed{N: withName{V: "h"}},
		&withAttr{ID: "i", V: "v"}, &withPath{V: "p"}, &withNS{V: "n"}, &untagged{V: "u"},
		&withMap{M: map[string]int{"a": 1}}, &embeds{leaf: leaf{A: "e"}, C: "c"}, twiceValue(),
		(*covered)(nil), nil, "text", 7, []leaf{{A: "s"}},
	} {
		same(t, v, at)
		same(t, v, plain)
		same(t, v, xml.StartElement{Name: xml.Name{Space: "urn:x", Local: "v"}})
		same(t, v, xml.StartElement{})
	}
}

// fill sets every exported field of v, as far as depth, from r: what a
// generated contract type can hold.
func fill(r *rand.Rand, v reflect.Value, depth int) {
	switch v.Type() {
	case reflect.TypeFor[soap.XSDDateTime]():
		v.Set(reflect.ValueOf(soap.CreateXsdDateTime(randTime(r), r.IntN(2) == 0)))
		return
	case reflect.TypeFor[soap.XSDDate]():
		v.Set(reflect.ValueOf(soap.CreateXsdDate(randTime(r), r.IntN(2) == 0)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		const alphabet = "aZ09 -_.<>&\"'\n\tжә\xff"
		b := make([]rune, r.IntN(6))
		for i := range b {
			b[i] = []rune(alphabet)[r.IntN(len([]rune(alphabet)))]
		}
		v.SetString(string(b))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(r.IntN(200) - 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(r.IntN(200)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(r.NormFloat64())
	case reflect.Pointer:
		if depth > 0 && r.IntN(4) != 0 {
			v.Set(reflect.New(v.Type().Elem()))
			fill(r, v.Elem(), depth-1)
		}
	case reflect.Slice:
		if depth > 0 {
			n := r.IntN(3)
			v.Set(reflect.MakeSlice(v.Type(), n, n))
			for i := range n {
				fill(r, v.Index(i), depth-1)
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i), depth)
			}
		}
	}
}

func randTime(r *rand.Rand) time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600), time.FixedZone("", -3*3600-1800)}
	nsec := 0
	if r.IntN(2) == 0 {
		nsec = r.IntN(1e9)
	}
	return time.Date(1950+r.IntN(100), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), nsec, zones[r.IntN(len(zones))])
}

// The contract types the bus encodes on every call, filled at random.
func TestEncodeGeneratedTypesMatchEncodingXML(t *testing.T) {
	types := []reflect.Type{
		reflect.TypeFor[shepsync.SyncMessageInfo](), reflect.TypeFor[shepsync.SyncMessageInfoResponse](),
		reflect.TypeFor[shepasync.AsyncMessageInfo](), reflect.TypeFor[fltypes.Request](), reflect.TypeFor[fltypes.Response](),
		reflect.TypeFor[covered](),
	}
	r := rand.New(rand.NewPCG(1, 2))
	start := xml.StartElement{Name: xml.Name{Local: "x"}}
	for _, typ := range types {
		for range 300 {
			v := reflect.New(typ)
			fill(r, v.Elem(), 4)
			same(t, v.Interface(), start)
		}
	}
}

func FuzzEncodeMatchesEncodingXML(f *testing.F) {
	f.Add("a", "b<", int64(1), 1.5, true, uint8(3))
	f.Add("\xff\x00", "\r\n", int64(-1), -0.0, false, uint8(0))
	f.Fuzz(func(t *testing.T, s1, s2 string, i int64, fl float64, b bool, n uint8) {
		v := &covered{S: s1, SE: s2, K: Kind(s2), I: int(i), I8: int8(i), U: uint64(i), F: fl, F32: float32(fl), T: b,
			SS: []string{s1, s2}, LS: []*leaf{{A: s1}}, Raw: []byte(s2), Text: textual(n), Own: ptrMarshaler{V: s1}}
		if n%2 == 0 {
			v.P, v.LP = &s2, &leaf{A: s2, B: &s1}
		}
		same(t, v, xml.StartElement{Name: xml.Name{Local: "e"}, Attr: []xml.Attr{{Name: xml.Name{Local: "a"}, Value: s2}}})
	})
}

func TestEncodeKeepsTheEncoderUsable(t *testing.T) {
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	buf.WriteString("<r>")
	if err := safexml.EncodeElement(&buf, enc, &leaf{A: "1"}, xml.StartElement{Name: xml.Name{Local: "l"}}); err != nil {
		t.Fatal(err)
	}
	if err := safexml.EncodeElement(&buf, enc, &withName{V: "2"}, xml.StartElement{Name: xml.Name{Local: "w"}}); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("</r>")
	if want := `<r><l><a>1</a></l><w><v>2</v></w></r>`; buf.String() != want {
		t.Fatalf("got %s, want %s", buf.String(), want)
	}
	err := safexml.EncodeElement(&buf, enc, &withMap{M: map[string]int{}}, xml.StartElement{Name: xml.Name{Local: "m"}})
	var unsupported *xml.UnsupportedTypeError
	if !errors.As(err, &unsupported) {
		t.Fatalf("a map: %v, want encoding/xml's UnsupportedTypeError", err)
	}
}

// The tests above would pass if everything were handed to encoding/xml;
// this one says which types are not.
func TestEncodeWritesCoveredTypesItself(t *testing.T) {
	for typ, want := range map[reflect.Type]bool{
		reflect.TypeFor[shepsync.SyncMessageInfo]():    true,
		reflect.TypeFor[*shepasync.AsyncMessageInfo](): true,
		reflect.TypeFor[fltypes.Request]():             true,
		reflect.TypeFor[fltypes.Response]():            true,
		reflect.TypeFor[covered]():                     true,
		reflect.TypeFor[withIface]():                   false,
		reflect.TypeFor[withName]():                    false,
		reflect.TypeFor[holdsNamed]():                  false,
		reflect.TypeFor[withAttr]():                    false,
		reflect.TypeFor[withPath]():                    false,
		reflect.TypeFor[withNS]():                      false,
		reflect.TypeFor[untagged]():                    false,
		reflect.TypeFor[withMap]():                     false,
		reflect.TypeFor[embeds]():                      false,
	} {
		if got := safexml.EncodesItself(typ); got != want {
			t.Errorf("%v: written by EncodeElement itself %v, want %v", typ, got, want)
		}
	}
}

// What the plan writes itself allocates nothing per field, so an element
// costs no more allocations than encoding/xml's walk, dates included.
func TestEncodeAllocatesNoMoreThanEncodingXML(t *testing.T) {
	v := &fltypes.Request{MessageId: "m", MessageDate: soap.CreateXsdDateTime(time.Now(), true), SenderCode: "s",
		Iin: "931002451325", BirthDate: soap.CreateXsdDate(time.Now(), false)}
	start := xml.StartElement{Name: xml.Name{Local: "data"}}
	var buf bytes.Buffer
	enc := xml.NewEncoder(&buf)
	mine := testing.AllocsPerRun(100, func() {
		buf.Reset()
		if err := safexml.EncodeElement(&buf, enc, v, start); err != nil {
			t.Fatal(err)
		}
	})
	theirs := testing.AllocsPerRun(100, func() {
		buf.Reset()
		if err := enc.EncodeElement(v, start); err != nil {
			t.Fatal(err)
		}
		if err := enc.Flush(); err != nil {
			t.Fatal(err)
		}
	})
	if mine > theirs {
		t.Fatalf("EncodeElement: %.0f allocations, encoding/xml %.0f", mine, theirs)
	}
}
