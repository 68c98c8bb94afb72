// Command typefix makes gowsdl v0.5.0's Go types for the ISO 20022 schemas
// round-trip through encoding/xml without losing or inventing data. It runs
// between gowsdl and gowsdlfix in the go:generate steps of
// contracts/iso20022/msg (before share), and of contracts/kase/kasetypes,
// whose decimals and dates have the same problems; the generated files are
// never edited by hand.
//
// It rewrites three things gowsdl gets wrong for these schemas:
//
//   - xs:decimal simple types (every amount, rate and count) become float64.
//     A float cannot hold 0.1 exactly, and encoding/xml formats 1000000 as
//     "1e+06", which is not an xs:decimal: the payment system would reject
//     the message and a received amount could change on the way in. They
//     become string, carrying the lexical value as sent.
//   - ISODate, ISODateTime and ISOTime become defined types over
//     soap.XSDDate and friends. A defined type does not inherit the
//     MarshalXML/UnmarshalXML methods of its underlying struct, so the value
//     is written as an empty element and never read. They become string.
//   - xs:gYearMonth (camt ISOYearMonth) becomes a pointer to an undefined
//     GYearMonth type, which does not compile; it becomes string.
//   - an element with a numeric maxOccurs above 1 (RgltryRptg: 10, AdrLine:
//     7…) becomes a single pointer, as gowsdl only knows "unbounded": a
//     second occurrence cannot be written and overwrites the first when
//     read. With -xsd, such fields become slices.
//   - SupplementaryDataEnvelope1 (xs:any) becomes []string with ",any",
//     which keeps only character data; it becomes the raw inner XML.
//
// Usage: typefix [-xsd schema.xsd] file.go
package main

import (
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

var rewrites = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`(?m)^type (\w+) float64$`), "type $1 string"},
	{regexp.MustCompile(`(?m)^type (\w+) soap\.XSD(Date|DateTime|Time)$`), "type $1 string"},
	{regexp.MustCompile(`(?m)^type (\w+) \*G(Year|YearMonth|Month|MonthDay|Day)$`), "type $1 string"},
	{regexp.MustCompile("(?m)^(\\s+)Items \\[\\]string `xml:\",any\" json:\"items,omitempty\"`$"), "${1}InnerXML string `xml:\",innerxml\" json:\"-\"`"},
}

func main() {
	schema := flag.String("xsd", "", "the schema the file was generated from, to find repeated elements")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: typefix [-xsd schema.xsd] file.go")
		os.Exit(2)
	}
	path := flag.Arg(0)
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "typefix:", err)
		os.Exit(1)
	}
	for _, r := range rewrites {
		src = r.re.ReplaceAll(src, []byte(r.repl))
	}
	if *schema != "" {
		if src, err = repeatFields(src, *schema); err != nil {
			fmt.Fprintln(os.Stderr, "typefix:", err)
			os.Exit(1)
		}
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "typefix:", err)
		os.Exit(1)
	}
}

// repeatFields turns the field of every element declared with a numeric
// maxOccurs above 1 into a slice, in the struct of its complex type.
func repeatFields(src []byte, schemaPath string) ([]byte, error) {
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		return nil, err
	}
	type repeated struct{ typ, elem string }
	var reps []repeated
	d := xml.NewDecoder(strings.NewReader(string(raw)))
	depth, typ := 0, ""
	for {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			attr := func(n string) string {
				for _, a := range t.Attr {
					if a.Name.Local == n {
						return a.Value
					}
				}
				return ""
			}
			if depth == 2 && t.Name.Local == "complexType" {
				typ = attr("name")
			}
			if depth > 2 && typ != "" && t.Name.Local == "element" {
				if n, err := strconv.Atoi(attr("maxOccurs")); err == nil && n > 1 {
					reps = append(reps, repeated{typ, attr("name")})
				}
			}
		case xml.EndElement:
			if depth == 2 {
				typ = ""
			}
			depth--
		}
	}
	lines := strings.Split(string(src), "\n")
	structAt := map[string]int{}
	for i, l := range lines {
		if m := typeStart.FindStringSubmatch(l); m != nil {
			structAt[m[1]] = i
		}
	}
	for _, r := range reps {
		start, ok := structAt[r.typ]
		if !ok {
			return nil, fmt.Errorf("no struct %s for %s/%s", r.typ, r.typ, r.elem)
		}
		found := false
		for i := start + 1; i < len(lines) && lines[i] != "}" && !found; i++ {
			f := strings.Fields(lines[i])
			if len(f) < 2 || f[0] != r.elem {
				continue
			}
			if strings.HasPrefix(f[1], "*") {
				lines[i] = strings.Replace(lines[i], " *", " []*", 1)
			}
			found = true
		}
		if !found {
			return nil, fmt.Errorf("struct %s has no field %s", r.typ, r.elem)
		}
	}
	return []byte(strings.Join(lines, "\n")), nil
}

var typeStart = regexp.MustCompile(`^type (\w+) struct \{`)
