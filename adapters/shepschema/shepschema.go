// Package shepschema is the "shep" adapter: a SHEP service declared by its
// schema and a config block, with no Go code of its own, reached through
// the SyncChannel (operation sync) or the AsyncChannel (operation async).
// The route's internal JSON is derived from the request and response
// elements of the agency's XSD (contracts/xsdjson): the caller's JSON is
// checked against the schema's rules and written as XML in schema order,
// validated against the XSD with libxml2 before it leaves, sent through
// package egov's Sender like the hand-written registry adapters, and the
// answer is validated and read back into JSON the same way.
package shepschema

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/egov"
	"github.com/minfin-kz/kopir/contracts/egov-shep/shep"
	"github.com/minfin-kz/kopir/contracts/xsdjson"
	"github.com/minfin-kz/kopir/internal/kzid"
	"github.com/minfin-kz/kopir/internal/xsd"
)

func init() { adapters.Register("shep", New) }

// Options is the route's options block: egov's SHEP identity and service,
// and the schema of each direction.
type Options struct {
	egov.Options `yaml:",inline"`
	Request      Message `yaml:"request"`
	Response     Message `yaml:"response"`
	// Checks attach register rules to fields by path (element names joined
	// by "/", e.g. BirthRecordRequest/iin): the IIN or BIN check digit.
	Checks struct {
		IIN []string `yaml:"iin"`
		BIN []string `yaml:"bin"`
	} `yaml:"checks"`
	// Fill gives top-level request fields the caller may leave out:
	// messageId (the bus's message id), now (date and time), today (date),
	// senderId (the route's SHEP sender) or const:<text>, as registries
	// that repeat SHEP's header in their own request expect.
	Fill map[string]string `yaml:"fill"`
	// Result maps an answer's own result code to the bus's outcome: a code
	// at Path outside OK is a 502 carrying the code.
	Result *struct {
		Path string   `yaml:"path"`
		OK   []string `yaml:"ok"`
	} `yaml:"result"`
}

// Message is one direction's schema.
type Message struct {
	Schema  string `yaml:"schema"`  // the XSD file, relative to the working directory
	Element string `yaml:"element"` // the global element, {namespace}local
	// Payload says how the element travels in SHEP's <data>: "element"
	// (default) inside it, or "type" as <data> itself, carrying the
	// element's type as xsi:type (GBD FL's registries do so).
	Payload string `yaml:"payload"`
}

// side is one direction ready for use.
type side struct {
	el        *xsdjson.Element
	xsd       *xsd.Schema
	asContent bool
	dataType  xml.Name // xsi:type of <data> when asContent
	schema    json.RawMessage
}

// Adapter is the "shep" adapter of one route.
type Adapter struct {
	Sender        *egov.Sender
	req, resp     *side
	iin, bin      [][]string
	fill          map[string]string
	resultPath    []string
	resultOK      map[string]bool
	requestSchema json.RawMessage
}

// AsyncOptions is the options block of operation async: the sync
// operation's, and how the AsyncChannel conversation waits, as for
// "egov-async" routes.
type AsyncOptions struct {
	Options     `yaml:",inline"`
	MessageType string           `yaml:"messageType"`
	Poll        egov.PollOptions `yaml:"poll"`
}

// New is the adapters.Factory.
func New(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	switch cfg.Operation {
	case "sync":
		var o Options
		if err := cfg.Options.Decode(&o); err != nil {
			return nil, fmt.Errorf("shep: options: %w", err)
		}
		return build(o, res)
	case "async":
		var o AsyncOptions
		if err := cfg.Options.Decode(&o); err != nil {
			return nil, fmt.Errorf("shep: options: %w", err)
		}
		return newAsync(cfg.Route, o, res)
	}
	return nil, fmt.Errorf("shep: unknown operation %q (known: sync, async)", cfg.Operation)
}

func build(o Options, res adapters.Resources) (*Adapter, error) {
	s, err := egov.NewSender(o.Options)
	if err == nil {
		err = s.Provision(res)
	}
	if err != nil {
		return nil, fmt.Errorf("shep: %w", err)
	}
	s.Now = res.Clock
	a := &Adapter{Sender: s, fill: o.Fill}
	if a.req, err = load("request", o.Request); err != nil {
		return nil, err
	}
	if a.resp, err = load("response", o.Response); err != nil {
		return nil, err
	}
	for _, c := range []struct {
		name  string
		paths []string
		into  *[][]string
	}{{"iin", o.Checks.IIN, &a.iin}, {"bin", o.Checks.BIN, &a.bin}} {
		for _, p := range c.paths {
			if err := a.req.el.Leaf(p); err != nil {
				return nil, fmt.Errorf("shep: options.checks.%s: %w", c.name, err)
			}
			*c.into = append(*c.into, a.req.el.Segments(p))
		}
	}
	for k, v := range o.Fill {
		switch {
		case v == "messageId", v == "now", v == "today", v == "senderId", strings.HasPrefix(v, "const:"):
		default:
			return nil, fmt.Errorf("shep: options.fill.%s: %q is none of messageId, now, today, senderId, const:<text>", k, v)
		}
		if err := a.req.el.Leaf(k); err != nil || strings.Contains(k, "/") {
			return nil, fmt.Errorf("shep: options.fill.%s: not a top-level field of the request", k)
		}
	}
	if r := o.Result; r != nil {
		if err := a.resp.el.Leaf(r.Path); err != nil {
			return nil, fmt.Errorf("shep: options.result.path: %w", err)
		}
		a.resultPath = a.resp.el.Segments(r.Path)
		a.resultOK = map[string]bool{}
		for _, c := range r.OK {
			a.resultOK[c] = true
		}
	}
	return a, nil
}

func load(name string, m Message) (*side, error) {
	if m.Schema == "" || m.Element == "" {
		return nil, fmt.Errorf("shep: options.%s: schema and element are required", name)
	}
	set, err := xsdjson.LoadFile(m.Schema)
	if err != nil {
		return nil, fmt.Errorf("shep: options.%s.schema: %w", name, err)
	}
	el, err := set.Element(m.Element)
	if err != nil {
		return nil, fmt.Errorf("shep: options.%s.element: %w", name, err)
	}
	compiled, err := xsd.Compile(m.Schema)
	if err != nil {
		return nil, fmt.Errorf("shep: options.%s.schema: %w", name, err)
	}
	js, err := el.JSONSchema()
	if err != nil {
		return nil, fmt.Errorf("shep: options.%s: %w", name, err)
	}
	sd := &side{el: el, xsd: compiled, schema: js}
	switch m.Payload {
	case "", "element":
	case "type":
		if el.Type.Name.Local == "" {
			return nil, fmt.Errorf("shep: options.%s.payload: type needs an element of a named type", name)
		}
		sd.asContent = true
		sd.dataType = xml.Name{Space: el.Type.Name.Space, Local: el.Type.Name.Local}
	default:
		return nil, fmt.Errorf("shep: options.%s.payload: %q is neither element nor type", name, m.Payload)
	}
	return sd, nil
}

// Schemas implements adapters.SchemaProvider.
func (a *Adapter) Schemas() (request, response json.RawMessage) {
	return a.req.schema, a.resp.schema
}

// Validate checks the caller's JSON against the request schema and the
// configured register rules.
func (a *Adapter) Validate(_ context.Context, req *adapters.Request) error {
	_, err := a.requestXML(req)
	return err
}

// requestXML is the request element as XML, checked every way there is.
func (a *Adapter) requestXML(req *adapters.Request) ([]byte, error) {
	body, err := a.filled(req)
	if err != nil {
		return nil, err
	}
	doc, err := a.req.el.ToXML(body)
	if err != nil {
		return nil, invalid(err)
	}
	if err := a.checkIDs(body); err != nil {
		return nil, err
	}
	if vs := a.req.xsd.Validate(doc); len(vs) > 0 {
		// What xsdjson does not check itself (date ranges, union
		// members, identity constraints) the XSD still refuses.
		return nil, &adapters.Error{Status: http.StatusUnprocessableEntity, Field: strings.TrimPrefix(vs[0].Path, "/"),
			Code: "SCHEMA_INVALID", Detail: xsd.Err(vs).Error()}
	}
	return doc, nil
}

// filled adds the configured generated fields the caller left out.
func (a *Adapter) filled(req *adapters.Request) ([]byte, error) {
	if len(a.fill) == 0 {
		return req.Body, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(req.Body, &obj); err != nil || obj == nil {
		return nil, adapters.Invalid("", "the body must be a JSON object")
	}
	now := time.Now
	if a.Sender.Now != nil {
		now = a.Sender.Now
	}
	for k, src := range a.fill {
		if _, given := obj[k]; given {
			continue
		}
		var v string
		switch src {
		case "messageId":
			v = req.MessageID
			if v == "" {
				v = uuid.NewString()
			}
		case "now":
			v = now().Format("2006-01-02T15:04:05.000Z07:00")
		case "today":
			v = now().Format(time.DateOnly)
		case "senderId":
			v = a.Sender.SenderID
		default:
			v = strings.TrimPrefix(src, "const:")
		}
		obj[k], _ = json.Marshal(v)
	}
	return json.Marshal(obj)
}

func invalid(err error) error {
	var xe *xsdjson.Error
	if !errors.As(err, &xe) || len(xe.Violations) == 0 {
		return adapters.Invalid("", "%s", err)
	}
	return &adapters.Error{Status: http.StatusUnprocessableEntity, Field: xe.Violations[0].Path, Code: "SCHEMA_INVALID", Detail: xe.Error()}
}

// checkIDs applies the IIN and BIN rules to every value at their paths.
func (a *Adapter) checkIDs(body []byte) error {
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return adapters.Invalid("", "%s", err)
	}
	for _, r := range []struct {
		paths [][]string
		check func(string) error
	}{{a.iin, kzid.ValidateIIN}, {a.bin, kzid.ValidateBIN}} {
		for _, p := range r.paths {
			var failed error
			walk(doc, p, "", func(path string, v any) {
				s, ok := v.(string)
				if failed != nil || !ok {
					return
				}
				if err := r.check(s); err != nil {
					failed = adapters.Invalid(path, "%s", err)
				}
			})
			if failed != nil {
				return failed
			}
		}
	}
	return nil
}

// walk calls f on every value at segs under v, through arrays, with its
// JSON path.
func walk(v any, segs []string, path string, f func(string, any)) {
	if arr, ok := v.([]any); ok {
		for i, it := range arr {
			walk(it, segs, fmt.Sprintf("%s[%d]", path, i), f)
		}
		return
	}
	if len(segs) == 0 {
		f(path, v)
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	next, ok := obj[segs[0]]
	if !ok {
		return
	}
	p := segs[0]
	if path != "" {
		p = path + "." + segs[0]
	}
	walk(next, segs[1:], p, f)
}

// Encode builds the SendMessage carrying the request element.
func (a *Adapter) Encode(ctx context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	req = withMessageID(req)
	inner, typ, err := a.data(req)
	if err != nil {
		return nil, err
	}
	return a.Sender.Wire(ctx, req, shep.Payload{Type: typ, Value: &shep.AnyXML{InnerXML: inner}})
}

// withMessageID gives the request an id of its own when the core gave
// none, so that fill's messageId and SHEP's are one.
func withMessageID(req *adapters.Request) *adapters.Request {
	if req.MessageID != "" {
		return req
	}
	r := *req
	r.MessageID = uuid.NewString()
	return &r
}

// data is what travels in SHEP's <data>: the request element, or, with
// payload type, its content and the element's type for xsi:type.
func (a *Adapter) data(req *adapters.Request) (inner string, typ xml.Name, err error) {
	doc, err := a.requestXML(req)
	if err != nil {
		return "", xml.Name{}, err
	}
	if !a.req.asContent {
		return string(doc), xml.Name{}, nil
	}
	body, _ := a.filled(req)
	content, err := a.req.el.ContentXML(body)
	if err != nil {
		return "", xml.Name{}, invalid(err)
	}
	return string(content), a.req.dataType, nil
}

// Decode validates the answer against the response schema and reads it
// into JSON.
func (a *Adapter) Decode(_ context.Context, _ *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	var data shep.RawData
	if _, err := a.Sender.Decode(resp, &data); err != nil {
		return nil, err
	}
	if !data.Present() {
		return nil, badAnswer("SHEP response without responseData/data")
	}
	return a.answer(data.InnerXML, data.Attrs)
}

// answer reads the content of the provider's <data> through the response
// schema. An answer that breaks the agency's own schema is a 502: the
// caller cannot fix it.
func (a *Adapter) answer(inner string, attrs []xml.Attr) (*adapters.Response, error) {
	doc := a.resp.el.Document(inner, attrs, a.resp.asContent)
	if vs := xsd.ValidateParts(doc, xsd.Part{Schema: a.resp.xsd, Space: a.resp.el.Name.Space, Local: a.resp.el.Name.Local}); len(vs) > 0 {
		return nil, badAnswer("the agency's answer breaks its schema: " + xsd.Err(vs).Error())
	}
	body, err := a.resp.el.FromDocument(doc)
	if err != nil {
		return nil, badAnswer(err.Error())
	}
	if a.resultPath != nil {
		if err := a.checkResult(body); err != nil {
			return nil, err
		}
	}
	return &adapters.Response{Body: body}, nil
}

func (a *Adapter) checkResult(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return badAnswer(err.Error())
	}
	code := ""
	walk(doc, a.resultPath, "", func(_ string, v any) {
		if code == "" {
			code = fmt.Sprint(v)
		}
	})
	if !a.resultOK[code] {
		return &adapters.Error{Status: http.StatusBadGateway, Code: code,
			Detail: fmt.Sprintf("the agency answered result %q at %s", code, strings.Join(a.resultPath, "/"))}
	}
	return nil
}

func badAnswer(detail string) *adapters.Error {
	return &adapters.Error{Status: http.StatusBadGateway, Code: "SHEP_BAD_RESPONSE", Detail: detail}
}
