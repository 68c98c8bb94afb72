// Command share moves the ISO 20022 message components that several
// messages declare alike into one package, after gowsdl, typefix and
// gowsdlfix have generated each message's types on their own. It runs as
// the last go:generate step of contracts/iso20022/msg; the generated files
// are never edited by hand.
//
// gowsdl generates every type a schema uses into the message's package, so
// camt.053 and camt.054 each carry ReportEntry10 and the hundreds of types
// under it. As distinct Go types, code that reads or writes them has to be
// written once per message, though ISO 20022 names a component with its
// version (GroupHeader93, PartyIdentification135) and a same-named type is
// nearly always the same type.
//
// A type is shared when its declaration (with its enumeration constants)
// is the same text in every message that declares it and every type it
// refers to is shared too; that is a fixed point, as excluding a type can
// exclude those that refer to it. A type that differs anywhere stays in
// each message, with everything that refers to it. The roots, Document and
// AppHdr, are the messages themselves and always stay.
//
// Each message file keeps what is not shared, refers to the rest through
// the shared package, and the shared package is rewritten whole. The input
// must be gowsdl's full output: a file that already refers to the shared
// package is refused, since the components it lost would be missing from
// the comparison.
//
// Usage: share -o components.go -import path/of/components msg.go...
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// roots are the global elements of ISO 20022 schemas: a message's own.
var roots = map[string]bool{"Document": true, "AppHdr": true}

func main() {
	out := flag.String("o", "", "the shared package's generated file")
	imp := flag.String("import", "", "the shared package's import path")
	flag.Parse()
	if *out == "" || *imp == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: share -o components.go -import path/of/components msg.go...")
		os.Exit(2)
	}
	if err := run(*out, *imp, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "share:", err)
		os.Exit(1)
	}
}

// decl is one type of one message: its declaration and the enumeration
// constants gowsdl writes after it.
type decl struct {
	name     string
	isStruct bool
	spans    [][2]int // byte ranges in the file: the type, then its constants
	refs     []ref
	imports  map[string]bool // packages named through a selector (xml.Name)
}

// ref is a type's name where another type's declaration uses it.
type ref struct {
	name string
	at   int // byte offset in the file
}

type file struct {
	path    string
	src     []byte
	decls   map[string]*decl
	imports map[string]string // name → path
	rparen  int               // offset of the import block's ")"
}

func (d *decl) text(src []byte) string {
	var b strings.Builder
	for _, s := range d.spans {
		b.Write(src[s[0]:s[1]])
		b.WriteString("\n")
	}
	return b.String()
}

func run(out, imp string, paths []string) error {
	var files []*file
	for _, p := range paths {
		f, err := load(p, imp)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	shared := shareable(files)
	pkg := path.Base(imp)
	if err := writeShared(out, pkg, files, shared); err != nil {
		return err
	}
	for _, f := range files {
		if err := rewrite(f, pkg, imp, shared); err != nil {
			return err
		}
	}
	return nil
}

func load(p, imp string) (*file, error) {
	src, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, p, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	off := func(pos token.Pos) int { return fset.Position(pos).Offset }
	f := &file{path: p, src: src, decls: map[string]*decl{}, imports: map[string]string{}, rparen: -1}
	var consts []*ast.GenDecl
	for _, d := range af.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok {
			return nil, fmt.Errorf("%s: unexpected %T: not gowsdl's output", p, d)
		}
		switch g.Tok {
		case token.IMPORT:
			for _, s := range g.Specs {
				is := s.(*ast.ImportSpec)
				ip, _ := strconv.Unquote(is.Path.Value)
				if ip == imp {
					return nil, fmt.Errorf("%s already refers to %s: run gowsdl, typefix and gowsdlfix first", p, imp)
				}
				name := path.Base(ip)
				if is.Name != nil {
					name = is.Name.Name
				}
				f.imports[name] = ip
			}
			f.rparen = off(g.Rparen)
		case token.TYPE:
			if len(g.Specs) != 1 || g.Doc != nil {
				return nil, fmt.Errorf("%s:%d: a grouped or documented type declaration: not gowsdl's output", p, fset.Position(g.Pos()).Line)
			}
			ts := g.Specs[0].(*ast.TypeSpec)
			_, isStruct := ts.Type.(*ast.StructType)
			d := &decl{name: ts.Name.Name, isStruct: isStruct, spans: [][2]int{{off(g.Pos()), off(g.End())}}, imports: map[string]bool{}}
			typeRefs(ts.Type, d, off)
			f.decls[d.name] = d
		case token.CONST:
			consts = append(consts, g)
		}
	}
	if f.rparen < 0 {
		return nil, fmt.Errorf("%s has no import block", p)
	}
	for _, g := range consts {
		vs := g.Specs[0].(*ast.ValueSpec)
		id, ok := vs.Type.(*ast.Ident)
		if !ok || f.decls[id.Name] == nil {
			return nil, fmt.Errorf("%s:%d: constants of no type declared here", p, fset.Position(g.Pos()).Line)
		}
		d := f.decls[id.Name]
		d.spans = append(d.spans, [2]int{off(g.Pos()), off(g.End())})
	}
	for _, d := range f.decls {
		kept := d.refs[:0]
		for _, r := range d.refs {
			if f.decls[r.name] != nil {
				kept = append(kept, r)
			}
		}
		d.refs = kept
	}
	return f, nil
}

// typeRefs collects the identifiers a type expression names other types
// by; field names are not references.
func typeRefs(n ast.Node, d *decl, off func(token.Pos) int) {
	ast.Inspect(n, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			typeRefs(n.Type, d, off)
			return false
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok {
				d.imports[x.Name] = true
			}
			return false
		case *ast.Ident:
			d.refs = append(d.refs, ref{n.Name, off(n.Pos())})
		}
		return true
	})
}

// shareable is the largest set of types, roots excepted, declared alike
// wherever they are declared and referring only to each other.
func shareable(files []*file) map[string]bool {
	texts := map[string]map[string]bool{}
	for _, f := range files {
		for name, d := range f.decls {
			if texts[name] == nil {
				texts[name] = map[string]bool{}
			}
			texts[name][d.text(f.src)] = true
		}
	}
	shared := map[string]bool{}
	for name, t := range texts {
		if len(t) == 1 && !roots[name] {
			shared[name] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for _, f := range files {
			for name, d := range f.decls {
				if !shared[name] {
					continue
				}
				for _, r := range d.refs {
					if !shared[r.name] {
						delete(shared, name)
						changed = true
						break
					}
				}
			}
		}
	}
	return shared
}

func writeShared(out, pkg string, files []*file, shared map[string]bool) error {
	type entry struct {
		d *decl
		f *file
	}
	var entries []entry
	seen := map[string]bool{}
	imports := map[string]string{}
	for _, f := range files {
		for name, d := range f.decls {
			if !shared[name] || seen[name] {
				continue
			}
			seen[name] = true
			entries = append(entries, entry{d, f})
			for x := range d.imports {
				imports[x] = f.imports[x]
			}
		}
	}
	// gowsdl's order: simple types, then complex types, each by name.
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i].d, entries[j].d
		if a.isStruct != b.isStruct {
			return !a.isStruct
		}
		return a.name < b.name
	})
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by gowsdl and contracts/iso20022/share DO NOT EDIT.\n\npackage %s\n\n", pkg)
	if len(imports) > 0 {
		var paths []string
		for _, p := range imports {
			paths = append(paths, strconv.Quote(p))
		}
		sort.Strings(paths)
		fmt.Fprintf(&b, "import (\n%s\n)\n\n", strings.Join(paths, "\n"))
	}
	for _, e := range entries {
		for _, s := range e.d.spans {
			b.Write(e.f.src[s[0]:s[1]])
			b.WriteString("\n\n")
		}
	}
	return writeGo(out, b.Bytes())
}

// rewrite drops the shared types from a message's file and qualifies the
// references to them that remain.
func rewrite(f *file, pkg, imp string, shared map[string]bool) error {
	type edit struct {
		at, end int
		text    string
	}
	edits := []edit{{f.rparen, f.rparen, "\n" + strconv.Quote(imp) + "\n"}}
	for name, d := range f.decls {
		if shared[name] {
			for _, s := range d.spans {
				edits = append(edits, edit{s[0], s[1], ""})
			}
			continue
		}
		for _, r := range d.refs {
			if shared[r.name] {
				edits = append(edits, edit{r.at, r.at, pkg + "."})
			}
		}
	}
	sort.Slice(edits, func(i, j int) bool { return edits[i].at > edits[j].at })
	src := append([]byte(nil), f.src...)
	for _, e := range edits {
		src = append(src[:e.at], append([]byte(e.text), src[e.end:]...)...)
	}
	return writeGo(f.path, src)
}

func writeGo(p string, src []byte) error {
	out, err := format.Source(src)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return os.WriteFile(p, out, 0o644)
}
