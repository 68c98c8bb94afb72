// Package httpjson delivers the internal JSON as-is to an HTTP endpoint:
// internal subscribers of asynchronous routes, or any JSON service. It adds
// the headers a receiver needs to deduplicate and trace what the bus may
// deliver more than once.
//
// Operation get-xml instead reads reference data over a plain GET: the
// caller's JSON fills the path and query from declared fields, and the XML
// answer comes back as JSON, picked by a declared mapping (getxml.go,
// docs/adapters/nbrk.md).
package httpjson

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/minfin-kz/kopir/adapters"
)

func init() { adapters.Register("http", New) }

// Options of an "http" route.
type Options struct {
	// Headers are added to every request (an API key, a tenant). They cannot
	// replace the headers the bus sets itself.
	Headers map[string]string `yaml:"headers" json:"headers"`
}

// Adapter is the "http" adapter; every operation behaves the same.
type Adapter struct {
	header http.Header
}

// reserved are set per call and must mean what the bus says they mean.
var reserved = map[string]bool{
	"Content-Type": true, "Idempotency-Key": true, "X-Correlation-Id": true,
	"X-Kopir-Message-Id": true, "X-Kopir-Route": true, "Content-Length": true, "Host": true,
}

// New is the adapters.Factory. Operation get-xml is a GET answered in XML
// (GetXMLOptions); every other operation posts the caller's JSON.
func New(cfg adapters.AdapterConfig, res adapters.Resources) (adapters.Adapter, error) {
	if cfg.Operation == OpGetXML {
		g, err := newGetXML(cfg, res)
		if err != nil {
			return nil, err
		}
		g.clock = res.Now
		return g, nil
	}
	var o Options
	if err := cfg.Options.Decode(&o); err != nil {
		return nil, fmt.Errorf("http: options: %w", err)
	}
	h, err := headers(o.Headers)
	if err != nil {
		return nil, err
	}
	h.Set("Content-Type", "application/json")
	return &Adapter{header: h}, nil
}

// OpGetXML is the operation of GET routes answered in XML.
const OpGetXML = "get-xml"

func headers(set map[string]string) (http.Header, error) {
	h := http.Header{}
	for k, v := range set {
		if !validName(k) {
			return nil, fmt.Errorf("http: options.headers: %q is not a header name", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("http: options.headers.%s: value has a line break", k)
		}
		if reserved[http.CanonicalHeaderKey(k)] {
			return nil, fmt.Errorf("http: options.headers: %s is set by the bus", http.CanonicalHeaderKey(k))
		}
		h.Set(k, v)
	}
	return h, nil
}

func validName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// Encode posts the caller's JSON unchanged. The idempotency key falls back
// to the message id, which is stable across the bus's retries, so the
// receiver can always deduplicate.
func (a *Adapter) Encode(_ context.Context, req *adapters.Request) (*adapters.WireRequest, error) {
	h := a.header.Clone()
	key := req.IdempotencyKey
	if key == "" {
		key = req.MessageID
	}
	set := func(k, v string) {
		if v != "" {
			h[k] = []string{v}
		}
	}
	set("Idempotency-Key", key)
	set("X-Correlation-Id", req.CorrelationID)
	set("X-Kopir-Message-Id", req.MessageID)
	set("X-Kopir-Route", req.Route)
	return &adapters.WireRequest{Method: http.MethodPost, Header: h, Body: req.Body}, nil
}

// Decode accepts any 2xx. 429 and 5xx are worth retrying; other 4xx mean
// the receiver refuses this message and will keep refusing it.
func (a *Adapter) Decode(_ context.Context, _ *adapters.Request, resp *adapters.WireResponse) (*adapters.Response, error) {
	s := resp.StatusCode
	if s >= 200 && s < 300 {
		if len(resp.Body) > 0 && json.Valid(resp.Body) {
			return &adapters.Response{Body: resp.Body}, nil
		}
		return &adapters.Response{Body: json.RawMessage("{}")}, nil
	}
	return nil, statusError(s)
}

// statusError is a non-2xx answer: 429 and 5xx are worth retrying; other
// 4xx mean the endpoint refuses this request and will keep refusing it.
func statusError(s int) *adapters.Error {
	if s == http.StatusRequestEntityTooLarge {
		return &adapters.Error{Status: http.StatusBadGateway, Code: "HTTP_413", Configuration: true,
			Detail: "endpoint answered HTTP 413: it takes smaller bodies than this route lets in; raise its limit or lower the route's maxBody (for inbound documents, the channel's page size)"}
	}
	return &adapters.Error{
		Status:    http.StatusBadGateway,
		Code:      fmt.Sprintf("HTTP_%d", s),
		Detail:    fmt.Sprintf("endpoint answered HTTP %d", s),
		Retryable: s == http.StatusTooManyRequests || s >= 500,
	}
}
