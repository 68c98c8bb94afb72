package xsdjson

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Simple is a simple type: a built-in primitive and the facets of its
// restriction chain.
type Simple struct {
	Builtin string // the XSD built-in it derives from, e.g. "string", "int"
	Kind    Kind
	List    *Simple // a list type's item type

	Enum                                       []string
	Patterns                                   []*regexp.Regexp // all must match (one per derivation step)
	patternSrc                                 []string
	Length, MinLength, MaxLength               *int
	MinInc, MaxInc, MinExc, MaxExc             *big.Rat
	minIncSrc, maxIncSrc, minExcSrc, maxExcSrc string
	TotalDigits, FractionDigits                *int
}

// Kind is the JSON type of a simple value.
type Kind int

const (
	KindString Kind = iota
	KindInteger
	KindNumber
	KindBoolean
)

var integerBounds = map[string][2]string{
	"long": {"-9223372036854775808", "9223372036854775807"}, "int": {"-2147483648", "2147483647"},
	"short": {"-32768", "32767"}, "byte": {"-128", "127"},
	"unsignedLong": {"0", "18446744073709551615"}, "unsignedInt": {"0", "4294967295"},
	"unsignedShort": {"0", "65535"}, "unsignedByte": {"0", "255"},
	"nonNegativeInteger": {"0", ""}, "positiveInteger": {"1", ""},
	"nonPositiveInteger": {"", "0"}, "negativeInteger": {"", "-1"}, "integer": {"", ""},
}

var stringTypes = map[string]bool{
	"string": true, "normalizedString": true, "token": true, "language": true, "Name": true,
	"NCName": true, "ID": true, "IDREF": true, "ENTITY": true, "NMTOKEN": true, "anyURI": true,
	"base64Binary": true, "hexBinary": true, "QName": true, "NOTATION": true,
	"date": true, "dateTime": true, "time": true, "duration": true, "gYear": true,
	"gYearMonth": true, "gMonth": true, "gMonthDay": true, "gDay": true, "anySimpleType": true,
}

// builtin is the Simple of an XSD built-in type, nil if unknown.
func builtin(local string) *Simple {
	switch {
	case stringTypes[local]:
		return &Simple{Builtin: local, Kind: KindString}
	case local == "boolean":
		return &Simple{Builtin: local, Kind: KindBoolean}
	case local == "decimal" || local == "float" || local == "double":
		return &Simple{Builtin: local, Kind: KindNumber}
	case local == "IDREFS" || local == "ENTITIES" || local == "NMTOKENS":
		return &Simple{Builtin: local, Kind: KindString, List: &Simple{Builtin: "token", Kind: KindString}}
	}
	b, ok := integerBounds[local]
	if !ok {
		return nil
	}
	s := &Simple{Builtin: local, Kind: KindInteger}
	if b[0] != "" {
		s.MinInc, s.minIncSrc = rat(b[0]), b[0]
	}
	if b[1] != "" {
		s.MaxInc, s.maxIncSrc = rat(b[1]), b[1]
	}
	return s
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil
	}
	return r
}

func (s *Set) simpleType(n *node) (*Simple, error) {
	if st := s.simple[n]; st != nil {
		return st, nil
	}
	var st *Simple
	var err error
	switch {
	case n.child("restriction") != nil:
		r := n.child("restriction")
		var base *Simple
		if bq, err := r.qname("base"); err != nil {
			return nil, err
		} else if bq.Local != "" {
			t, err := s.namedType(bq, r)
			if err != nil {
				return nil, err
			}
			if t.Simple == nil {
				return nil, fmt.Errorf("xsdjson: %s: simple type restricting complex %s", n.doc.file, bq)
			}
			base = t.Simple
		} else if c := r.child("simpleType"); c != nil {
			if base, err = s.simpleType(c); err != nil {
				return nil, err
			}
		} else {
			return nil, fmt.Errorf("xsdjson: %s: restriction without base", n.doc.file)
		}
		st, err = s.restrict(base, r)
	case n.child("list") != nil:
		l := n.child("list")
		var item *Simple
		if iq, err := l.qname("itemType"); err != nil {
			return nil, err
		} else if iq.Local != "" {
			t, err := s.namedType(iq, l)
			if err != nil {
				return nil, err
			}
			item = t.Simple
		} else if c := l.child("simpleType"); c != nil {
			if item, err = s.simpleType(c); err != nil {
				return nil, err
			}
		}
		if item == nil {
			return nil, fmt.Errorf("xsdjson: %s: list without an item type", n.doc.file)
		}
		st = &Simple{Builtin: "list", Kind: KindString, List: item}
	case n.child("union") != nil:
		// A union's members may be of any kind; its JSON form is the
		// lexical string, checked by the XSD validator.
		st = &Simple{Builtin: "union", Kind: KindString}
	default:
		return nil, fmt.Errorf("xsdjson: %s: simpleType without restriction, list or union", n.doc.file)
	}
	if err != nil {
		return nil, err
	}
	s.simple[n] = st
	return st, nil
}

// restrict applies the facets under r to a copy of base.
func (s *Set) restrict(base *Simple, r *node) (*Simple, error) {
	st := *base
	st.Enum = nil
	st.Patterns = append([]*regexp.Regexp{}, base.Patterns...)
	st.patternSrc = append([]string{}, base.patternSrc...)
	var pats []string
	for _, f := range r.kids {
		v := f.attr("value")
		bad := func() error {
			return fmt.Errorf("xsdjson: %s: facet %s=%q", r.doc.file, f.name, v)
		}
		num := func() (*big.Rat, error) {
			x := rat(v)
			if x == nil {
				return nil, bad()
			}
			return x, nil
		}
		count := func() (*int, error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, bad()
			}
			return &n, nil
		}
		var err error
		switch f.name {
		case "enumeration":
			st.Enum = append(st.Enum, v)
		case "pattern":
			pats = append(pats, v)
		case "length":
			st.Length, err = count()
		case "minLength":
			st.MinLength, err = count()
		case "maxLength":
			st.MaxLength, err = count()
		case "totalDigits":
			st.TotalDigits, err = count()
		case "fractionDigits":
			st.FractionDigits, err = count()
		case "minInclusive", "maxInclusive", "minExclusive", "maxExclusive":
			if st.Kind == KindString {
				// Date and time bounds: left to the XSD validator.
				continue
			}
			var x *big.Rat
			if x, err = num(); err == nil {
				switch f.name {
				case "minInclusive":
					st.MinInc, st.minIncSrc = x, v
				case "maxInclusive":
					st.MaxInc, st.maxIncSrc = x, v
				case "minExclusive":
					st.MinExc, st.minExcSrc = x, v
				case "maxExclusive":
					st.MaxExc, st.maxExcSrc = x, v
				}
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if len(pats) > 0 {
		// Patterns of one step are alternatives; each step must hold.
		src := strings.Join(pats, "|")
		re, err := compilePattern(pats)
		if err != nil {
			return nil, fmt.Errorf("xsdjson: %s: pattern %q: %w", r.doc.file, src, err)
		}
		st.Patterns = append(st.Patterns, re)
		st.patternSrc = append(st.patternSrc, src)
	}
	if st.FractionDigits != nil && *st.FractionDigits == 0 && st.Kind == KindNumber && st.Builtin == "decimal" {
		st.Kind = KindInteger
	}
	return &st, nil
}

// compilePattern turns XSD regular expressions (implicitly anchored) into
// one Go regexp. The common subset is the same; XSD's \i and \c name
// classes and character class subtraction are not, and are refused.
func compilePattern(pats []string) (*regexp.Regexp, error) {
	alts := make([]string, len(pats))
	for i, p := range pats {
		if strings.Contains(p, `\i`) || strings.Contains(p, `\c`) || strings.Contains(p, "-[") {
			return nil, fmt.Errorf("uses an XSD-only construct (\\i, \\c or class subtraction)")
		}
		alts[i] = "(?:" + p + ")"
	}
	return regexp.Compile("^(?:" + strings.Join(alts, "|") + ")$")
}

// lexical turns a JSON value into the XML text of s, or says what is
// wrong with it.
func (s *Simple) lexical(v any) (string, string) {
	if s.List != nil {
		arr, ok := v.([]any)
		if !ok {
			return "", "must be an array"
		}
		parts := make([]string, len(arr))
		for i, it := range arr {
			t, msg := s.List.lexical(it)
			if msg != "" {
				return "", fmt.Sprintf("item %d %s", i, msg)
			}
			parts[i] = t
		}
		text := strings.Join(parts, " ")
		return text, s.checkLength(len(arr))
	}
	var text string
	switch s.Kind {
	case KindString:
		str, ok := v.(string)
		if !ok {
			return "", "must be a string"
		}
		text = str
		if msg := s.checkFormat(text); msg != "" {
			return "", msg
		}
	case KindBoolean:
		b, ok := v.(bool)
		if !ok {
			return "", "must be true or false"
		}
		text = strconv.FormatBool(b)
	case KindInteger, KindNumber:
		n, ok := v.(json.Number)
		if !ok {
			if s.Kind == KindInteger {
				return "", "must be an integer"
			}
			return "", "must be a number"
		}
		text = string(n)
		if s.Kind == KindInteger && strings.ContainsAny(text, ".eE") {
			return "", "must be an integer"
		}
	}
	return text, s.checkFacets(text)
}

// checkFormat is the lexical check of the date and time built-ins, for a
// message that names the field; the XSD validator checks the rest.
func (s *Simple) checkFormat(text string) string {
	layouts := map[string][]string{
		"date":     {"2006-01-02", "2006-01-02Z07:00"},
		"dateTime": {"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"},
	}[s.Builtin]
	if layouts == nil {
		return ""
	}
	for _, l := range layouts {
		if _, err := time.Parse(l, text); err == nil {
			return ""
		}
	}
	if s.Builtin == "date" {
		return "must be a date, YYYY-MM-DD"
	}
	return "must be a date and time, YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm]"
}

func (s *Simple) checkLength(n int) string {
	switch {
	case s.Length != nil && n != *s.Length:
		return fmt.Sprintf("must be exactly %d long", *s.Length)
	case s.MinLength != nil && n < *s.MinLength:
		return fmt.Sprintf("must be at least %d long", *s.MinLength)
	case s.MaxLength != nil && n > *s.MaxLength:
		return fmt.Sprintf("must be at most %d long", *s.MaxLength)
	}
	return ""
}

// checkFacets checks a lexical value against the facets.
func (s *Simple) checkFacets(text string) string {
	if s.Kind == KindString {
		if msg := s.checkLength(utf8.RuneCountInString(text)); msg != "" {
			return msg + " (characters)"
		}
	}
	for i, re := range s.Patterns {
		if !re.MatchString(text) {
			return fmt.Sprintf("must match the pattern %s", s.patternSrc[i])
		}
	}
	if len(s.Enum) > 0 {
		ok := false
		for _, e := range s.Enum {
			ok = ok || e == text
		}
		if !ok {
			return fmt.Sprintf("must be one of %s", strings.Join(s.Enum, ", "))
		}
	}
	if s.Kind == KindInteger || s.Kind == KindNumber {
		x, ok := new(big.Rat).SetString(text)
		if !ok {
			return "must be a number"
		}
		switch {
		case s.MinInc != nil && x.Cmp(s.MinInc) < 0:
			return "must be at least " + s.minIncSrc
		case s.MaxInc != nil && x.Cmp(s.MaxInc) > 0:
			return "must be at most " + s.maxIncSrc
		case s.MinExc != nil && x.Cmp(s.MinExc) <= 0:
			return "must be more than " + s.minExcSrc
		case s.MaxExc != nil && x.Cmp(s.MaxExc) >= 0:
			return "must be less than " + s.maxExcSrc
		}
		if s.TotalDigits != nil || s.FractionDigits != nil {
			intPart, frac := digits(text)
			if s.FractionDigits != nil && len(frac) > *s.FractionDigits {
				return fmt.Sprintf("must have at most %d digits after the decimal point", *s.FractionDigits)
			}
			if s.TotalDigits != nil && len(intPart)+len(frac) > *s.TotalDigits {
				return fmt.Sprintf("must have at most %d digits in all", *s.TotalDigits)
			}
		}
	}
	return ""
}

// digits splits a decimal's significant digits around the point (no
// exponent: JSON numbers with one are written out by big.Rat first).
func digits(text string) (string, string) {
	if strings.ContainsAny(text, "eE") {
		if r, ok := new(big.Rat).SetString(text); ok {
			text = r.FloatString(40)
		}
	}
	text = strings.TrimLeft(text, "+-")
	i, f, _ := strings.Cut(text, ".")
	return strings.TrimLeft(i, "0"), strings.TrimRight(f, "0")
}

// jsonValue turns XML text of s into its JSON value.
func (s *Simple) jsonValue(text string) (any, error) {
	if s.List != nil {
		var out []any
		for _, it := range strings.Fields(text) {
			v, err := s.List.jsonValue(it)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	switch s.Kind {
	case KindBoolean:
		switch strings.TrimSpace(text) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", text)
	case KindInteger, KindNumber:
		t := strings.TrimSpace(text)
		switch t {
		case "INF", "-INF", "NaN":
			// JSON has no such numbers; the lexical form is kept.
			return t, nil
		}
		t = strings.TrimPrefix(t, "+")
		neg := strings.HasPrefix(t, "-")
		t = strings.TrimPrefix(t, "-")
		// XSD allows "007", ".5" and "5."; JSON does not.
		i, f, _ := strings.Cut(t, ".")
		if i = strings.TrimLeft(i, "0"); i == "" {
			i = "0"
		}
		t = i
		if f != "" {
			t += "." + f
		}
		if neg {
			t = "-" + t
		}
		if !json.Valid([]byte(t)) {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return json.Number(t), nil
	}
	return text, nil
}
