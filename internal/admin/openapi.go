package admin

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/httpapi"
	"github.com/minfin-kz/kopir/internal/problem"
)

// endpointDoc is what the OpenAPI document says of one endpoint beyond
// its pattern and role, which come from Endpoints.
type endpointDoc struct {
	summary string
	// ok is the status and answer of a call that succeeded: more than one
	// where the answer itself reports a finding (409: the chain is broken).
	ok map[int]content
	// query names the query parameters the endpoint reads.
	query []string
	// body is the JSON Schema of the request body; nil: none.
	body map[string]any
	// errors are the problem+json statuses it gives besides 401 and 403.
	errors []int
}

// content is a response body: its media type and schema.
type content struct {
	mediaType string
	schema    map[string]any
}

var (
	object   = map[string]any{"type": "object"}
	str      = map[string]any{"type": "string"}
	integer  = map[string]any{"type": "integer"}
	jsonAny  = func(s map[string]any) content { return content{"application/json", s} }
	textBody = content{"text/plain", str}

	messageFilter = []string{"status", "route", "subject", "direction", "caller", "since", "before", "after", "limit"}

	reasonsSchema = map[string]any{"type": "array", "items": map[string]any{"type": "object", "required": []string{"field", "reason"},
		"properties": map[string]any{"field": str, "reason": str}}}
	heldSchema = map[string]any{"type": "object", "required": []string{"id", "route", "status", "reasons", "fourEyes"},
		"properties": map[string]any{"id": str, "route": str, "status": str, "reasons": reasonsSchema,
			"fourEyes": map[string]any{"type": "boolean"}, "changes": map[string]any{"type": "array", "items": object}}}
	checkSchema = map[string]any{"type": "object", "required": []string{"ok", "invalid", "held", "digest"},
		"properties": map[string]any{"ok": map[string]any{"type": "boolean"}, "invalid": reasonsSchema, "held": reasonsSchema, "digest": str}}
	outcomeSchema = map[string]any{"type": "object", "required": []string{"id", "status"},
		"properties": map[string]any{"id": str, "status": str, "change": object}}
	reasonBody = func(required bool) map[string]any {
		b := map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{"reason": str}}
		if required {
			b["required"] = []string{"reason"}
		}
		return b
	}

	jobSchema = map[string]any{"type": "object", "required": []string{"id", "running"},
		"properties": map[string]any{"id": str, "running": map[string]any{"type": "boolean"}}}
)

// endpointDocs describes every pattern of Endpoints; a test fails for an
// endpoint added there without its description here.
var endpointDocs = map[string]endpointDoc{
	"GET /admin/v1/messages": {summary: "List messages, newest first, by filter; next page with ?after=", query: messageFilter,
		ok: map[int]content{200: jsonAny(map[string]any{"type": "object", "required": []string{"items"}, "properties": map[string]any{
			"items": map[string]any{"type": "array", "items": object}, "next": str}})},
		errors: []int{400, 503}},
	"GET /admin/v1/messages/{id}": {summary: "One message with its attempts, audit trail and kept evidence",
		ok: map[int]content{200: jsonAny(map[string]any{"type": "object", "required": []string{"message", "attempts", "audit"}, "properties": map[string]any{
			"message": object, "attempts": map[string]any{"type": []string{"array", "null"}}, "audit": map[string]any{"type": []string{"array", "null"}},
			"evidence": map[string]any{"type": "array"}}})},
		errors: []int{400, 404, 503}},
	"POST /admin/v1/messages/{id}/replay": {summary: "Replay one DEAD or FAILED message",
		ok:     map[int]content{202: jsonAny(map[string]any{"type": "object", "required": []string{"id", "status"}, "properties": map[string]any{"id": str, "status": str}})},
		errors: []int{400, 404, 409, 503}},
	"POST /admin/v1/replay": {summary: "Start a bulk replay of the DEAD or FAILED messages a filter selects; progress at the Location given",
		body: map[string]any{"type": "object", "additionalProperties": false, "properties": map[string]any{
			"status": map[string]any{"type": "string", "enum": []string{"DEAD", "FAILED"}}, "route": str, "since": str, "before": str,
			"limit": map[string]any{"type": "integer", "minimum": 0, "maximum": MaxBulkReplay}}},
		ok: map[int]content{202: jsonAny(jobSchema)}, errors: []int{400}},
	"GET /admin/v1/replay/{job}": {summary: "A bulk replay's progress", ok: map[int]content{200: jsonAny(jobSchema)}, errors: []int{404}},
	"GET /admin/v1/breakers": {summary: "Every endpoint's circuit breaker",
		ok: map[int]content{200: jsonAny(map[string]any{"type": "object", "required": []string{"breakers"}, "properties": map[string]any{
			"breakers": map[string]any{"type": []string{"array", "null"}, "items": object}}})}},
	"GET /admin/v1/audit/verify": {summary: "Walk the audit hash chain; 409 when a record was altered or deleted",
		ok: map[int]content{200: jsonAny(object), 409: jsonAny(object)}, errors: []int{503}},
	"GET /admin/v1/stats": {summary: "Messages per status, by filter", query: messageFilter,
		ok: map[int]content{200: jsonAny(map[string]any{"type": "object", "required": []string{"counts"}, "properties": map[string]any{
			"counts": map[string]any{"type": "object", "additionalProperties": integer}}})},
		errors: []int{400, 503}},
	"GET /admin/v1/clock": {summary: "The bus's clock, simulated or the system's", ok: map[int]content{200: jsonAny(object)}},
	"PUT /admin/v1/clock": {summary: "Set or advance the simulated clock",
		body: map[string]any{"type": "object", "properties": map[string]any{"now": str, "advance": str}},
		ok:   map[int]content{200: jsonAny(object)}, errors: []int{400, 409}},
	"GET /admin/v1/messages/{id}/evidence": {summary: "A document kept for a message, exactly as received or sent", query: []string{"evidence", "n"},
		ok: map[int]content{200: {"application/xml", str}}, errors: []int{400, 404, 503}},
	"POST /admin/v1/messages/{id}/verify": {summary: "Re-verify the signed documents kept for a message; 409 when one fails",
		ok: map[int]content{200: jsonAny(object), 409: jsonAny(object)}, errors: []int{400, 404, 503}},
	"GET /admin/v1/held": {summary: "List held messages, newest first, with why each is held; next page with ?after=", query: []string{"route", "since", "before", "after", "limit"},
		ok: map[int]content{200: jsonAny(map[string]any{"type": "object", "required": []string{"items"}, "properties": map[string]any{
			"items": map[string]any{"type": "array", "items": heldSchema}, "next": str}})},
		errors: []int{400, 503}},
	"GET /admin/v1/held/counts": {summary: "Held messages per async route", query: []string{"route"},
		ok: map[int]content{200: jsonAny(map[string]any{"type": "object", "required": []string{"counts", "total"}, "properties": map[string]any{
			"counts": map[string]any{"type": "object", "additionalProperties": integer}, "total": integer}})},
		errors: []int{400, 503}},
	"GET /admin/v1/held/{id}": {summary: "A held (or once held) message: bodies masked as stored, reasons, proposed changes",
		ok: map[int]content{200: jsonAny(heldSchema)}, errors: []int{400, 404, 503}},
	"POST /admin/v1/held/{id}/check": {summary: "Check an edited payload (the request body) against the contract and the business checks; changes nothing",
		body: object, ok: map[int]content{200: jsonAny(checkSchema)}, errors: []int{400, 404, 409, 503}},
	"GET /admin/v1/held/{id}/payload": {summary: "The payload a held message would deliver, unmasked, to edit (audited)",
		ok: map[int]content{200: jsonAny(object)}, errors: []int{400, 404, 409, 503}},
	"POST /admin/v1/held/{id}/changes": {summary: "Edit a held message: refused (422, every field in problems) while its check finds anything; waits for a second operator on a route with held.fourEyes (200), else resubmits at once (202)",
		body: map[string]any{"type": "object", "additionalProperties": false, "required": []string{"payload", "reason"},
			"properties": map[string]any{"payload": object, "reason": str}},
		ok: map[int]content{200: jsonAny(outcomeSchema), 202: jsonAny(outcomeSchema)}, errors: []int{400, 404, 409, 422, 503}},
	"POST /admin/v1/held/{id}/changes/{change}/approve": {summary: "Approve a pending change, as an operator other than its proposer, and resubmit the message with it",
		ok: map[int]content{202: jsonAny(outcomeSchema)}, errors: []int{400, 404, 409, 422, 503}},
	"POST /admin/v1/held/{id}/changes/{change}/decline": {summary: "Decline a pending change; the message stays held",
		body: reasonBody(false), ok: map[int]content{200: jsonAny(outcomeSchema)}, errors: []int{400, 404, 409, 503}},
	"POST /admin/v1/held/{id}/resubmit": {summary: "Resubmit a held message as it is, once its checks pass (422 naming what still fails)",
		body: reasonBody(false), ok: map[int]content{202: jsonAny(outcomeSchema)}, errors: []int{400, 404, 409, 422, 503}},
	"POST /admin/v1/held/{id}/discard": {summary: "Discard a held message (final status DISCARDED); the reason is required",
		body: reasonBody(true), ok: map[int]content{200: jsonAny(outcomeSchema)}, errors: []int{400, 404, 409, 503}},
	"GET /metrics":             {summary: "Prometheus metrics", ok: map[int]content{200: textBody}},
	"GET /debug/pprof/":        {summary: "Go profiles (index)", ok: map[int]content{200: {"text/html", str}}},
	"GET /debug/pprof/profile": {summary: "CPU profile", ok: map[int]content{200: {"application/octet-stream", str}}},
	"GET /debug/pprof/trace":   {summary: "Execution trace", ok: map[int]content{200: {"application/octet-stream", str}}},
	"GET /healthz":             {summary: "Liveness probe", ok: map[int]content{200: textBody}},
	"GET /readyz":              {summary: "Readiness probe", ok: map[int]content{200: textBody}, errors: []int{503}},
	"GET /openapi.json":        {summary: "This document", ok: map[int]content{200: jsonAny(object)}},
}

var pathParam = regexp.MustCompile(`\{([^}$.]+)(\.\.\.)?\}`)

// OpenAPI is the admin API's OpenAPI document, one operation per entry of
// Endpoints with the role it needs as x-role.
func (s *Server) OpenAPI() ([]byte, error) {
	paths := map[string]any{}
	for _, e := range s.Endpoints() {
		d, ok := endpointDocs[e.Pattern]
		if !ok {
			return nil, fmt.Errorf("admin endpoint %s has no description in endpointDocs", e.Pattern)
		}
		method, path, _ := strings.Cut(e.Pattern, " ")
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = operation(e, d, path)
	}
	doc := map[string]any{
		"openapi": httpapi.OpenAPIVersion,
		"info": map[string]any{
			"title":   "Köpir admin API",
			"version": "1",
			"description": "The operators' API. Each operation's x-role is the least role that may call it " +
				"(viewer < operator, auditor < admin); operations without security are open to probes and scrapers.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         map[string]any{"Problem": httpapi.ProblemSchema()},
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An admin token (admins in the config)"}},
		},
	}
	return httpapi.MarshalDocument(doc)
}

func operation(e Endpoint, d endpointDoc, path string) map[string]any {
	responses := map[string]any{}
	for st, c := range d.ok {
		responses[fmt.Sprint(st)] = map[string]any{"description": http.StatusText(st),
			"content": map[string]any{c.mediaType: map[string]any{"schema": c.schema}}}
	}
	errs := d.errors
	op := map[string]any{"summary": d.summary, "operationId": operationID(e.Pattern)}
	if e.Role == Open {
		op["security"] = []any{}
		op["x-role"] = "open"
	} else {
		op["security"] = []any{map[string]any{"bearer": []string{}}}
		op["x-role"] = string(e.Role)
		needs := string(e.Role)
		if e.Role != config.RoleAdmin {
			needs += " (or admin)"
		}
		op["description"] = "Needs role " + needs + "."
		errs = append([]int{401, 403}, errs...)
	}
	for _, st := range errs {
		responses[fmt.Sprint(st)] = problemResponse(http.StatusText(st))
	}
	// The listener's guard answers what no endpoint does (timeouts,
	// bodies too large) with problem+json too.
	responses["default"] = problemResponse("Any other error")
	op["responses"] = responses
	var params []any
	for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": str})
	}
	for _, q := range d.query {
		params = append(params, map[string]any{"name": q, "in": "query", "schema": str})
	}
	if params != nil {
		op["parameters"] = params
	}
	if d.body != nil {
		op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": d.body}}}
	}
	return op
}

func problemResponse(desc string) map[string]any {
	return map[string]any{"description": desc,
		"content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
}

func operationID(pattern string) string {
	return strings.Trim(strings.NewReplacer(" ", "", "/", ".", "{", "", "}", "", "$", "").Replace(strings.ToLower(pattern)), ".")
}

// serveOpenAPI is open like /metrics: the document lists the endpoints and
// the roles they need, which the CLI's help and the docs already publish,
// and a tool should be able to read it before it holds a token.
func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request, _ string) {
	doc, err := s.OpenAPI()
	if err != nil {
		s.Log.Error("building the OpenAPI document", "err", err)
		problem.Write(w, problem.New(http.StatusInternalServerError, "No document", "the OpenAPI document could not be built; the log says why"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(doc)
}
