package csd

import (
	"encoding/xml"
	"strings"
)

// Node is an element of a document that already passed its official
// schema, read without the generated types. The depository's messages
// nest their business fields five to eight optional levels deep; reading
// them through the generated pointers would need a nil check per level,
// while a path over the validated tree states plainly which element a
// field comes from, and a missing one is simply "".
type Node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Kids    []*Node    `xml:",any"`
}

// Get returns the first element at path, slash-separated local names
// below n ("FinInstrmId/ISIN"), or nil.
func (n *Node) Get(path string) *Node {
	if n == nil {
		return nil
	}
	if path == "" {
		return n
	}
	head, rest, _ := strings.Cut(path, "/")
	for _, k := range n.Kids {
		if k.XMLName.Local == head {
			if found := k.Get(rest); found != nil {
				return found
			}
		}
	}
	return nil
}

// All returns every element at path, in document order.
func (n *Node) All(path string) []*Node {
	if n == nil {
		return nil
	}
	if path == "" {
		return []*Node{n}
	}
	head, rest, _ := strings.Cut(path, "/")
	var out []*Node
	for _, k := range n.Kids {
		if k.XMLName.Local == head {
			out = append(out, k.All(rest)...)
		}
	}
	return out
}

// Find returns the first descendant named local (depth first), or nil:
// for a value whose exact position varies between choices of the schema
// (a quantity as Unit or FaceAmt, a date as Dt or DtTm).
func (n *Node) Find(local string) *Node {
	if n == nil {
		return nil
	}
	for _, k := range n.Kids {
		if k.XMLName.Local == local {
			return k
		}
		if found := k.Find(local); found != nil {
			return found
		}
	}
	return nil
}

// Value is the trimmed text of the element at path, "" when absent.
func (n *Node) Value(path string) string {
	if e := n.Get(path); e != nil {
		return strings.TrimSpace(e.Text)
	}
	return ""
}

// Attr is the value of the named attribute, "" when absent.
func (n *Node) Attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// First returns the first of paths that has a value.
func (n *Node) First(paths ...string) string {
	for _, p := range paths {
		if v := n.Value(p); v != "" {
			return v
		}
	}
	return ""
}

// ChildName is the local name of the first child element: what a choice
// chose (PrcgSts/Rjctd, SttlmSts/Pdg).
func (n *Node) ChildName() string {
	if n == nil || len(n.Kids) == 0 {
		return ""
	}
	return n.Kids[0].XMLName.Local
}
