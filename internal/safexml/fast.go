package safexml

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hooklift/gowsdl/soap"
)

// The fast path: what xml.Unmarshal does, for the documents and types the
// bus decodes on every call, at a fraction of the allocations.
//
// encoding/xml allocates several times per element (names, boxed tokens,
// namespace bookkeeping) and walks each struct's fields by reflection on
// every element. Here the document is first cut into tokens in one pass
// over the bytes (names interned, text left in place unless it has
// references), and values are then filled from the tokens with the same
// rules as encoding/xml's unmarshal: the first field whose name (and
// namespace, if the tag has one) matches takes an element, a repeated
// element overwrites a value and appends to a slice, pointers are
// allocated when met, text is converted as copyValue converts it, an
// interface holding a pointer is decoded into, XMLName is checked and set.
// A type with its own UnmarshalXML or UnmarshalText gets it called, with
// a real *xml.Decoder reading the element's tokens.
//
// Anything outside that (CDATA, comments, a carriage return, an entity
// other than the predefined ones and character references, a name outside
// ASCII, a struct with attribute, chardata, innerxml or parent>child
// fields, embedded structs) is left to encoding/xml: the fast path
// declines before it has changed anything, so the result, errors included,
// is always encoding/xml's. FuzzFastMatchesEncodingXML holds it to that.

type tokKind uint8

const (
	tokStart tokKind = iota
	tokEnd
	tokText
)

type token struct {
	kind tokKind
	name xml.Name // translated, as Decoder.Token gives it
	text []byte   // tokText: the character data, references resolved
	end  int      // tokStart: the index of its end token
}

type tokenizer struct {
	data []byte
	toks []token
	// ns is the stack of namespace bindings in scope.
	ns []binding
}

type binding struct {
	prefix, uri string
	depth       int
}

var errDecline = errors.New("safexml: not for the fast path")

// tokenize cuts the root element of data into tokens, or declines. It
// also declines a document that prescan could refuse under lim, so that
// Decode need not run prescan on what it accepts: deeper than lim.MaxDepth,
// longer in bytes than lim.MaxTokens (prescan's tokens are each at least a
// byte long), or with anything but whitespace and comments after the root,
// which encoding/xml does not read and prescan does. Before and inside the
// root it reads nothing prescan refuses: it declines every <! but comments,
// and text outside the root.
func tokenize(data []byte, toks []token, lim Limits) ([]token, error) {
	if len(data) > lim.MaxTokens {
		return nil, errDecline
	}
	t := tokenizer{data: data, toks: toks[:0]}
	i := skipXMLSpace(data, 0)
	if bytes.HasPrefix(data[i:], []byte("<?xml")) {
		end := bytes.Index(data[i:], []byte("?>"))
		if end < 0 || !plainDeclaration(data[i+5:i+end]) {
			return nil, errDecline
		}
		i = skipXMLSpace(data, i+end+2)
	}
	i, err := skipMisc(data, i)
	if err != nil {
		return nil, err
	}
	if i >= len(data) || data[i] != '<' {
		return nil, errDecline
	}
	type element struct {
		tok     int    // its start token's index
		written []byte // its name as written
	}
	var opened [32]element
	stack := opened[:0]
	for i < len(data) {
		if data[i] != '<' {
			j := bytes.IndexByte(data[i:], '<')
			if j < 0 {
				return nil, errDecline
			}
			text, err := charData(data[i : i+j])
			if err != nil {
				return nil, err
			}
			t.toks = append(t.toks, token{kind: tokText, text: text})
			i += j
			continue
		}
		if i+1 >= len(data) {
			return nil, errDecline
		}
		if data[i+1] == '/' {
			j := bytes.IndexByte(data[i:], '>')
			if j < 0 || len(stack) == 0 {
				return nil, errDecline
			}
			// The end tag must repeat the start tag's name as written; the
			// bindings in scope are the start tag's again, so the name
			// translates as it did there.
			open := stack[len(stack)-1]
			if !endTagNames(data[i+2:i+j], open.written) {
				return nil, errDecline
			}
			stack = stack[:len(stack)-1]
			for len(t.ns) > 0 && t.ns[len(t.ns)-1].depth > len(stack) {
				t.ns = t.ns[:len(t.ns)-1]
			}
			start := &t.toks[open.tok]
			start.end = len(t.toks)
			t.toks = append(t.toks, token{kind: tokEnd, name: start.name})
			i += j + 1
			if len(stack) == 0 {
				return t.toks, afterRoot(data, i)
			}
			continue
		}
		if bytes.HasPrefix(data[i:], []byte("<!--")) {
			// No value takes comments here (a ",comment" field is
			// declined), and text around one is joined, as unmarshal
			// joins the character data on either side.
			end, err := commentEnd(data, i)
			if err != nil {
				return nil, err
			}
			i = end
			continue
		}
		if c := data[i+1]; c == '!' || c == '?' {
			return nil, errDecline // CDATA, instructions: encoding/xml's
		}
		// A start tag: name, attributes, then > or />.
		j := i + 1
		for j < len(data) && !isXMLSpace(data[j]) && data[j] != '>' && data[j] != '/' {
			j++
		}
		written := data[i+1 : j]
		raw, ok := t.qname(written)
		if !ok {
			return nil, errDecline
		}
		depth := len(stack) + 1
		if depth > lim.MaxDepth {
			return nil, errDecline
		}
		for {
			j = skipXMLSpace(data, j)
			if j >= len(data) {
				return nil, errDecline
			}
			if data[j] == '>' || data[j] == '/' {
				break
			}
			if !isXMLSpace(data[j-1]) {
				return nil, errDecline
			}
			k := j
			for k < len(data) && !isXMLSpace(data[k]) && data[k] != '=' && data[k] != '>' && data[k] != '/' {
				k++
			}
			an, ok := t.qname(data[j:k])
			if !ok {
				return nil, errDecline
			}
			k = skipXMLSpace(data, k)
			if k >= len(data) || data[k] != '=' {
				return nil, errDecline
			}
			k = skipXMLSpace(data, k+1)
			if k >= len(data) || (data[k] != '"' && data[k] != '\'') {
				return nil, errDecline
			}
			q := bytes.IndexByte(data[k+1:], data[k])
			if q < 0 {
				return nil, errDecline
			}
			val := data[k+1 : k+1+q]
			if bytes.IndexByte(val, '<') >= 0 {
				return nil, errDecline
			}
			v, err := charData(val)
			if err != nil {
				return nil, err
			}
			switch {
			case an.Space == "xmlns":
				t.ns = append(t.ns, binding{an.Local, intern(v), depth})
			case an.Space == "" && an.Local == "xmlns":
				t.ns = append(t.ns, binding{"", intern(v), depth})
			}
			j = k + 1 + q + 1
		}
		empty := data[j] == '/'
		if empty {
			if j+1 >= len(data) || data[j+1] != '>' {
				return nil, errDecline
			}
			j++
		}
		for _, b := range t.ns {
			if b.depth == depth && b.prefix != "" && !strings.Contains(b.uri, ":") {
				// The bridge's decoder would take a prefix for this URI.
				return nil, errDecline
			}
		}
		name := t.translate(raw, true)
		t.toks = append(t.toks, token{kind: tokStart, name: name})
		i = j + 1
		if empty {
			t.toks[len(t.toks)-1].end = len(t.toks)
			for len(t.ns) > 0 && t.ns[len(t.ns)-1].depth >= depth {
				t.ns = t.ns[:len(t.ns)-1]
			}
			t.toks = append(t.toks, token{kind: tokEnd, name: name})
			if len(stack) == 0 {
				return t.toks, afterRoot(data, i)
			}
			continue
		}
		stack = append(stack, element{len(t.toks) - 1, written})
	}
	return nil, errDecline
}

// endTagNames reports whether an end tag's text (between "</" and ">")
// is name, as written, with nothing after it but whitespace.
func endTagNames(tag, name []byte) bool {
	if len(tag) < len(name) || !bytes.Equal(tag[:len(name)], name) {
		return false
	}
	return skipXMLSpace(tag, len(name)) == len(tag)
}

// skipMisc is the index of the first byte from i that is neither
// whitespace nor in a comment.
func skipMisc(data []byte, i int) (int, error) {
	for i = skipXMLSpace(data, i); bytes.HasPrefix(data[i:], []byte("<!--")); i = skipXMLSpace(data, i) {
		end, err := commentEnd(data, i)
		if err != nil {
			return 0, err
		}
		i = end
	}
	return i, nil
}

// afterRoot declines unless what follows the root element from i is
// whitespace and comments.
func afterRoot(data []byte, i int) error {
	i, err := skipMisc(data, i)
	if err == nil && i < len(data) {
		err = errDecline
	}
	return err
}

// commentEnd is the index after the comment at i: the first "--" after
// "<!--" must close it, as encoding/xml requires.
func commentEnd(data []byte, i int) (int, error) {
	body := data[i+4:]
	dd := bytes.Index(body, []byte("--"))
	if dd < 0 || dd+2 >= len(body) || body[dd+2] != '>' || checkChars(body[:dd]) != nil {
		return 0, errDecline
	}
	return i + 4 + dd + 3, nil
}

// plainDeclaration accepts the XML declarations encoding/xml reads without
// a word: version 1.0 if given, UTF-8 if an encoding is given.
func plainDeclaration(b []byte) bool {
	s := strings.Join(strings.Fields(string(b)), " ")
	switch s {
	case `version="1.0"`, `version="1.0" encoding="UTF-8"`, `version="1.0" encoding="utf-8"`,
		`version='1.0' encoding='UTF-8'`, `version='1.0' encoding='utf-8'`, `version='1.0'`,
		`version="1.0" encoding="UTF-8" standalone="yes"`, `version="1.0" encoding="UTF-8" standalone="no"`:
		return true
	}
	return false
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

func skipXMLSpace(b []byte, i int) int {
	for i < len(b) && isXMLSpace(b[i]) {
		i++
	}
	return i
}

// qname splits prefix:local as encoding/xml does, declining names it would
// read differently or refuse: anything but ASCII letters, digits and
// . - _ with at most one colon inside.
func (t *tokenizer) qname(b []byte) (xml.Name, bool) {
	if len(b) == 0 {
		return xml.Name{}, false
	}
	colon := -1
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '.', c == '-':
			if i == 0 {
				return xml.Name{}, false
			}
		case c == ':':
			if colon >= 0 || i == 0 || i == len(b)-1 {
				return xml.Name{}, false
			}
			colon = i
		default:
			return xml.Name{}, false
		}
	}
	if colon < 0 {
		return xml.Name{Local: intern(b)}, true
	}
	if c := b[colon+1]; '0' <= c && c <= '9' || c == '.' || c == '-' {
		return xml.Name{}, false
	}
	return xml.Name{Space: intern(b[:colon]), Local: intern(b[colon+1:])}, true
}

// translate is Decoder.translate with the bindings in scope.
func (t *tokenizer) translate(n xml.Name, element bool) xml.Name {
	switch {
	case n.Space == "xmlns":
		return n
	case n.Space == "" && !element:
		return n
	case n.Space == "xml":
		n.Space = "http://www.w3.org/XML/1998/namespace"
		return n
	case n.Space == "" && n.Local == "xmlns":
		return n
	}
	for i := len(t.ns) - 1; i >= 0; i-- {
		if t.ns[i].prefix == n.Space {
			n.Space = t.ns[i].uri
			return n
		}
	}
	return n // an undeclared prefix stays, as encoding/xml leaves it
}

// charData resolves references in text or an attribute value, declining
// what encoding/xml would read otherwise or refuse.
func charData(b []byte) ([]byte, error) {
	amp := bytes.IndexByte(b, '&')
	if err := checkChars(b); err != nil {
		return nil, err
	}
	if amp < 0 {
		return b, nil
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		amp := bytes.IndexByte(b, '&')
		if amp < 0 {
			return append(out, b...), nil
		}
		out = append(out, b[:amp]...)
		b = b[amp:]
		semi := bytes.IndexByte(b, ';')
		if semi < 0 {
			return nil, errDecline
		}
		ref := string(b[1:semi])
		switch ref {
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "amp":
			out = append(out, '&')
		case "apos":
			out = append(out, '\'')
		case "quot":
			out = append(out, '"')
		default:
			var n uint64
			var err error
			switch {
			case strings.HasPrefix(ref, "#x"):
				n, err = strconv.ParseUint(ref[2:], 16, 32)
			case strings.HasPrefix(ref, "#"):
				n, err = strconv.ParseUint(ref[1:], 10, 32)
			default:
				return nil, errDecline
			}
			r := rune(n)
			if err != nil || len(ref) < 3 || ref[1] == '+' || ref[2] == '+' || !inCharRange(r) || r == '\r' {
				return nil, errDecline
			}
			out = utf8.AppendRune(out, r)
		}
		b = b[semi+1:]
	}
	return out, nil
}

// checkChars declines text encoding/xml would refuse or rewrite: invalid
// UTF-8, characters outside XML's range, carriage returns (it turns them
// into newlines), and "]]>".
func checkChars(b []byte) error {
	for i := 0; i < len(b); {
		if i+8 <= len(b) && plainASCII(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
			continue
		}
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' {
				return errDecline
			}
			i++
			continue
		}
		if c >= 0xC2 && c <= 0xDF && i+1 < len(b) && b[i+1]&0xC0 == 0x80 {
			i += 2 // U+0080 to U+07FF (Cyrillic among them): valid and in range
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !inCharRange(r) {
			return errDecline
		}
		i += size
	}
	if bytes.Contains(b, []byte("]]>")) {
		return errDecline
	}
	return nil
}

// plainASCII reports whether each of w's eight bytes is printable ASCII
// (0x20 to 0x7F), which needs no closer look: most text is.
func plainASCII(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (w-0x20*ones)&^w&highs == 0 && w&highs == 0
}

func inCharRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// Names and namespace URIs repeat in every document of a kind; they are
// kept once. The table is bounded so that hostile input cannot grow it.
// Readers load the table without a lock; a new name copies it (names
// stop being new once the bus has seen each kind of document).
var (
	internMu  sync.Mutex
	internTab atomic.Pointer[map[string]*string] // each name's one copy
)

// internRecent is a direct-mapped cache in front of internTab, indexed by
// an FNV-1a hash of the name: a document's names are met again and again,
// and one short hash and one comparison cost a third of a lookup in the
// map (hashing the key, probing its groups). It only ever holds strings of
// internTab, so it is bounded with it.
var internRecent [1024]atomic.Pointer[string]

func intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &internRecent[h%uint32(len(internRecent))]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	if tab := internTab.Load(); tab != nil {
		if p, ok := (*tab)[string(b)]; ok {
			slot.Store(p)
			return *p
		}
	}
	s := string(b)
	if len(b) > 128 {
		return s
	}
	internMu.Lock()
	defer internMu.Unlock()
	old := internTab.Load()
	if old != nil && len(*old) >= 4096 {
		return s
	}
	if old != nil {
		if p, ok := (*old)[s]; ok {
			return *p // interned by another caller since the first look
		}
	}
	tab := make(map[string]*string, 1+len(mapOrNil(old)))
	for k, v := range mapOrNil(old) {
		tab[k] = v
	}
	tab[s] = &s
	internTab.Store(&tab)
	slot.Store(&s)
	return s
}

func mapOrNil(p *map[string]*string) map[string]*string {
	if p == nil {
		return nil
	}
	return *p
}

// Type plans: what the fast path knows about a struct type, or why it
// declines it.

type field struct {
	index []int
	name  string
	ns    string
	// info is the typeInfo of the field's type, once looked up: a lookup
	// in types for every element cost more than filling most.
	info infoSlot
}

// infoSlot keeps a typeInfo once it has been looked up in types.
type infoSlot struct{ p atomic.Pointer[typeInfo] }

// of is t's typeInfo; t must be the same type on every call.
func (s *infoSlot) of(t reflect.Type) *typeInfo {
	if ti := s.p.Load(); ti != nil {
		return ti
	}
	ti := infoOf(t)
	s.p.Store(ti)
	return ti
}

type plan struct {
	xmlname *field  // the XMLName field, if any
	fields  []field // element fields, in declaration order
	anyElem []int   // the first ",any" element field
	// byName lists, for each local name, the fields of that name in
	// declaration order: the candidates for an element, of which the
	// first whose namespace fits takes it. A struct of up to
	// linearFields fields is searched in order instead (names are
	// interned, so most comparisons end at the pointers).
	byName map[string][]*field
}

// linearFields is the largest struct whose fields are searched in order.
const linearFields = 16

// candidates calls take with the fields named local, in declaration
// order, until it returns true.
func (p *plan) candidates(local string, take func(f *field) bool) {
	if p.byName == nil {
		for i := range p.fields {
			if f := &p.fields[i]; f.name == local && take(f) {
				return
			}
		}
		return
	}
	for _, f := range p.byName[local] {
		if take(f) {
			return
		}
	}
}

var (
	nameType             = reflect.TypeFor[xml.Name]()
	unmarshalerType      = reflect.TypeFor[xml.Unmarshaler]()
	textUnmarshalerType  = reflect.TypeFor[encoding.TextUnmarshaler]()
	errUnsupportedStruct = errors.New("safexml: struct outside the fast path")
)

// typeInfo is what the fast path knows about one type, all of it found
// with one lookup: most elements are strings and structs without hooks,
// and asking reflect each time cost more than decoding them.
type typeInfo struct {
	elem    infoSlot // the element type's, for pointers and slices
	hooked  bool     // it or its pointer has an UnmarshalXML or UnmarshalText
	plan    *plan    // a struct's fields; nil with planErr when declined
	planErr error
	fast    atomic.Uint32 // fastUnknown until a whole check has answered
}

// The answers of canFastType a typeInfo keeps.
const (
	fastUnknown = iota
	fastYes
	fastNo
)

var types sync.Map // reflect.Type → *typeInfo

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := types.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{hooked: hooked(t), planErr: errUnsupportedStruct}
	if t.Kind() == reflect.Struct {
		ti.plan, ti.planErr = buildPlan(t)
	}
	v, _ := types.LoadOrStore(t, ti)
	return v.(*typeInfo)
}

func planOf(t reflect.Type) (*plan, error) {
	ti := infoOf(t)
	return ti.plan, ti.planErr
}

// xmlTag is a field's xml tag, as encoding/xml reads it, for the fields
// both plans cover: elements, by a name and perhaps a namespace.
type xmlTag struct {
	ns, name  string
	omitEmpty bool
	any       bool
}

// readXMLTag reads a field's xml tag (not "-"); ok is false for a flag
// that makes the field something other than an element (attr, chardata,
// innerxml, comment, cdata), which neither plan covers.
func readXMLTag(tag string) (t xmlTag, ok bool) {
	rest := tag
	if sp := strings.Index(tag, " "); sp >= 0 {
		t.ns, rest = tag[:sp], tag[sp+1:]
	}
	name, flags, _ := strings.Cut(rest, ",")
	t.name = name
	for fl := range strings.SplitSeq(flags, ",") {
		switch fl {
		case "":
		case "omitempty":
			t.omitEmpty = true
		case "any":
			t.any = true
		default:
			return xmlTag{}, false
		}
	}
	return t, true
}

func buildPlan(t reflect.Type) (*plan, error) {
	p := &plan{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil, errUnsupportedStruct
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("xml")
		if tag == "-" {
			continue
		}
		xt, ok := readXMLTag(tag)
		if !ok {
			return nil, errUnsupportedStruct
		}
		ns, name, isAny := xt.ns, xt.name, xt.any
		if strings.Contains(name, ">") || (ns != "" && name == "") || (isAny && name != "") {
			return nil, errUnsupportedStruct // encoding/xml refuses some, reads others otherwise
		}
		if f.Name == "XMLName" {
			if f.Type != nameType || isAny {
				return nil, errUnsupportedStruct
			}
			p.xmlname = &field{index: f.Index, name: name, ns: ns}
			continue
		}
		// An element field's name: its tag's, or else the XMLName of its
		// type, or else the Go field's; ",any" fields are element fields
		// by that name too, besides taking elements no field takes.
		tn, tns, odd := xmlNameOf(f.Type)
		if odd {
			return nil, errUnsupportedStruct
		}
		switch {
		case name == "" && tn != "":
			name, ns = tn, tns
		case name == "":
			name = f.Name
		case tn != "" && tn != name:
			return nil, errUnsupportedStruct // encoding/xml's name conflict error
		}
		if isAny && p.anyElem == nil {
			p.anyElem = f.Index
		}
		for i := range p.fields {
			if p.fields[i].name == name {
				return nil, errUnsupportedStruct // encoding/xml's conflict rules
			}
		}
		p.fields = append(p.fields, field{index: f.Index, name: name, ns: ns})
	}
	if len(p.fields) > linearFields {
		p.byName = make(map[string][]*field, len(p.fields))
		for i := range p.fields {
			f := &p.fields[i]
			p.byName[f.name] = append(p.byName[f.name], f)
		}
	}
	return p, nil
}

// xmlNameOf is encoding/xml's lookupXMLName: the name (and namespace) in
// the XMLName tag of a struct type, "" if none; odd when the tag is one
// this file does not read as encoding/xml would.
func xmlNameOf(t reflect.Type) (name, ns string, odd bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "", "", false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Name != "XMLName" {
			continue
		}
		tag := f.Tag.Get("xml")
		if strings.Contains(tag, ",") || strings.Contains(tag, ">") || tag == "-" {
			return "", "", true
		}
		if sp := strings.Index(tag, " "); sp >= 0 {
			ns, tag = tag[:sp], tag[sp+1:]
		}
		if tag == "" {
			return "", "", ns != ""
		}
		return tag, ns, false
	}
	return "", "", false
}

// canFast reports whether every type decoding into v can meet is one the
// fast path decodes as encoding/xml does. Interfaces are followed to the
// pointers they hold now: decoding never sets an interface.
func canFast(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return true
		}
		e := v.Elem()
		if e.Kind() != reflect.Pointer || e.IsNil() {
			return true // skipped, as encoding/xml skips it
		}
		return canFast(e)
	case reflect.Pointer:
		if v.IsNil() {
			return canFastType(v.Type().Elem())
		}
		if !canFastType(v.Type()) {
			return false
		}
		return canFast(v.Elem())
	case reflect.Struct:
		if !canFastType(v.Type()) {
			return false
		}
		ti := infoOf(v.Type())
		if ti.hooked {
			return true
		}
		p := ti.plan
		for i := range p.fields {
			if !canFast(v.FieldByIndex(p.fields[i].index)) {
				return false
			}
		}
		if p.anyElem != nil && !canFast(v.FieldByIndex(p.anyElem)) {
			return false
		}
		return true
	}
	return canFastType(v.Type())
}

func hooked(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) ||
		t.Implements(textUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType)
}

// tokenUnmarshalers are the types with an UnmarshalXML the fast path
// calls, through a decoder reading the element's tokens: those that only
// decode the element's text (the generated contracts' xsd:date, xsd:dateTime
// and xsd:time). Any other UnmarshalXML may read the raw bytes (innerxml)
// or the attributes, which such a decoder does not have, so a document
// meeting one is left to encoding/xml.
var tokenUnmarshalers = map[reflect.Type]bool{
	reflect.TypeFor[soap.XSDDate]():     true,
	reflect.TypeFor[soap.XSDDateTime](): true,
	reflect.TypeFor[soap.XSDTime]():     true,
}

func unmarshaler(t reflect.Type) bool {
	return t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType)
}

// canFastType reports whether the fast path decodes every value of type t
// as encoding/xml does. Only whole answers are cached: a type met again
// while it is being checked (a recursive type) is taken as supported for
// that check alone, and no other goroutine sees that assumption.
func canFastType(t reflect.Type) bool {
	ti := infoOf(t)
	if f := ti.fast.Load(); f != fastUnknown {
		return f == fastYes
	}
	ok := checkType(t, map[reflect.Type]bool{})
	if ok {
		ti.fast.Store(fastYes)
	} else {
		ti.fast.Store(fastNo)
	}
	return ok
}

func typeOK(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if f := infoOf(t).fast.Load(); f != fastUnknown {
		return f == fastYes
	}
	if visiting[t] {
		return true
	}
	visiting[t] = true
	defer delete(visiting, t)
	return checkType(t, visiting)
}

func checkType(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if t.Kind() == reflect.Pointer {
		// encoding/xml allocates one pointer and refuses a second.
		if t = t.Elem(); t.Kind() == reflect.Pointer {
			return false
		}
	}
	if unmarshaler(t) {
		return tokenUnmarshalers[t]
	}
	if hooked(t) {
		return true // UnmarshalText only: the element's text, as encoding/xml gives it
	}
	switch t.Kind() {
	case reflect.Interface, reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return false
		}
		return typeOK(t.Elem(), visiting)
	case reflect.Struct:
		if t == nameType {
			return true
		}
		p, err := planOf(t)
		if err != nil {
			return false
		}
		for i := range p.fields {
			if !typeOK(t.FieldByIndex(p.fields[i].index).Type, visiting) {
				return false
			}
		}
		return p.anyElem == nil || typeOK(t.FieldByIndex(p.anyElem).Type, visiting)
	}
	return false
}

// fastDecode fills v (a non-nil pointer) from data as xml.Unmarshal would,
// for a document prescan accepts under lim (tokenize).
// declined means it did nothing and encoding/xml should.
func fastDecode(data []byte, v any, lim Limits) (declined bool, err error) {
	if len(data) > fastMaxBytes {
		return true, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !canFast(rv.Elem()) {
		return true, nil
	}
	buf := tokenPool.Get().(*[]token)
	toks, err := tokenize(data, *buf, lim)
	if cap(toks) <= 4096 {
		*buf = toks[:0]
		defer tokenPool.Put(buf)
	}
	if err != nil {
		return true, nil
	}
	d := &decoder{toks: toks}
	defer d.release()
	return false, d.unmarshal(rv.Elem(), 0, nil)
}

// fastMaxBytes bounds the documents the fast path takes: it holds all of
// a document's tokens at once, which is cheap for a SOAP call and not for
// a bank statement, which encoding/xml reads as a stream.
const fastMaxBytes = 256 << 10

var tokenPool = sync.Pool{New: func() any { b := make([]token, 0, 256); return &b }}

type decoder struct {
	toks []token
	text []byte // scratch for text split by child elements
}

func (d *decoder) release() {
	for i := range d.toks {
		d.toks[i] = token{}
	}
}

// unmarshal is encoding/xml's unmarshal for the element starting at
// token si. ti is val's typeInfo when the caller has it, or nil.
func (d *decoder) unmarshal(val reflect.Value, si int, ti *typeInfo) error {
	if val.Kind() == reflect.Interface && !val.IsNil() {
		if e := val.Elem(); e.Kind() == reflect.Pointer && !e.IsNil() {
			val, ti = e, nil
		}
	}
	if val.Kind() == reflect.Pointer {
		if val.IsNil() {
			val.Set(reflect.New(val.Type().Elem()))
		}
		val = val.Elem()
		if ti != nil {
			ti = ti.elem.of(val.Type())
		}
	}
	if val.CanAddr() {
		// The generated contracts' dates, read as their UnmarshalXML
		// reads them (xsdTime), without a decoder to hand them.
		switch val.Type() {
		case xsdDateType:
			t, tz := xsdTime(string(d.directText(si)), "2006-01-02Z07:00")
			val.Set(reflect.ValueOf(soap.CreateXsdDate(t, tz)))
			return nil
		case xsdDateTimeType:
			t, tz := xsdTime(string(d.directText(si)), time.RFC3339Nano)
			val.Set(reflect.ValueOf(soap.CreateXsdDateTime(t, tz)))
			return nil
		}
	}
	if val.Kind() != reflect.Interface {
		if ti == nil {
			ti = infoOf(val.Type())
		}
		if !ti.hooked {
			return d.fill(val, si, ti)
		}
	}
	if val.CanInterface() {
		if u, ok := reflect.TypeAssert[xml.Unmarshaler](val); ok {
			return d.bridge(u, si)
		}
	}
	if val.CanAddr() {
		if pv := val.Addr(); pv.CanInterface() {
			if u, ok := reflect.TypeAssert[xml.Unmarshaler](pv); ok {
				return d.bridge(u, si)
			}
		}
	}
	if val.CanInterface() {
		if u, ok := reflect.TypeAssert[encoding.TextUnmarshaler](val); ok {
			return u.UnmarshalText(d.allText(si))
		}
	}
	if val.CanAddr() {
		if pv := val.Addr(); pv.CanInterface() {
			if u, ok := reflect.TypeAssert[encoding.TextUnmarshaler](pv); ok {
				return u.UnmarshalText(d.allText(si))
			}
		}
	}
	return d.fill(val, si, nil)
}

// fill decodes the element at si into val, which takes it by its kind:
// no hook of its own applies. ti is val's typeInfo when the caller has it.
func (d *decoder) fill(val reflect.Value, si int, ti *typeInfo) error {
	start := &d.toks[si]
	switch val.Kind() {
	case reflect.Interface:
		return nil // skipped
	case reflect.Slice:
		if ti == nil {
			ti = infoOf(val.Type())
		}
		n := val.Len()
		val.Grow(1)
		val.SetLen(n + 1)
		if err := d.unmarshal(val.Index(n), si, ti.elem.of(val.Type().Elem())); err != nil {
			val.SetLen(n)
			return err
		}
		return nil
	case reflect.Struct:
		if val.Type() == nameType {
			val.Set(reflect.ValueOf(start.name))
			return nil
		}
		if ti == nil {
			ti = infoOf(val.Type())
		}
		p, err := ti.plan, ti.planErr
		if err != nil {
			return err // canFast saw to it that this does not happen
		}
		if x := p.xmlname; x != nil {
			if x.name != "" && x.name != start.name.Local {
				return xml.UnmarshalError("expected element type <" + x.name + "> but have <" + start.name.Local + ">")
			}
			if x.ns != "" && x.ns != start.name.Space {
				e := "expected element <" + x.name + "> in name space " + x.ns + " but have "
				if start.name.Space == "" {
					e += "no name space"
				} else {
					e += start.name.Space
				}
				return xml.UnmarshalError(e)
			}
			val.FieldByIndex(x.index).Set(reflect.ValueOf(start.name))
		}
		for c := si + 1; c < start.end; c++ {
			child := &d.toks[c]
			if child.kind != tokStart {
				continue
			}
			consumed := false
			var err error
			p.candidates(child.name.Local, func(f *field) bool {
				if f.ns != "" && f.ns != child.name.Space {
					return false
				}
				consumed = true
				fv := val.FieldByIndex(f.index)
				err = d.unmarshal(fv, c, f.info.of(fv.Type()))
				return true
			})
			if err != nil {
				return err
			}
			if !consumed && p.anyElem != nil {
				if err := d.unmarshal(val.FieldByIndex(p.anyElem), c, nil); err != nil {
					return err
				}
			}
			c = child.end
		}
		return nil
	}
	return copyValue(val, d.directText(si))
}

// directText is the element's own character data, without its children's.
func (d *decoder) directText(si int) []byte {
	end := d.toks[si].end
	var one []byte
	parts := 0
	for c := si + 1; c < end; c++ {
		switch t := &d.toks[c]; t.kind {
		case tokText:
			if parts++; parts == 1 {
				one = t.text
			} else {
				if parts == 2 {
					d.text = append(d.text[:0], one...)
				}
				d.text = append(d.text, t.text...)
			}
		case tokStart:
			c = t.end
		}
	}
	if parts > 1 {
		return d.text
	}
	return one
}

// allText is what unmarshalTextInterface collects: character data
// directly inside the element.
func (d *decoder) allText(si int) []byte {
	return bytes.Clone(d.directText(si))
}

// copyValue is encoding/xml's copyValue for the kinds canFast lets through.
func copyValue(dst reflect.Value, src []byte) error {
	switch dst.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if len(src) == 0 {
			dst.SetInt(0)
			return nil
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(src)), 10, dst.Type().Bits())
		if err != nil {
			return err
		}
		dst.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if len(src) == 0 {
			dst.SetUint(0)
			return nil
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(src)), 10, dst.Type().Bits())
		if err != nil {
			return err
		}
		dst.SetUint(n)
	case reflect.Float32, reflect.Float64:
		if len(src) == 0 {
			dst.SetFloat(0)
			return nil
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(string(src)), dst.Type().Bits())
		if err != nil {
			return err
		}
		dst.SetFloat(f)
	case reflect.Bool:
		if len(src) == 0 {
			dst.SetBool(false)
			return nil
		}
		b, err := strconv.ParseBool(strings.TrimSpace(string(src)))
		if err != nil {
			return err
		}
		dst.SetBool(b)
	case reflect.String:
		dst.SetString(string(src))
	default:
		return errors.New("cannot unmarshal into " + dst.Type().String())
	}
	return nil
}

var (
	xsdDateType     = reflect.TypeFor[soap.XSDDate]()
	xsdDateTimeType = reflect.TypeFor[soap.XSDDateTime]()
)

// xsdTime is what gowsdl's soap.unmarshalTime makes of an element's text
// (github.com/hooklift/gowsdl v0.5.0, soap/xsdDateTime.go, MIT licence):
// the time and whether it had a zone. A text that does not parse gives
// the zero time and no error, as there. TestFastMatchesEncodingXML and its
// fuzz target compare the two on every date they meet.
func xsdTime(content, format string) (time.Time, bool) {
	if content == "" {
		return time.Time{}, true
	}
	hasTz := false
	if strings.Contains(content, "T") {
		dateAndTime := strings.SplitN(content, "T", 2)
		if len(dateAndTime) > 1 {
			if strings.Contains(dateAndTime[1], "Z") || strings.Contains(dateAndTime[1], "+") || strings.Contains(dateAndTime[1], "-") {
				hasTz = true
			}
		}
		if !hasTz {
			content += "Z"
		}
		if content == "0001-01-01T00:00:00Z" {
			return time.Time{}, true
		}
	} else {
		if strings.Contains(content, "Z") || strings.Contains(content, ":") {
			hasTz = true
		}
		if !hasTz {
			content += "Z"
		}
	}
	t, _ := time.Parse(format, content)
	return t, hasTz
}

// bridge hands the element to its type's UnmarshalXML through a real
// decoder reading the element's tokens, names already translated.
func (d *decoder) bridge(u xml.Unmarshaler, si int) error {
	r := &tokenReplay{d: d, next: si, end: d.toks[si].end}
	dec := xml.NewTokenDecoder(r)
	tok, err := dec.Token() // the start element, so that the decoder knows what it closes
	if err != nil {
		return err
	}
	return u.UnmarshalXML(dec, tok.(xml.StartElement))
}

type tokenReplay struct {
	d         *decoder
	next, end int
}

func (r *tokenReplay) Token() (xml.Token, error) {
	if r.next > r.end {
		return nil, io.EOF
	}
	t := &r.d.toks[r.next]
	r.next++
	switch t.kind {
	case tokStart:
		// The types bridged (tokenUnmarshalers) read no attributes.
		return xml.StartElement{Name: t.name}, nil
	case tokEnd:
		return xml.EndElement{Name: t.name}, nil
	}
	return xml.CharData(t.text), nil
}
