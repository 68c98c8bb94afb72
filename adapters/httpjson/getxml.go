package httpjson

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/safexml"
	"github.com/minfin-kz/kopir/internal/units"
)

// GetXMLOptions are the options of operation "get-xml": a GET whose path
// and query are filled from the caller's JSON, answered in XML that is
// turned into JSON. Reference data published over plain HTTP (the
// National Bank's rates) needs nothing more.
type GetXMLOptions struct {
	Headers map[string]string `yaml:"headers"`
	// Path is appended to the endpoint, e.g. /rss/get_rates.cfm; it may
	// hold placeholders (see Query).
	Path string `yaml:"path"`
	// Query parameters, each a template: literal text and placeholders
	// {{field}} or, for a date field, {{field:layout}} with a Go time
	// layout (02.01.2006 for DD.MM.YYYY). Values are URL-escaped.
	Query map[string]string `yaml:"query"`
	// Fields are the request's JSON keys; any other key is refused.
	Fields map[string]FieldSpec `yaml:"fields"`
	// UTCOffset is the zone "today" is taken in; default +05:00 (Astana).
	UTCOffset string `yaml:"utcOffset"`
	// MaxResponse caps the answer; default 1MiB.
	MaxResponse units.ByteSize `yaml:"maxResponse"`
	// Response maps the XML answer to JSON; without it every element
	// becomes a key (see genericJSON).
	Response *XMLMapping `yaml:"response"`
}

// FieldSpec is one key of the request.
type FieldSpec struct {
	// Type: date (YYYY-MM-DD), string or integer.
	Type string `yaml:"type"`
	// Default is used when the key is absent; "today" for a date. A field
	// without a default is required.
	Default string `yaml:"default"`
	// Pattern a string must match whole; MaxLength bounds it (default 100).
	Pattern   string `yaml:"pattern"`
	MaxLength int    `yaml:"maxLength"`
	// CurrentTTL, for a date field: an answer about today or a later day
	// may still change, so it is cached at most this long; answers about
	// past days keep the route's cacheTTL.
	CurrentTTL units.Duration `yaml:"currentTTL"`
}

// XMLMapping picks what the answer publishes from the XML document.
type XMLMapping struct {
	// Root is the document element's expected local name.
	Root string `yaml:"root"`
	// Fields are the JSON keys made from the root's children.
	Fields map[string]XMLField `yaml:"fields"`
}

// XMLField is one JSON key made from child elements.
type XMLField struct {
	// From is the child element's local name; default the key.
	From string `yaml:"from"`
	// Type of the element's text: string (default), decimal (kept as an
	// exact decimal string), integer (a JSON number) or date (re-written
	// YYYY-MM-DD from Layout).
	Type   string `yaml:"type"`
	Layout string `yaml:"layout"`
	// List takes every such child, as an array (possibly empty).
	List bool `yaml:"list"`
	// Fields make each element an object of its own children.
	Fields map[string]XMLField `yaml:"fields"`
	// Optional omits the key when the element is missing or empty;
	// otherwise that is the agency's fault, answered 502.
	Optional bool `yaml:"optional"`
}

type getXML struct {
	header      http.Header
	path        template
	query       map[string]template
	fields      map[string]*field
	zone        *time.Location
	maxResponse int64
	response    *XMLMapping
	clock       func() time.Time
}

type field struct {
	FieldSpec
	pattern *regexp.Regexp
}

// value is a request field after validation.
type value struct {
	text string    // as the caller wrote it (or the default)
	date time.Time // for a date field
}

func newGetXML(cfg adapters.AdapterConfig, res adapters.Resources) (*getXML, error) {
	var o GetXMLOptions
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("http: options: %w", err)
	}
	h, err := headers(o.Headers)
	if err != nil {
		return nil, err
	}
	h.Set("Accept", "application/xml, text/xml")
	g := &getXML{header: h, fields: map[string]*field{}, query: map[string]template{}, response: o.Response, maxResponse: 1 << 20}
	if o.MaxResponse > 0 {
		g.maxResponse = int64(o.MaxResponse)
	}
	g.zone = time.FixedZone("UTC+05:00", 5*3600)
	if o.UTCOffset != "" {
		t, err := time.Parse("-07:00", o.UTCOffset)
		if err != nil {
			return nil, fmt.Errorf("http: options.utcOffset: %q is not ±hh:mm", o.UTCOffset)
		}
		_, off := t.Zone()
		g.zone = time.FixedZone("UTC"+o.UTCOffset, off)
	}
	for name, spec := range o.Fields {
		f, err := compileField(name, spec)
		if err != nil {
			return nil, err
		}
		g.fields[name] = f
	}
	if !strings.HasPrefix(o.Path, "/") || strings.ContainsAny(o.Path, "?#") {
		return nil, fmt.Errorf("http: options.path: %q must begin with / and hold no query (use options.query)", o.Path)
	}
	if g.path, err = g.parseTemplate("path", o.Path); err != nil {
		return nil, err
	}
	for k, v := range o.Query {
		if k == "" {
			return nil, fmt.Errorf("http: options.query: empty parameter name")
		}
		if g.query[k], err = g.parseTemplate("query."+k, v); err != nil {
			return nil, err
		}
	}
	if o.Response != nil {
		if o.Response.Root == "" {
			return nil, fmt.Errorf("http: options.response.root: required")
		}
		if err := checkMapping("response.fields", o.Response.Fields); err != nil {
			return nil, err
		}
	}
	return g, nil
}

func compileField(name string, spec FieldSpec) (*field, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("http: options.fields.%s: %s", name, fmt.Sprintf(format, args...))
	}
	f := &field{FieldSpec: spec}
	switch spec.Type {
	case "date":
		if spec.Default != "" && spec.Default != "today" {
			if _, err := time.Parse(time.DateOnly, spec.Default); err != nil {
				return nil, bad("default %q is neither today nor YYYY-MM-DD", spec.Default)
			}
		}
		if spec.Pattern != "" || spec.MaxLength != 0 {
			return nil, bad("pattern and maxLength are for strings")
		}
	case "string":
		if f.MaxLength <= 0 {
			f.MaxLength = 100
		}
		if spec.Pattern != "" {
			re, err := regexp.Compile(`^(?:` + spec.Pattern + `)$`)
			if err != nil {
				return nil, bad("pattern: %v", err)
			}
			f.pattern = re
		}
	case "integer":
		if spec.Default != "" {
			if _, err := strconv.ParseInt(spec.Default, 10, 64); err != nil {
				return nil, bad("default %q is not an integer", spec.Default)
			}
		}
		if spec.Pattern != "" || spec.MaxLength != 0 {
			return nil, bad("pattern and maxLength are for strings")
		}
	default:
		return nil, bad("type %q is not date, string or integer", spec.Type)
	}
	if spec.CurrentTTL != 0 && (spec.Type != "date" || spec.CurrentTTL < 0) {
		return nil, bad("currentTTL is a positive duration, for a date")
	}
	return f, nil
}

func checkMapping(at string, fields map[string]XMLField) error {
	if len(fields) == 0 {
		return fmt.Errorf("http: options.%s: at least one field", at)
	}
	for k, f := range fields {
		where := at + "." + k
		switch f.Type {
		case "", "string", "decimal", "integer":
			if f.Layout != "" {
				return fmt.Errorf("http: options.%s: layout is for dates", where)
			}
		case "date":
			if f.Layout == "" {
				return fmt.Errorf("http: options.%s: a date needs the layout of its text, e.g. 02.01.2006", where)
			}
		default:
			return fmt.Errorf("http: options.%s: type %q is not string, decimal, integer or date", where, f.Type)
		}
		if f.Fields != nil {
			if f.Type != "" {
				return fmt.Errorf("http: options.%s: an element with fields is an object, it has no type", where)
			}
			if err := checkMapping(where+".fields", f.Fields); err != nil {
				return err
			}
		}
	}
	return nil
}

// template is literal text with placeholders, parsed once.
type template []part

type part struct {
	literal string
	field   string // a placeholder when set
	layout  string // for a date field
}

func (g *getXML) parseTemplate(at, s string) (template, error) {
	var t template
	for s != "" {
		open := strings.Index(s, "{{")
		if open < 0 {
			open = len(s)
		}
		lit := s[:open]
		if strings.Contains(lit, "}}") {
			return nil, fmt.Errorf("http: options.%s: }} without {{", at)
		}
		if lit != "" {
			t = append(t, part{literal: lit})
		}
		if open == len(s) {
			break
		}
		s = s[open+2:]
		end := strings.Index(s, "}}")
		if end < 0 {
			return nil, fmt.Errorf("http: options.%s: {{ without }}", at)
		}
		name, layout, _ := strings.Cut(s[:end], ":")
		f, ok := g.fields[name]
		if !ok {
			return nil, fmt.Errorf("http: options.%s: {{%s}} names no field of options.fields", at, name)
		}
		if layout != "" && f.Type != "date" {
			return nil, fmt.Errorf("http: options.%s: {{%s:%s}}: a layout is for date fields", at, name, layout)
		}
		if f.Type == "date" && layout == "" {
			layout = time.DateOnly
		}
		t = append(t, part{field: name, layout: layout})
		s = s[end+2:]
	}
	return t, nil
}

func (t template) fill(values map[string]value, escape func(string) string) string {
	var b strings.Builder
	for _, p := range t {
		switch {
		case p.field == "":
			b.WriteString(p.literal)
		case p.layout != "":
			b.WriteString(escape(values[p.field].date.Format(p.layout)))
		default:
			b.WriteString(escape(values[p.field].text))
		}
	}
	return b.String()
}

// parse validates the caller's JSON: only declared keys, each of its type,
// defaults for the absent ones.
func (g *getXML) parse(body []byte, now time.Time) (map[string]value, error) {
	raw := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, adapters.Invalid("", "the request is not a JSON object: %v", err)
		}
	}
	for k := range raw {
		if _, ok := g.fields[k]; !ok {
			return nil, adapters.Invalid(k, "unknown field; this route takes %s", strings.Join(slices.Sorted(maps.Keys(g.fields)), ", "))
		}
	}
	today := now.In(g.zone).Format(time.DateOnly)
	out := make(map[string]value, len(g.fields))
	for name, f := range g.fields {
		r, given := raw[name]
		var text string
		switch {
		case !given || string(r) == "null":
			if f.Default == "" {
				return nil, adapters.Invalid(name, "required")
			}
			text = f.Default
			if f.Type == "date" && text == "today" {
				text = today
			}
		case f.Type == "integer":
			var n json.Number // which would take "1" too: a number is not a string
			if err := json.Unmarshal(r, &n); err != nil || r[0] == '"' {
				return nil, adapters.Invalid(name, "must be an integer")
			}
			text = n.String()
		default:
			if err := json.Unmarshal(r, &text); err != nil {
				return nil, adapters.Invalid(name, "must be a string")
			}
		}
		v := value{text: text}
		switch f.Type {
		case "date":
			d, err := time.Parse(time.DateOnly, text)
			if err != nil {
				return nil, adapters.Invalid(name, "%q is not a date YYYY-MM-DD", text)
			}
			v.date = d
		case "integer":
			if _, err := strconv.ParseInt(text, 10, 64); err != nil {
				return nil, adapters.Invalid(name, "%s is not a whole number", text)
			}
		case "string":
			if len([]rune(text)) > f.MaxLength {
				return nil, adapters.Invalid(name, "longer than %d characters", f.MaxLength)
			}
			if f.pattern != nil && !f.pattern.MatchString(text) {
				return nil, adapters.Invalid(name, "%q does not match %s", text, f.Pattern)
			}
		}
		out[name] = v
	}
	return out, nil
}

// canonical is the request with its defaults filled in, keys sorted: one
// body, so one cache entry, for every way of asking the same thing.
func (g *getXML) canonical(values map[string]value) json.RawMessage {
	m := make(map[string]any, len(values))
	for k, v := range values {
		if g.fields[k].Type == "integer" {
			m[k] = json.Number(v.text)
		} else {
			m[k] = v.text
		}
	}
	b, _ := json.Marshal(m)
	return b
}

// Validate refuses a bad request before anything leaves the bus and fills
// in its defaults, "today" included: a caller asking for today's data
// without a date shares the cache entry of one naming the date.
func (g *getXML) Validate(_ context.Context, req *adapters.Request) error {
	values, err := g.parse(req.Body, g.now())
	if err != nil {
		return err
	}
	req.Body = g.canonical(values)
	return nil
}

func (g *getXML) Encode(_ context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	values, err := g.parse(req.Body, g.now())
	if err != nil {
		return nil, err
	}
	path := g.target(values)
	h := g.header.Clone()
	if req.CorrelationID != "" {
		h.Set("X-Correlation-Id", req.CorrelationID)
	}
	return &adapters.WireRequest{Method: http.MethodGet, Path: path, Header: h}, nil
}

// target is the path and query for values.
func (g *getXML) target(values map[string]value) string {
	path := g.path.fill(values, url.PathEscape)
	if len(g.query) > 0 {
		q := url.Values{}
		for k, t := range g.query {
			q.Set(k, t.fill(values, func(s string) string { return s }))
		}
		path += "?" + q.Encode()
	}
	return path
}

func (g *getXML) Decode(_ context.Context, req *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	if s := resp.StatusCode; s < 200 || s >= 300 {
		e := statusError(s)
		if values, err := g.parse(req.Body, g.now()); err == nil {
			e.Detail += " to GET " + g.target(values)
		}
		return nil, e
	}
	if int64(len(resp.Body)) > g.maxResponse {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: "RESPONSE_TOO_LARGE",
			Detail: fmt.Sprintf("endpoint answered %d bytes, more than this route's maxResponse %d", len(resp.Body), g.maxResponse)}
	}
	var root xmlNode
	if err := safexml.Decode(resp.Body, &root, safexml.Limits{MaxBytes: g.maxResponse}); err != nil {
		return nil, &adapters.Error{Status: http.StatusBadGateway, Code: "BAD_XML", Detail: "endpoint answered XML that is refused: " + err.Error()}
	}
	var out any
	if g.response == nil {
		out = map[string]any{root.XMLName.Local: genericJSON(&root)}
	} else {
		if root.XMLName.Local != g.response.Root {
			return nil, badAnswer("the document element is <%s>, not <%s>", root.XMLName.Local, g.response.Root)
		}
		obj, err := mapObject(&root, g.response.Fields, root.XMLName.Local)
		if err != nil {
			return nil, err
		}
		out = obj
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &adapters.Response{Body: body, CacheTTL: g.currentTTL(req)}, nil
}

// currentTTL is the shortest currentTTL of a date field naming today or a
// later day: those answers may still change.
func (g *getXML) currentTTL(req *adapters.Request) time.Duration {
	values, err := g.parse(req.Body, g.now())
	if err != nil {
		return 0
	}
	today := g.now().In(g.zone).Format(time.DateOnly)
	var ttl time.Duration
	for name, f := range g.fields {
		d := f.CurrentTTL.D()
		if d > 0 && values[name].text >= today && (ttl == 0 || d < ttl) {
			ttl = d
		}
	}
	return ttl
}

func (g *getXML) now() time.Time { return g.clock() }

// xmlNode is any element, for mapping by name.
type xmlNode struct {
	XMLName  xml.Name
	Text     string    `xml:",chardata"`
	Children []xmlNode `xml:",any"`
}

// genericJSON turns an element into JSON without a mapping: an element
// with children is an object of them (a name repeated becomes an array),
// one without is its trimmed text. Attributes are not kept.
func genericJSON(n *xmlNode) any {
	if len(n.Children) == 0 {
		return strings.TrimSpace(n.Text)
	}
	obj := map[string]any{}
	for i := range n.Children {
		c := &n.Children[i]
		v := genericJSON(c)
		switch prev := obj[c.XMLName.Local].(type) {
		case nil:
			obj[c.XMLName.Local] = v
		case []any:
			obj[c.XMLName.Local] = append(prev, v)
		default:
			obj[c.XMLName.Local] = []any{prev, v}
		}
	}
	return obj
}

func badAnswer(format string, args ...any) *adapters.Error {
	return &adapters.Error{Status: http.StatusBadGateway, Code: "UNEXPECTED_ANSWER", Detail: "endpoint's answer: " + fmt.Sprintf(format, args...)}
}

var decimalText = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

func mapObject(n *xmlNode, fields map[string]XMLField, at string) (map[string]any, error) {
	obj := make(map[string]any, len(fields))
	for key, f := range fields {
		from := f.From
		if from == "" {
			from = key
		}
		var found []*xmlNode
		for i := range n.Children {
			if n.Children[i].XMLName.Local == from {
				found = append(found, &n.Children[i])
			}
		}
		where := at + "/" + from
		if f.List {
			list := make([]any, 0, len(found))
			for _, c := range found {
				v, err := mapValue(c, f, where)
				if err != nil {
					return nil, err
				}
				list = append(list, v)
			}
			obj[key] = list
			continue
		}
		switch {
		case len(found) > 1:
			return nil, badAnswer("<%s> appears %d times where one is expected", where, len(found))
		case len(found) == 0 || f.Fields == nil && strings.TrimSpace(found[0].Text) == "":
			if f.Optional {
				continue
			}
			return nil, badAnswer("<%s> is missing or empty", where)
		}
		v, err := mapValue(found[0], f, where)
		if err != nil {
			return nil, err
		}
		obj[key] = v
	}
	return obj, nil
}

func mapValue(n *xmlNode, f XMLField, at string) (any, error) {
	if f.Fields != nil {
		return mapObject(n, f.Fields, at)
	}
	text := strings.TrimSpace(n.Text)
	switch f.Type {
	case "decimal":
		if !decimalText.MatchString(text) {
			return nil, badAnswer("<%s> %q is not a decimal number", at, text)
		}
		return text, nil
	case "integer":
		if _, err := strconv.ParseInt(text, 10, 64); err != nil {
			return nil, badAnswer("<%s> %q is not a whole number", at, text)
		}
		return json.Number(text), nil
	case "date":
		d, err := time.Parse(f.Layout, text)
		if err != nil {
			return nil, badAnswer("<%s> %q is not a date %s", at, text, f.Layout)
		}
		return d.Format(time.DateOnly), nil
	}
	return text, nil
}
