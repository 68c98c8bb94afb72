package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/auth"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/routes"
)

// OpenAPIVersion is the version of the OpenAPI specification the documents
// follow: 3.1, whose schemas are JSON Schema 2020-12 like the ones the
// schema-driven adapters derive, so theirs are embedded unchanged.
const OpenAPIVersion = "3.1.0"

// OpenAPI is the internal API's OpenAPI document for every route and
// channel endpoint: what docs/ keeps and what the generator prints.
func (s *Server) OpenAPI() ([]byte, error) {
	return s.openAPI(func(*routes.Route) bool { return true })
}

// openAPI builds the document from the route table and the channels'
// endpoints, keeping the routes may admits; it is built on each request
// for it, so it cannot disagree with the table being served.
func (s *Server) openAPI(may func(*routes.Route) bool) ([]byte, error) {
	schemas := map[string]any{
		"Problem": ProblemSchema(),
		"Accepted": map[string]any{
			"type":     "object",
			"required": []string{"id", "status"},
			"properties": map[string]any{
				"id":     map[string]any{"type": "string", "format": "uuid"},
				"status": map[string]any{"type": "string"},
			},
		},
		"Message": map[string]any{
			"type":     "object",
			"required": []string{"id", "route", "status", "correlationId", "attempts", "createdAt", "updatedAt"},
			"properties": map[string]any{
				"id":            map[string]any{"type": "string", "format": "uuid"},
				"route":         map[string]any{"type": "string"},
				"status":        map[string]any{"type": "string", "enum": []string{"RECEIVED", "QUEUED", "DELIVERED", "FAILED", "DEAD", "REJECTED"}},
				"correlationId": map[string]any{"type": "string"},
				"attempts":      map[string]any{"type": "integer", "minimum": 0},
				"error":         map[string]any{"type": "string"},
				"createdAt":     map[string]any{"type": "string", "format": "date-time"},
				"updatedAt":     map[string]any{"type": "string", "format": "date-time"},
			},
		},
		"RouteSchemas": map[string]any{
			"type":     "object",
			"required": []string{"request", "response"},
			"properties": map[string]any{
				"request":  map[string]any{"type": "object"},
				"response": map[string]any{"type": "object"},
			},
		},
	}
	paths := map[string]any{}
	for _, rt := range s.Routes.All() {
		if rt.Inbound != nil || !may(rt) {
			continue
		}
		req, resp := map[string]any{"type": "object"}, map[string]any{}
		if sp, ok := rt.Adapter.(adapters.SchemaProvider); ok {
			reqSchema, respSchema := sp.Schemas()
			var err error
			if req, err = component(schemas, rt.Name+".request", reqSchema); err != nil {
				return nil, fmt.Errorf("route %s: request schema: %w", rt.Name, err)
			}
			if resp, err = component(schemas, rt.Name+".response", respSchema); err != nil {
				return nil, fmt.Errorf("route %s: response schema: %w", rt.Name, err)
			}
		}
		paths["/v1/routes/"+rt.Name] = map[string]any{"post": callOperation(rt, req, resp)}
	}
	paths["/v1/routes/{route}/schema"] = map[string]any{"get": map[string]any{
		"operationId": "routeSchema",
		"summary":     "The JSON Schema of a route's request and response, for routes whose adapter derives them",
		"parameters":  []any{pathParam("route")},
		"responses": withProblems(map[string]any{
			"200": jsonResponse("The route's request and response schemas", ref("RouteSchemas")),
		}, 400, 401, 403, 404),
	}}
	paths["/v1/messages/{id}"] = map[string]any{"get": map[string]any{
		"operationId": "getMessage",
		"summary":     "The status of one of the caller's own messages",
		"parameters":  []any{pathParam("id")},
		"responses": withProblems(map[string]any{
			"200": jsonResponse("The message", ref("Message")),
		}, 400, 401, 404, 503),
	}}
	paths["/healthz"] = map[string]any{"get": map[string]any{
		"operationId": "healthz",
		"summary":     "Liveness probe",
		"security":    []any{},
		"responses":   map[string]any{"200": textResponse("ok")},
	}}
	paths["/openapi.json"] = map[string]any{"get": map[string]any{
		"operationId": "openapi",
		"summary":     "This document, listing the routes the calling system may use",
		"responses":   withProblems(map[string]any{"200": jsonResponse("The OpenAPI document", map[string]any{"type": "object"})}, 401),
	}}
	for _, e := range s.Extra {
		if !s.mayAny(e.Routes, may) {
			continue
		}
		method, path, ok := strings.Cut(e.Pattern, " ")
		if !ok {
			method, path = "GET", e.Pattern
		}
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = extraOperation(method, path, e.Routes)
	}
	doc := map[string]any{
		"openapi": OpenAPIVersion,
		"info": map[string]any{
			"title":       "Köpir internal API",
			"version":     "1",
			"description": "The API the ministry's systems call: one path per configured route, the status of their messages, and the views inbound channels add. Errors are RFC 9457 application/problem+json.",
		},
		"security": []any{map[string]any{"bearer": []string{}}},
		"paths":    paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "A token issued to the calling system (callers in the config)"}},
		},
	}
	return MarshalDocument(doc)
}

// MarshalDocument writes an OpenAPI document as the committed copies are
// written: indented, keys sorted, so that a change shows as a small diff.
func MarshalDocument(doc any) ([]byte, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func (s *Server) mayAny(names []string, may func(*routes.Route) bool) bool {
	for _, n := range names {
		if rt, ok := s.Routes.Get(n); ok && may(rt) {
			return true
		}
	}
	return false
}

func callOperation(rt *routes.Route, req, resp any) map[string]any {
	desc := fmt.Sprintf("Adapter %s, operation %s, %s. Request bodies up to %d bytes.", rt.Spec.Adapter, rt.Operation, rt.Mode, int64(rt.MaxBody))
	ok := map[string]any{}
	if rt.Mode == routes.Async {
		desc += " The message is recorded and delivered in the background; its status is GET /v1/messages/{id}."
		ok["202"] = withHeaders(jsonResponse("Recorded and queued for delivery", ref("Accepted")), "X-Correlation-Id", "X-Kopir-Message-Id", "Idempotent-Replayed")
	} else {
		ok["200"] = withHeaders(jsonResponse("The agency's answer", resp), "X-Correlation-Id", "X-Kopir-Message-Id", "Idempotent-Replayed")
	}
	return map[string]any{
		"operationId": "call." + rt.Name,
		"summary":     "Call route " + rt.Name,
		"description": desc,
		"parameters": []any{
			headerParam("X-Correlation-Id", "Ties the call to the caller's own records; one is made when none is sent.", MaxCorrelationID),
			headerParam("Idempotency-Key", "A repeat with the same key and body is answered with the first answer.", MaxIdempotencyKey),
		},
		"requestBody": map[string]any{
			"required": true,
			"content":  map[string]any{"application/json": map[string]any{"schema": req}},
		},
		"responses": withProblems(ok, 400, 401, 403, 404, 409, 413, 422, 429, 502, 503, 504),
	}
}

func extraOperation(method, path string, guard []string) map[string]any {
	var params []any
	for _, m := range pathParamRE.FindAllStringSubmatch(path, -1) {
		params = append(params, pathParam(strings.TrimSuffix(m[1], "...")))
	}
	op := map[string]any{
		"operationId": strings.ToLower(method) + strings.NewReplacer("/", ".", "{", "", "}", "", "...", "").Replace(path),
		"summary":     "Provided by an inbound channel",
		"description": "Open to callers who may use at least one of the routes " + strings.Join(guard, ", ") + ".",
		"responses":   withProblems(map[string]any{"200": jsonResponse("The channel's view", map[string]any{"type": "object"})}, 400, 401, 403, 404),
	}
	if params != nil {
		op["parameters"] = params
	}
	return op
}

var pathParamRE = regexp.MustCompile(`\{([^}$]+)\}`)

// ProblemSchema is the JSON Schema of an application/problem+json body
// (problem.Problem).
func ProblemSchema() map[string]any {
	str := map[string]any{"type": "string"}
	return map[string]any{
		"type":     "object",
		"required": []string{"type", "title", "status"},
		"properties": map[string]any{
			"type": str, "title": str, "detail": str, "instance": str, "field": str, "code": str,
			"status":    map[string]any{"type": "integer", "minimum": 400, "maximum": 599},
			"messageId": map[string]any{"type": "string", "format": "uuid"},
			"differs":   map[string]any{"type": "array", "items": str},
		},
	}
}

// withProblems adds the problem+json answers of the given statuses and a
// default one, so that every error the API gives is described.
func withProblems(responses map[string]any, statuses ...int) map[string]any {
	for _, st := range statuses {
		responses[fmt.Sprint(st)] = problemResponse(http.StatusText(st))
	}
	responses["default"] = problemResponse("Any other error")
	return responses
}

func problemResponse(desc string) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"application/problem+json": map[string]any{"schema": ref("Problem")}}}
}

func jsonResponse(desc string, schema any) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
}

func textResponse(desc string) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}}
}

func withHeaders(resp map[string]any, names ...string) map[string]any {
	h := map[string]any{}
	for _, n := range names {
		h[n] = map[string]any{"schema": map[string]any{"type": "string"}}
	}
	resp["headers"] = h
	return resp
}

func headerParam(name, desc string, maxLen int) map[string]any {
	return map[string]any{"name": name, "in": "header", "description": desc,
		"schema": map[string]any{"type": "string", "maxLength": maxLen, "pattern": "^[\\x20-\\x7E]*$"}}
}

func pathParam(name string) map[string]any {
	return map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]any{"type": "string"}}
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// component files an adapter's JSON Schema under components/schemas as
// name, its $defs beside it as name.<def>, and returns a reference to it.
// A schema's own references ("#/$defs/X") point into the schema itself;
// once embedded they would point into the document, so they are rewritten
// to the filed definitions.
func component(schemas map[string]any, name string, raw json.RawMessage) (map[string]any, error) {
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	defs, _ := s["$defs"].(map[string]any)
	delete(s, "$defs")
	// The document's dialect (3.1's default, JSON Schema 2020-12) is the
	// one the adapters write; a $schema inside a component is not needed.
	delete(s, "$schema")
	rename := map[string]string{}
	for d := range defs {
		rename["#/$defs/"+d] = "#/components/schemas/" + name + "." + componentName(d)
	}
	rewriteRefs(s, rename)
	for d, v := range defs {
		rewriteRefs(v, rename)
		schemas[name+"."+componentName(d)] = v
	}
	schemas[name] = s
	return ref(name), nil
}

// componentName keeps the characters OpenAPI allows in a component's name.
func componentName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func rewriteRefs(v any, rename map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		if r, ok := v["$ref"].(string); ok {
			if to, ok := rename[r]; ok {
				v["$ref"] = to
			}
		}
		for _, c := range v {
			rewriteRefs(c, rename)
		}
	case []any:
		for _, c := range v {
			rewriteRefs(c, rename)
		}
	}
}

// serveOpenAPI answers a known caller with the document of the routes it
// may call. It is not open: the route table and the routes' schemas are
// the ministry's integration map, which GET /v1/routes/{route}/schema also
// shows only to a route's callers.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	caller, ok := auth.Caller(s.Callers, r)
	if !ok {
		s.Guard.Refuse(w, r, httpguard.Refusal{}, problem.New(http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <token>"))
		return
	}
	doc, err := s.openAPI(func(rt *routes.Route) bool { return rt.Allows(caller) })
	if err != nil {
		s.Log.Error("building the OpenAPI document", "err", err)
		problem.Write(w, problem.New(http.StatusInternalServerError, "No document", "the OpenAPI document could not be built; the log says why"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}
