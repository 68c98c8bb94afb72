// Command gowsdlfix post-processes gowsdl v0.5.0 output so encoding/xml can
// actually read the messages the agencies send. It runs as the second
// go:generate step after gowsdl; the generated files are never edited by
// hand.
//
// gowsdl gives a struct an XMLName whenever a global element and a complex
// type meet, and it picks the type's namespace and sometimes the element's
// name (ErrorInfo becomes "common/v10/Types SendMessageFault1_SendMessageFault",
// GBD FL's repatriationStatus gets the dictionaries namespace). encoding/xml
// checks XMLName on every element decoded into the struct, so such a type
// fails wherever the schema uses it as a local element (subError) or the
// real namespace differs, and when the name clashes with the field's tag
// (person/repatriationStatus) encoding/xml refuses the enclosing type
// outright. Only the structs that really are top-level elements keep it.
//
// It also drops imports the template always writes but a types-only WSDL
// leaves unused ("context" when there are no operations), which would not
// compile.
//
// Usage: gowsdlfix [-keep Name,Name] file.go
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var (
	typeStart = regexp.MustCompile(`^type (\w+) struct \{`)
	xmlName   = regexp.MustCompile(`^\s*XMLName\s+xml\.Name\b`)
)

func main() {
	keep := flag.String("keep", "", "comma-separated struct names whose XMLName is a real top-level element")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gowsdlfix [-keep Name,Name] file.go")
		os.Exit(2)
	}
	if err := fix(flag.Arg(0), strings.Split(*keep, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "gowsdlfix:", err)
		os.Exit(1)
	}
}

func fix(path string, keep []string) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[strings.TrimSpace(k)] = true
	}
	var out bytes.Buffer
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := typeStart.FindStringSubmatch(line); m != nil {
			cur = m[1]
		} else if line == "}" {
			cur = ""
		}
		if cur != "" && !kept[cur] && xmlName.MatchString(line) {
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	formatted, err := dropUnusedImports(out.Bytes())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, formatted, 0o644)
}

func dropUnusedImports(src []byte) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.IMPORT {
			continue
		}
		specs := gd.Specs[:0]
		for _, s := range gd.Specs {
			is := s.(*ast.ImportSpec)
			p, _ := strconv.Unquote(is.Path.Value)
			name := p[strings.LastIndex(p, "/")+1:]
			if is.Name != nil {
				name = is.Name.Name
			}
			if used[name] || name == "_" {
				specs = append(specs, s)
			}
		}
		gd.Specs = specs
	}
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, f); err != nil {
		return nil, err
	}
	return format.Source(buf.Bytes())
}
