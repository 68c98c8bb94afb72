// Package shepschema simulates the SHEP agencies that are declared by
// schema alone: for every contracts/<agency>/shep-mock.yaml it registers a
// service on the mock gateway (mocks/shepgw) under that file's serviceId.
// A request is read through the agency's request schema (contracts/xsdjson)
// and refused as the provider would if it breaks it; the answer is the
// file's first matching template, filled with the request's values and
// written through the response schema, so mock and bus derive the same
// XML from the same XSD. Faults and log: the control API's mock named
// after the folder (zags, elicense, …), keyed by the request's key field
// (the SHEP messageId when the file names none).
//
// Adding an agency needs no Go code here: its folder and file are found
// through the embedded contracts.SHEPMocks.
package shepschema

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/minfin-kz/kopir/contracts"
	"github.com/minfin-kz/kopir/contracts/xsdjson"
	"github.com/minfin-kz/kopir/mocks/shepgw"
)

// Descriptor is one shep-mock.yaml.
type Descriptor struct {
	ServiceID string `yaml:"serviceId"`
	Provider  string `yaml:"provider"`
	Request   struct {
		Schema  string `yaml:"schema"`
		Element string `yaml:"element"`
	} `yaml:"request"`
	Response struct {
		Schema  string `yaml:"schema"`
		Element string `yaml:"element"`
	} `yaml:"response"`
	// Key is the request field (JSON path) the mock's faults and log are
	// keyed by.
	Key     string `yaml:"key"`
	Answers []struct {
		// When maps request fields (JSON paths) to regular expressions
		// their values must match; an absent field does not match.
		When   map[string]string `yaml:"when"`
		Answer any               `yaml:"answer"`
	} `yaml:"answers"`
}

// Service is a descriptor made ready to answer.
type Service struct {
	Name      string // the agency folder, the mock's name
	Desc      Descriptor
	req, resp *xsdjson.Element
	when      []map[string]*regexp.Regexp
}

func init() {
	svcs, err := Load(contracts.SHEPMocks)
	if err != nil {
		// The embedded files are part of the build: a broken one is a
		// programming error, as a duplicate registration is.
		panic(err)
	}
	for _, s := range svcs {
		shepgw.Register(s.Desc.ServiceID, shepgw.Service{Provider: s.Desc.Provider, Mock: s.Name, Answer: s.answer})
	}
}

// Load reads every <folder>/shep-mock.yaml of fsys.
func Load(fsys fs.FS) ([]*Service, error) {
	files, err := fs.Glob(fsys, "*/shep-mock.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []*Service
	for _, f := range files {
		s, err := load(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("mocks/shepschema: %s: %w", f, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func load(fsys fs.FS, file string) (*Service, error) {
	b, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, err
	}
	s := &Service{Name: path.Dir(file)}
	if err := yaml.Unmarshal(b, &s.Desc); err != nil {
		return nil, err
	}
	if s.Desc.ServiceID == "" || len(s.Desc.Answers) == 0 {
		return nil, fmt.Errorf("serviceId and answers are required")
	}
	element := func(schema, el string) (*xsdjson.Element, error) {
		set, err := xsdjson.Load(fsys, path.Join(s.Name, schema))
		if err != nil {
			return nil, err
		}
		return set.Element(el)
	}
	if s.req, err = element(s.Desc.Request.Schema, s.Desc.Request.Element); err != nil {
		return nil, err
	}
	if s.resp, err = element(s.Desc.Response.Schema, s.Desc.Response.Element); err != nil {
		return nil, err
	}
	for i, a := range s.Desc.Answers {
		m := map[string]*regexp.Regexp{}
		for field, pattern := range a.When {
			re, err := regexp.Compile(pattern)
			if err != nil {
				return nil, fmt.Errorf("answers[%d].when.%s: %w", i, field, err)
			}
			m[field] = re
		}
		s.when = append(s.when, m)
	}
	return s, nil
}

// Respond is the <data> content answering a request's <data> content:
// ok=false means the request breaks the request schema (msg says how).
func (s *Service) Respond(data string) (answer []byte, msg string) {
	req, err := s.request(data)
	if err != nil {
		return nil, err.Error()
	}
	for i := range s.Desc.Answers {
		if !s.matches(i, req) {
			continue
		}
		doc, err := s.fill(i, req)
		if err != nil {
			return nil, "the mock's answer template does not fit the response schema: " + err.Error()
		}
		return doc, ""
	}
	return nil, "no answer of the mock matches the request"
}

func (s *Service) request(data string) (map[string]any, error) {
	body, err := s.req.FromDocument(s.req.Document(data, nil, false))
	if err != nil {
		return nil, err
	}
	// FromDocument follows the structure; the facets are checked on the
	// JSON it read, as the bus checks its callers'.
	if err := s.req.Check(body); err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func (s *Service) matches(i int, req map[string]any) bool {
	for field, re := range s.when[i] {
		v, ok := lookup(req, field)
		if !ok || !re.MatchString(fmt.Sprint(v)) {
			return false
		}
	}
	return true
}

// lookup finds the value at a dot path (a.b.c) of a JSON object.
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

var placeholder = regexp.MustCompile(`\{\{([^}]+)\}\}`)

// fill writes answer i for req through the response schema.
func (s *Service) fill(i int, req map[string]any) ([]byte, error) {
	body, err := json.Marshal(substitute(s.Desc.Answers[i].Answer, req))
	if err != nil {
		return nil, err
	}
	return s.resp.ToXML(body)
}

func substitute(v any, req map[string]any) any {
	switch t := v.(type) {
	case string:
		if m := placeholder.FindStringSubmatch(t); m != nil && m[0] == t {
			if got, ok := lookup(req, m[1]); ok {
				return got
			}
			return ""
		}
		return placeholder.ReplaceAllStringFunc(t, func(p string) string {
			got, _ := lookup(req, p[2:len(p)-2])
			if got == nil {
				return ""
			}
			return fmt.Sprint(got)
		})
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = substitute(x, req)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for k, x := range t {
			out[k] = substitute(x, req)
		}
		return out
	}
	return v
}

// answer is the shepgw.Service's Answer. Faults are injected before the
// request is read, as an agency that is down fails whatever it is sent.
func (s *Service) answer(c *shepgw.Call) ([]byte, bool) {
	key := c.MessageID
	if s.Desc.Key != "" {
		if req, err := s.request(c.Data); err == nil {
			if v, ok := lookup(req, s.Desc.Key); ok {
				key = fmt.Sprint(v)
			}
		}
	}
	if !c.Injected(key) {
		return nil, false
	}
	doc, msg := s.Respond(c.Data)
	if msg != "" {
		c.BadRequest(s.Desc.Provider + ": " + msg)
		return nil, false
	}
	return append(append([]byte("<data>"), doc...), "</data>"...), true
}
