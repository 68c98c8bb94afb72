package xsdjson

import (
	"fmt"
	"sort"
)

// Type is a resolved complex or simple type.
type Type struct {
	Name   QName   // zero for an anonymous type
	Simple *Simple // set for a simple type: the element's content is a JSON scalar
	// Complex types:
	Attrs    []*Attr
	Content  *Particle // nil: no child elements
	Text     *Simple   // simpleContent: the text, under "value"
	Base     *Type     // the type extended or restricted, if named
	Abstract bool

	fields   []*field // child elements flattened, in schema order
	byName   map[string]*field
	choices  []*choice
	resolved bool
}

// Particle is a piece of a content model.
type Particle struct {
	Kind     string // element, sequence, choice, all
	Min, Max int
	Elem     *Elem
	Items    []*Particle
}

// Elem is an element declaration as used in a content model.
type Elem struct {
	Name     QName
	Type     *Type
	Nillable bool
	decl     *node
}

// Attr is an attribute declaration.
type Attr struct {
	Name     QName
	Type     *Simple
	Required bool
	Fixed    string
}

// field is one JSON key of a complex type: a child element with its
// effective occurrence bounds (an element in a choice or an optional or
// repeating group is optional, or repeating, itself).
type field struct {
	elem     *Elem
	min, max int
}

// choice is a choice group: at most one of its members appears (per
// occurrence), at least one when required.
type choice struct {
	members  []string
	required bool
}

// Element is a global element, ready for mapping.
type Element struct {
	Elem
	set *Set
}

// Element resolves a global element by "{ns}local" (or "local" in no
// namespace).
func (s *Set) Element(qname string) (*Element, error) {
	q := ParseQName(qname)
	n := s.elements[q]
	if n == nil {
		var known []string
		for k := range s.elements {
			known = append(known, k.String())
		}
		sort.Strings(known)
		return nil, fmt.Errorf("xsdjson: no global element %s (the schema declares %v)", q, known)
	}
	e, err := s.elem(n, true)
	if err != nil {
		return nil, err
	}
	return &Element{Elem: *e, set: s}, nil
}

// elem resolves an element declaration (local or global, or a ref).
func (s *Set) elem(n *node, global bool) (*Elem, error) {
	if ref, err := n.qname("ref"); err != nil {
		return nil, err
	} else if ref.Local != "" {
		g := s.elements[ref]
		if g == nil {
			return nil, fmt.Errorf("xsdjson: %s: element ref %s not declared", n.doc.file, ref)
		}
		return s.elem(g, true)
	}
	e := &Elem{Nillable: n.attr("nillable") == "true", decl: n}
	e.Name.Local = n.attr("name")
	qualified := n.doc.qualifiedElements
	if f := n.attr("form"); f != "" {
		qualified = f == "qualified"
	}
	if global || qualified {
		e.Name.Space = n.doc.target
	}
	t, err := s.typeOf(n)
	if err != nil {
		return nil, err
	}
	e.Type = t
	return e, nil
}

// typeOf is the type an element declaration gives: type="…", an inline
// type, or anyType's stand-in, a string.
func (s *Set) typeOf(n *node) (*Type, error) {
	q, err := n.qname("type")
	if err != nil {
		return nil, err
	}
	if q.Local != "" {
		return s.namedType(q, n)
	}
	if c := n.child("complexType"); c != nil {
		return s.complexType(c, QName{})
	}
	if c := n.child("simpleType"); c != nil {
		st, err := s.simpleType(c)
		if err != nil {
			return nil, err
		}
		return &Type{Simple: st, resolved: true}, nil
	}
	return &Type{Simple: builtin("string"), resolved: true}, nil
}

func (s *Set) namedType(q QName, from *node) (*Type, error) {
	if q.Space == NSXSD {
		if q.Local == "anyType" {
			return nil, fmt.Errorf("xsdjson: %s: xs:anyType content is not mapped", from.doc.file)
		}
		b := builtin(q.Local)
		if b == nil {
			return nil, fmt.Errorf("xsdjson: %s: unknown built-in type xs:%s", from.doc.file, q.Local)
		}
		return &Type{Name: q, Simple: b, resolved: true}, nil
	}
	n := s.types[q]
	if n == nil {
		return nil, fmt.Errorf("xsdjson: %s: type %s not declared", from.doc.file, q)
	}
	if t := s.resolved[n]; t != nil {
		return t, nil
	}
	if n.name == "simpleType" {
		st, err := s.simpleType(n)
		if err != nil {
			return nil, err
		}
		t := &Type{Name: q, Simple: st, resolved: true}
		s.resolved[n] = t
		return t, nil
	}
	return s.complexType(n, q)
}

// complexType resolves a complex type; a named one is registered before
// its content so recursive types terminate.
func (s *Set) complexType(n *node, name QName) (*Type, error) {
	if t := s.resolved[n]; t != nil {
		return t, nil
	}
	t := &Type{Name: name, Abstract: n.attr("abstract") == "true"}
	s.resolved[n] = t
	if n.attr("mixed") == "true" {
		return nil, fmt.Errorf("xsdjson: %s: mixed content (type %s) is not mapped", n.doc.file, name)
	}
	body := n
	switch {
	case n.child("complexContent") != nil:
		cc := n.child("complexContent")
		if cc.attr("mixed") == "true" {
			return nil, fmt.Errorf("xsdjson: %s: mixed content (type %s) is not mapped", n.doc.file, name)
		}
		der := cc.child("extension")
		if der == nil {
			der = cc.child("restriction")
		}
		if der == nil {
			return nil, fmt.Errorf("xsdjson: %s: complexContent without extension or restriction", n.doc.file)
		}
		bq, err := der.qname("base")
		if err != nil {
			return nil, err
		}
		base, err := s.namedType(bq, der)
		if err != nil {
			return nil, err
		}
		if base.Simple != nil {
			return nil, fmt.Errorf("xsdjson: %s: complexContent of simple type %s", n.doc.file, bq)
		}
		t.Base = base
		own, err := s.particleOf(der)
		if err != nil {
			return nil, err
		}
		attrs, err := s.attrsOf(der)
		if err != nil {
			return nil, err
		}
		if der.name == "extension" {
			t.Attrs = append(append([]*Attr{}, base.Attrs...), attrs...)
			switch {
			case base.Content == nil:
				t.Content = own
			case own == nil:
				t.Content = base.Content
			default:
				t.Content = &Particle{Kind: "sequence", Min: 1, Max: 1, Items: []*Particle{base.Content, own}}
			}
		} else {
			// A restriction restates the content it keeps.
			t.Content = own
			t.Attrs = mergeAttrs(base.Attrs, attrs)
		}
		return t, nil
	case n.child("simpleContent") != nil:
		sc := n.child("simpleContent")
		der := sc.child("extension")
		if der == nil {
			der = sc.child("restriction")
		}
		if der == nil {
			return nil, fmt.Errorf("xsdjson: %s: simpleContent without extension or restriction", n.doc.file)
		}
		bq, err := der.qname("base")
		if err != nil {
			return nil, err
		}
		base, err := s.namedType(bq, der)
		if err != nil {
			return nil, err
		}
		attrs, err := s.attrsOf(der)
		if err != nil {
			return nil, err
		}
		if base.Simple != nil {
			t.Text = base.Simple
		} else {
			t.Text = base.Text
			t.Base = base
		}
		if t.Text == nil {
			return nil, fmt.Errorf("xsdjson: %s: simpleContent base %s has no simple content", n.doc.file, bq)
		}
		if der.name == "restriction" {
			st, err := s.restrict(t.Text, der)
			if err != nil {
				return nil, err
			}
			t.Text = st
			t.Attrs = mergeAttrs(base.Attrs, attrs)
		} else {
			t.Attrs = append(append([]*Attr{}, base.Attrs...), attrs...)
		}
		return t, nil
	}
	var err error
	if t.Content, err = s.particleOf(body); err != nil {
		return nil, err
	}
	if t.Attrs, err = s.attrsOf(body); err != nil {
		return nil, err
	}
	return t, nil
}

func mergeAttrs(base, own []*Attr) []*Attr {
	out := append([]*Attr{}, own...)
	for _, b := range base {
		found := false
		for _, o := range own {
			found = found || o.Name == b.Name
		}
		if !found {
			out = append(out, b)
		}
	}
	return out
}

// particleOf is the content model directly under n (a complexType or a
// derivation), nil when it has none.
func (s *Set) particleOf(n *node) (*Particle, error) {
	for _, k := range n.kids {
		switch k.name {
		case "sequence", "choice", "all", "group":
			return s.particle(k)
		case "any":
			return nil, fmt.Errorf("xsdjson: %s: xs:any is not mapped", n.doc.file)
		}
	}
	return nil, nil
}

func (s *Set) particle(n *node) (*Particle, error) {
	min, max, err := occurs(n)
	if err != nil {
		return nil, err
	}
	p := &Particle{Kind: n.name, Min: min, Max: max}
	switch n.name {
	case "element":
		if p.Elem, err = s.elem(n, false); err != nil {
			return nil, err
		}
	case "group":
		ref, err := n.qname("ref")
		if err != nil {
			return nil, err
		}
		g := s.groups[ref]
		if g == nil {
			return nil, fmt.Errorf("xsdjson: %s: group %s not declared", n.doc.file, ref)
		}
		inner, err := s.particleOf(g)
		if err != nil || inner == nil {
			return nil, err
		}
		q := *inner
		q.Min, q.Max = min*inner.Min, mulMax(max, inner.Max)
		return &q, nil
	case "sequence", "choice", "all":
		for _, k := range n.kids {
			switch k.name {
			case "element", "sequence", "choice", "group":
				it, err := s.particle(k)
				if err != nil {
					return nil, err
				}
				if it != nil {
					p.Items = append(p.Items, it)
				}
			case "any":
				return nil, fmt.Errorf("xsdjson: %s: xs:any is not mapped", n.doc.file)
			}
		}
	}
	return p, nil
}

func mulMax(a, b int) int {
	if a == Unbounded || b == Unbounded {
		return Unbounded
	}
	return a * b
}

func (s *Set) attrsOf(n *node) ([]*Attr, error) {
	var out []*Attr
	for _, k := range n.kids {
		switch k.name {
		case "attribute":
			if k.attr("use") == "prohibited" {
				continue
			}
			a, err := s.attribute(k)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		case "attributeGroup":
			ref, err := k.qname("ref")
			if err != nil {
				return nil, err
			}
			g := s.attrGroups[ref]
			if g == nil {
				return nil, fmt.Errorf("xsdjson: %s: attributeGroup %s not declared", k.doc.file, ref)
			}
			more, err := s.attrsOf(g)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		case "anyAttribute":
			// Extra attributes are not part of the JSON form.
		}
	}
	return out, nil
}

func (s *Set) attribute(n *node) (*Attr, error) {
	a := &Attr{Required: n.attr("use") == "required", Fixed: n.attr("fixed")}
	decl := n
	if ref, err := n.qname("ref"); err != nil {
		return nil, err
	} else if ref.Local != "" {
		decl = s.attributes[ref]
		if decl == nil {
			return nil, fmt.Errorf("xsdjson: %s: attribute ref %s not declared", n.doc.file, ref)
		}
		a.Name = ref
	} else {
		a.Name.Local = n.attr("name")
		qualified := n.doc.qualifiedAttribute
		if f := n.attr("form"); f != "" {
			qualified = f == "qualified"
		}
		if qualified {
			a.Name.Space = n.doc.target
		}
	}
	if a.Fixed == "" {
		a.Fixed = decl.attr("fixed")
	}
	q, err := decl.qname("type")
	if err != nil {
		return nil, err
	}
	switch {
	case q.Local != "":
		t, err := s.namedType(q, decl)
		if err != nil {
			return nil, err
		}
		if t.Simple == nil {
			return nil, fmt.Errorf("xsdjson: %s: attribute %s of complex type", decl.doc.file, a.Name.Local)
		}
		a.Type = t.Simple
	case decl.child("simpleType") != nil:
		if a.Type, err = s.simpleType(decl.child("simpleType")); err != nil {
			return nil, err
		}
	default:
		a.Type = builtin("string")
	}
	return a, nil
}

// prepare flattens a complex type's content into its JSON fields.
func (t *Type) prepare() error {
	if t.resolved {
		return nil
	}
	t.resolved = true
	t.byName = map[string]*field{}
	if err := t.flatten(t.Content, 1, 1, false); err != nil {
		return err
	}
	for _, a := range t.Attrs {
		if t.byName[a.Name.Local] != nil || a.Name.Local == "value" && t.Text != nil {
			return fmt.Errorf("xsdjson: type %s: attribute %s has the name of a child element; the JSON form cannot tell them apart", t.Name, a.Name.Local)
		}
	}
	return nil
}

func (t *Type) flatten(p *Particle, min, max int, inChoice bool) error {
	if p == nil {
		return nil
	}
	min, max = min*p.Min, mulMax(max, p.Max)
	if inChoice {
		min = 0
	}
	switch p.Kind {
	case "element":
		name := p.Elem.Name.Local
		if f := t.byName[name]; f != nil {
			if f.elem.Name != p.Elem.Name || f.elem.Type != p.Elem.Type {
				return fmt.Errorf("xsdjson: type %s: two child elements named %s; the JSON form cannot tell them apart", t.Name, name)
			}
			// The same element twice in a model (base and extension,
			// choice branches): one field that may repeat.
			f.max = mulMax(f.max, 2)
			return nil
		}
		f := &field{elem: p.Elem, min: min, max: max}
		t.fields = append(t.fields, f)
		t.byName[name] = f
	case "choice":
		c := &choice{required: min > 0 && max == 1}
		for _, it := range p.Items {
			before := len(t.fields)
			if err := t.flatten(it, min, max, true); err != nil {
				return err
			}
			for _, f := range t.fields[before:] {
				c.members = append(c.members, f.elem.Name.Local)
			}
		}
		if max == 1 && len(c.members) > 1 {
			t.choices = append(t.choices, c)
		}
	default:
		for _, it := range p.Items {
			if err := t.flatten(it, min, max, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// derived lists the named complex types of the set derived from t, for
// xsi:type.
func (s *Set) derived(t *Type) ([]*Type, error) {
	if t.Name.Local == "" || t.Simple != nil {
		return nil, nil
	}
	var out []*Type
	names := make([]QName, 0, len(s.types))
	for q, n := range s.types {
		if n.name == "complexType" {
			names = append(names, q)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].String() < names[j].String() })
	for _, q := range names {
		d, err := s.namedType(q, s.types[q])
		if err != nil {
			return nil, err
		}
		for b := d.Base; b != nil; b = b.Base {
			if b == t {
				out = append(out, d)
				break
			}
		}
	}
	return out, nil
}

// typeByLocal finds a type of the set named by "@type": a local name, or
// {ns}local when local names collide.
func (s *Set) typeByLocal(name string, among []*Type) *Type {
	q := ParseQName(name)
	for _, t := range among {
		if t.Name == q || q.Space == "" && t.Name.Local == q.Local {
			return t
		}
	}
	return nil
}
