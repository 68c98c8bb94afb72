package xsdjson

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// xnode is an element of an instance document.
type xnode struct {
	name  xml.Name
	attrs []xml.Attr
	ns    map[string]string // prefixes in scope, for xsi:type values
	kids  []*xnode
	text  strings.Builder
}

// MaxDepth bounds the nesting of a document read here; the SHEP envelope
// around it has been bounded already.
const MaxDepth = 64

func readTree(doc []byte) (*xnode, error) {
	dec := xml.NewDecoder(bytes.NewReader(doc))
	var stack []*xnode
	var root *xnode
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name, ns: map[string]string{}}
			if len(stack) > 0 {
				n.ns = stack[len(stack)-1].ns
			}
			copied := false
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					if !copied {
						m := make(map[string]string, len(n.ns)+1)
						for k, v := range n.ns {
							m[k] = v
						}
						n.ns, copied = m, true
					}
					if a.Name.Space == "xmlns" {
						n.ns[a.Name.Local] = a.Value
					} else {
						n.ns[""] = a.Value
					}
					continue
				}
				n.attrs = append(n.attrs, a)
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else if root != nil {
				return nil, fmt.Errorf("more than one root element")
			} else {
				root = n
			}
			stack = append(stack, n)
			if len(stack) > MaxDepth {
				return nil, fmt.Errorf("nested deeper than %d elements", MaxDepth)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		}
	}
	if root == nil {
		return nil, fmt.Errorf("no element")
	}
	return root, nil
}

func (n *xnode) xsi(local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == NSXSI && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// FromXML turns a document whose root is the element into its JSON form.
// The document should have passed the XSD validator; what the mapping
// cannot place is an error rather than dropped.
func (el *Element) FromXML(doc []byte) (json.RawMessage, error) {
	root, err := readTree(doc)
	if err != nil {
		return nil, fmt.Errorf("xsdjson: %w", err)
	}
	if root.name.Local != el.Name.Local || root.name.Space != el.Name.Space {
		return nil, fmt.Errorf("xsdjson: root element {%s}%s, want %s", root.name.Space, root.name.Local, el.Name)
	}
	v, err := el.set.value(&el.Elem, root, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// Document rebuilds, from the inner XML of a SHEP <data> element and
// <data>'s attributes, a document the element can be validated and read
// in. asContent says <data> is the element itself, its type given by
// xsi:type (GBD FL's way): the document's root is then the element, with
// <data>'s namespace declarations. Otherwise <data> holds the element and
// stays the root.
func (el *Element) Document(inner string, attrs []xml.Attr, asContent bool) []byte {
	var b strings.Builder
	open, close := "data", "data"
	if asContent {
		open, close = el.Name.Local, el.Name.Local
		if el.Name.Space != "" {
			// A prefix, so that unqualified children stay in no namespace.
			open, close = "xj:"+open, "xj:"+close
		}
	}
	b.WriteString("<" + open)
	if asContent && el.Name.Space != "" {
		b.WriteString(` xmlns:xj="`)
		xml.EscapeText(&b, []byte(el.Name.Space))
		b.WriteString(`"`)
	}
	for _, a := range attrs {
		if a.Name.Space == "xmlns" && a.Name.Local != "xj" {
			fmt.Fprintf(&b, ` xmlns:%s="`, a.Name.Local)
			xml.EscapeText(&b, []byte(a.Value))
			b.WriteString(`"`)
		}
	}
	b.WriteString(">" + inner + "</" + close + ">")
	return []byte(b.String())
}

// FromDocument reads the first occurrence of the element in doc (the root
// or a descendant, as Document builds it) into its JSON form.
func (el *Element) FromDocument(doc []byte) (json.RawMessage, error) {
	root, err := readTree(doc)
	if err != nil {
		return nil, fmt.Errorf("xsdjson: %w", err)
	}
	n := find(root, xml.Name{Space: el.Name.Space, Local: el.Name.Local})
	if n == nil {
		return nil, fmt.Errorf("xsdjson: no element %s in the document", el.Name)
	}
	v, err := el.set.value(&el.Elem, n, "")
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func find(n *xnode, name xml.Name) *xnode {
	if n.name == name {
		return n
	}
	for _, k := range n.kids {
		if f := find(k, name); f != nil {
			return f
		}
	}
	return nil
}

// Leaf checks that path (element and attribute local names joined by "/",
// optionally starting with the element's own name) leads to a simple
// value, as a field a rule is attached to must.
func (el *Element) Leaf(path string) error {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) > 1 && segs[0] == el.Name.Local {
		segs = segs[1:]
	}
	t := el.Type
	for i, s := range segs {
		if t.Simple != nil {
			return fmt.Errorf("%s: %s has no field %s", path, strings.Join(segs[:i], "/"), s)
		}
		if err := t.prepare(); err != nil {
			return err
		}
		if f := t.byName[s]; f != nil {
			t = f.elem.Type
			continue
		}
		attr := s == ValueKey && t.Text != nil
		for _, a := range t.Attrs {
			attr = attr || a.Name.Local == s
		}
		if !attr || i != len(segs)-1 {
			return fmt.Errorf("%s: no field %s in %s", path, s, typeLabel(t))
		}
		return nil
	}
	if t.Simple == nil {
		return fmt.Errorf("%s is an object, not a value", path)
	}
	return nil
}

// Segments is path as Leaf reads it: local names, without the element's.
func (el *Element) Segments(path string) []string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) > 1 && segs[0] == el.Name.Local {
		segs = segs[1:]
	}
	return segs
}

// ordered is a JSON object that keeps the schema's order of keys.
type ordered []kv

type kv struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(p.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (s *Set) value(el *Elem, n *xnode, path string) (any, error) {
	if nilv, ok := n.xsi("nil"); ok && (nilv == "true" || nilv == "1") {
		return nil, nil
	}
	t := el.Type
	if t.Simple != nil {
		v, err := t.Simple.jsonValue(n.text.String())
		if err != nil {
			return nil, fmt.Errorf("xsdjson: %s: %w", pathOr(path), err)
		}
		return v, nil
	}
	var out ordered
	if xt, ok := n.xsi("type"); ok {
		prefix, local, found := strings.Cut(xt, ":")
		if !found {
			prefix, local = "", xt
		}
		q := QName{n.ns[prefix], local}
		if q != t.Name {
			derived, err := s.derived(t)
			if err != nil {
				return nil, err
			}
			var actual *Type
			for _, d := range derived {
				if d.Name == q {
					actual = d
				}
			}
			if actual == nil {
				return nil, fmt.Errorf("xsdjson: %s: xsi:type %s is not derived from %s", pathOr(path), q, t.Name)
			}
			t = actual
			out = append(out, kv{TypeKey, q.Local})
		}
	}
	if err := t.prepare(); err != nil {
		return nil, err
	}
	for _, a := range t.Attrs {
		for _, x := range n.attrs {
			if x.Name.Local == a.Name.Local && x.Name.Space == a.Name.Space {
				v, err := a.Type.jsonValue(x.Value)
				if err != nil {
					return nil, fmt.Errorf("xsdjson: %s: %w", join(path, a.Name.Local), err)
				}
				out = append(out, kv{a.Name.Local, v})
			}
		}
	}
	if t.Text != nil {
		v, err := t.Text.jsonValue(n.text.String())
		if err != nil {
			return nil, fmt.Errorf("xsdjson: %s: %w", join(path, ValueKey), err)
		}
		out = append(out, kv{ValueKey, v})
	} else if strings.TrimSpace(n.text.String()) != "" {
		return nil, fmt.Errorf("xsdjson: %s: text where the schema has only elements", pathOr(path))
	}
	got := map[string][]any{}
	for _, k := range n.kids {
		f := t.byName[k.name.Local]
		if f == nil || f.elem.Name.Space != k.name.Space {
			return nil, fmt.Errorf("xsdjson: %s: element {%s}%s is not in the schema here", pathOr(path), k.name.Space, k.name.Local)
		}
		p := join(path, k.name.Local)
		if f.max != 1 {
			p = fmt.Sprintf("%s[%d]", p, len(got[k.name.Local]))
		}
		v, err := s.value(f.elem, k, p)
		if err != nil {
			return nil, err
		}
		got[k.name.Local] = append(got[k.name.Local], v)
	}
	for _, f := range t.fields {
		vals, ok := got[f.elem.Name.Local]
		if !ok {
			continue
		}
		if f.max == 1 {
			if len(vals) > 1 {
				return nil, fmt.Errorf("xsdjson: %s: repeated, the schema allows one", join(path, f.elem.Name.Local))
			}
			out = append(out, kv{f.elem.Name.Local, vals[0]})
		} else {
			out = append(out, kv{f.elem.Name.Local, vals})
		}
	}
	if out == nil {
		out = ordered{}
	}
	return out, nil
}

func pathOr(p string) string {
	if p == "" {
		return "(document)"
	}
	return p
}
