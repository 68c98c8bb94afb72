// Package xsdjson derives a JSON form from an XML Schema element and maps
// between the two: JSON→XML in schema order with the schema's namespaces,
// XML→JSON, validation of JSON against the XSD's rules with errors naming
// the JSON path (persons[1].iin), and a JSON Schema of the JSON form for
// callers to generate clients from.
//
// The JSON form: element and attribute local names are keys (a type whose
// attribute and child element share a name is refused at load); an element
// that may repeat (maxOccurs > 1, or inside a repeating sequence/choice) is
// an array; simple content is under "value"; an xsi:type naming a type
// derived from the declared one is "@type" (its local name); a nil element
// (xsi:nil) is null. Simple types are JSON types: strings, integers and
// decimals as JSON numbers (kept as written, never through float64),
// booleans as JSON booleans, list types as arrays.
//
// The schema model is read here, not taken from gowsdl (a dependency of the
// module for code generation): gowsdl's XSD structs decode sequence and
// choice members into separate lists, losing their order within a content
// model, have no totalDigits, fractionDigits or exclusive bounds, and resolve
// no QName prefixes. Mapping needs all three, so this reader keeps the
// schema's element tree and resolves it with the prefixes in scope.
//
// Supported: sequence, choice, all (nested, with occurrence bounds),
// element refs, named groups and attribute groups, complexContent extension
// and restriction, simpleContent extension and restriction, attributes,
// simple type restriction chains, lists, unions (as strings), xsi:type,
// xsi:nil, elementFormDefault/attributeFormDefault and form, xs:import and
// xs:include resolved relative to the including file. Not supported: xs:any
// and mixed content (refused at load), substitution groups, identity
// constraints (left to the XSD validator).
package xsdjson

import (
	"encoding/xml"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// NSXSD is the namespace of XML Schema itself; NSXSI that of instance
// attributes (xsi:type, xsi:nil).
const (
	NSXSD = "http://www.w3.org/2001/XMLSchema"
	NSXSI = "http://www.w3.org/2001/XMLSchema-instance"
)

// node is one element of a schema document, with the prefixes in scope
// where it stands so QName attribute values (type, base, ref) resolve.
type node struct {
	name  string // local name in the XSD namespace
	attrs map[string]string
	kids  []*node
	ns    map[string]string
	doc   *schemaDoc
}

func (n *node) attr(k string) string { return n.attrs[k] }

func (n *node) children(local ...string) []*node {
	var out []*node
	for _, k := range n.kids {
		for _, l := range local {
			if k.name == l {
				out = append(out, k)
				break
			}
		}
	}
	return out
}

func (n *node) child(local string) *node {
	if c := n.children(local); len(c) > 0 {
		return c[0]
	}
	return nil
}

// qname resolves a QName-valued attribute; "" when absent.
func (n *node) qname(attr string) (QName, error) {
	v := strings.TrimSpace(n.attr(attr))
	if v == "" {
		return QName{}, nil
	}
	prefix, local, ok := strings.Cut(v, ":")
	if !ok {
		prefix, local = "", v
	}
	uri, known := n.ns[prefix]
	if !known && prefix != "" {
		return QName{}, fmt.Errorf("%s: %s=%q uses undeclared prefix %q", n.doc.file, attr, v, prefix)
	}
	return QName{uri, local}, nil
}

// QName is a namespace-qualified name.
type QName struct{ Space, Local string }

func (q QName) String() string {
	if q.Space == "" {
		return q.Local
	}
	return "{" + q.Space + "}" + q.Local
}

// ParseQName reads "{ns}local" or "local".
func ParseQName(s string) QName {
	if rest, ok := strings.CutPrefix(s, "{"); ok {
		if ns, local, ok := strings.Cut(rest, "}"); ok {
			return QName{ns, local}
		}
	}
	return QName{Local: s}
}

type schemaDoc struct {
	file               string
	target             string
	qualifiedElements  bool
	qualifiedAttribute bool
}

// Set is a loaded schema with everything it imports and includes.
type Set struct {
	fsys       fs.FS
	loaded     map[string]bool
	elements   map[QName]*node
	types      map[QName]*node
	groups     map[QName]*node
	attrGroups map[QName]*node
	attributes map[QName]*node

	resolved map[*node]*Type // named and anonymous types, resolved once
	simple   map[*node]*Simple
}

// LoadFile loads the schema at file and what it imports or includes, by
// locations relative to each including file.
func LoadFile(file string) (*Set, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Split(abs)
	return Load(os.DirFS(dir), base)
}

// Load loads the schema at file in fsys (imports relative to it, inside
// fsys).
func Load(fsys fs.FS, file string) (*Set, error) {
	s := &Set{fsys: fsys, loaded: map[string]bool{},
		elements: map[QName]*node{}, types: map[QName]*node{}, groups: map[QName]*node{},
		attrGroups: map[QName]*node{}, attributes: map[QName]*node{},
		resolved: map[*node]*Type{}, simple: map[*node]*Simple{}}
	if err := s.load(path.Clean(file), "", false); err != nil {
		return nil, err
	}
	return s, nil
}

// load reads one document; chameleon is the including document's target
// namespace for an include without one of its own.
func (s *Set) load(file, chameleon string, include bool) error {
	if s.loaded[file] {
		return nil
	}
	s.loaded[file] = true
	f, err := s.fsys.Open(file)
	if err != nil {
		return fmt.Errorf("xsdjson: %w", err)
	}
	defer f.Close()
	root, err := parse(f, file)
	if err != nil {
		return err
	}
	if root.name != "schema" {
		return fmt.Errorf("xsdjson: %s is not an XML Schema (root %s)", file, root.name)
	}
	d := root.doc
	d.target = root.attr("targetNamespace")
	if include && d.target == "" {
		d.target = chameleon
	}
	d.qualifiedElements = root.attr("elementFormDefault") == "qualified"
	d.qualifiedAttribute = root.attr("attributeFormDefault") == "qualified"
	dir := path.Dir(file)
	for _, k := range root.kids {
		q := QName{d.target, k.attr("name")}
		switch k.name {
		case "import", "include", "redefine":
			loc := k.attr("schemaLocation")
			if loc == "" {
				continue
			}
			if strings.Contains(loc, "://") {
				return fmt.Errorf("xsdjson: %s: remote schemaLocation %q: only local files are read", file, loc)
			}
			if err := s.load(path.Join(dir, loc), d.target, k.name != "import"); err != nil {
				return err
			}
		case "element":
			s.elements[q] = k
		case "complexType", "simpleType":
			s.types[q] = k
		case "group":
			s.groups[q] = k
		case "attributeGroup":
			s.attrGroups[q] = k
		case "attribute":
			s.attributes[q] = k
		}
	}
	return nil
}

func parse(r io.Reader, file string) (*node, error) {
	dec := xml.NewDecoder(r)
	doc := &schemaDoc{file: file}
	var stack []*node
	var root *node
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("xsdjson: %s: %w", file, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			// RawToken leaves the prefix in Space; checkXSD resolves it.
			raw := t.Name.Local
			if t.Name.Space != "" {
				raw = t.Name.Space + ":" + raw
			}
			n := &node{name: raw, attrs: map[string]string{}, doc: doc}
			parentNS := map[string]string{"xml": "http://www.w3.org/XML/1998/namespace"}
			if len(stack) > 0 {
				parentNS = stack[len(stack)-1].ns
			}
			n.ns = parentNS
			copied := false
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns":
					if !copied {
						n.ns = make(map[string]string, len(parentNS)+1)
						for k, v := range parentNS {
							n.ns[k] = v
						}
						copied = true
					}
					prefix := a.Name.Local
					if a.Name.Space == "" {
						prefix = ""
					}
					n.ns[prefix] = a.Value
				case a.Name.Space == "":
					n.attrs[a.Name.Local] = a.Value
				}
			}
			// Only XSD elements matter; annotations' content is skipped
			// with its parent by not being interpreted.
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		return nil, fmt.Errorf("xsdjson: %s: empty document", file)
	}
	// The element names above are raw; the schema's elements must be in
	// the XSD namespace under whatever prefix the document chose.
	if err := checkXSD(root); err != nil {
		return nil, fmt.Errorf("xsdjson: %s: %w", file, err)
	}
	return root, nil
}

// checkXSD makes sure the raw names were XSD names, stripping prefixes.
func checkXSD(n *node) error {
	prefix, local, ok := strings.Cut(n.name, ":")
	if !ok {
		prefix, local = "", n.name
	}
	if n.ns[prefix] != NSXSD {
		// Foreign elements (appinfo content) are ignored.
		n.name = "#foreign"
		n.kids = nil
		return nil
	}
	n.name = local
	if local == "annotation" {
		n.kids = nil
		return nil
	}
	for _, k := range n.kids {
		if err := checkXSD(k); err != nil {
			return err
		}
	}
	return nil
}

func occurs(n *node) (min, max int, err error) {
	min, max = 1, 1
	if v := n.attr("minOccurs"); v != "" {
		if min, err = strconv.Atoi(v); err != nil || min < 0 {
			return 0, 0, fmt.Errorf("%s: minOccurs=%q", n.doc.file, v)
		}
	}
	switch v := n.attr("maxOccurs"); v {
	case "":
	case "unbounded":
		max = Unbounded
	default:
		if max, err = strconv.Atoi(v); err != nil || max < 0 {
			return 0, 0, fmt.Errorf("%s: maxOccurs=%q", n.doc.file, v)
		}
	}
	return min, max, nil
}

// Unbounded is maxOccurs="unbounded".
const Unbounded = -1
