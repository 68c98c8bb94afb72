package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// TestCommittedOpenAPIDocuments fails when docs/ keeps documents that
// deploy/local.yaml's bus would no longer serve.
func TestCommittedOpenAPIDocuments(t *testing.T) {
	// The config names its files relative to the repository's root, where
	// make run starts the bus.
	t.Chdir(filepath.Join("..", ".."))
	for _, listener := range []string{"internal", "admin"} {
		t.Run(listener, func(t *testing.T) {
			var got bytes.Buffer
			if err := openAPI([]string{"-config", filepath.Join("deploy", "local.yaml"), "-listener", listener}, &got); err != nil {
				t.Fatal(err)
			}
			committed, err := os.ReadFile(filepath.Join("docs", "openapi-"+listener+".json"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), committed) {
				t.Errorf("docs/openapi-%[1]s.json is stale; write it again with: go run ./cmd/kopir openapi -listener %[1]s -o docs/openapi-%[1]s.json", listener)
			}
			if _, err := loadOpenAPI(committed); err != nil {
				t.Errorf("docs/openapi-%s.json: %v", listener, err)
			}
		})
	}
}

func TestOpenAPIRefusesUnknownListener(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	err := openAPI([]string{"-config", filepath.Join("deploy", "local.yaml"), "-listener", "agency"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "internal or admin") {
		t.Errorf("listener agency: %v", err)
	}
}

// loadOpenAPI parses and validates a document as OpenAPI 3.1.
func loadOpenAPI(raw []byte) (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		return nil, err
	}
	if doc.OpenAPI != "3.1.0" {
		return nil, fmt.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	return legacy.NewRouter(doc, openapi3.IsOpenAPI31OrLater())
}

// schema2020 validates bodies by JSON Schema 2020-12, the dialect of
// OpenAPI 3.1 and of the schemas adapters derive.
var schema2020 = []openapi3.SchemaValidationOption{openapi3.EnableJSONSchema2020()}

func openAPIConfig(h *harness) string {
	return fmt.Sprintf(`demo: true
listen: {internal: %q, agency: %q, admin: %q}
dataDir: %q
callers: [{name: demo, token: demo-token}, {name: other, token: other-token}]
admins: [{name: operator, token: admin-token, role: admin}, {name: watcher, token: viewer-token, role: viewer}]
routes:
  - name: gbdfl.person
    adapter: gbdfl
    operation: person
    endpoints: [http://%[5]s/shep/sync]
    callers: [demo, other]
    options: {senderId: kopir, password: kopir-secret}
  - name: subscriber.deliver
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/e2e]
    retry: {attempts: 3, backoff: 10ms, cap: 100ms}
    callers: [demo]
  - name: payments.credit-transfer
    adapter: iso20022
    operation: credit-transfer
    mode: async
    endpoints: [http://%[5]s/payments]
    callers: [demo]
    options: {senderBIC: KKMFKZ2A, receiverBIC: NBRKKZKX}
  - name: payments.status
    inbound: {channel: iso20022, key: pacs.002}
    adapter: http
    operation: deliver
    mode: async
    endpoints: [http://%[5]s/subscriber/payments/status]
  - name: inspections.subject
    adapter: shep
    operation: sync
    endpoints: [http://%[5]s/shep/sync]
    callers: [demo]
    options:
      serviceId: ERSP_SubjectInspections
      senderId: kopir
      password: kopir-secret
      request:  {schema: %[6]q, element: "{urn:kopir:shep:inspections:1}SubjectRequest"}
      response: {schema: %[7]q, element: "{urn:kopir:shep:inspections:1}SubjectResponse"}
      checks: {bin: [SubjectRequest/bin]}
channels:
  - name: iso20022
    options: {senders: [NBRKKZKX]}
`, h.internal, h.agency, h.admin, filepath.Join(h.dir, "data"), h.mocks,
		contract("inspections/request.xsd"), contract("inspections/response.xsd"))
}

// apiCheck sends real calls to one listener of the bus and validates each
// request and its answer against the listener's own OpenAPI document.
type apiCheck struct {
	t      *testing.T
	base   string
	router routers.Router
}

func (h *harness) apiCheck(t *testing.T, addr, token string) *apiCheck {
	t.Helper()
	c := &apiCheck{t: t, base: "http://" + addr}
	status, _, raw := c.send("GET", "/openapi.json", token, nil, "")
	if status != 200 {
		t.Fatalf("GET %s/openapi.json: %d %s", addr, status, raw)
	}
	var err error
	if c.router, err = loadOpenAPI(raw); err != nil {
		t.Fatalf("%s/openapi.json: %v", addr, err)
	}
	return c
}

func (c *apiCheck) send(method, path, token string, header map[string]string, body string) (int, http.Header, []byte) {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(c.request(method, path, token, header, body))
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, raw
}

func (c *apiCheck) request(method, path, token string, header map[string]string, body string) *http.Request {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// exchange makes the call, checks its status, validates request and
// answer against the document, and returns the answer's body.
func (c *apiCheck) exchange(method, path, token string, header map[string]string, body string, want int) []byte {
	c.t.Helper()
	return c.call(method, path, token, header, body, want, true)
}

// refused is exchange for a request the document itself refuses: the
// validator must find fault with it as the bus did.
func (c *apiCheck) refused(method, path, token string, header map[string]string, body string, want int) []byte {
	c.t.Helper()
	return c.call(method, path, token, header, body, want, false)
}

func (c *apiCheck) call(method, path, token string, header map[string]string, body string, want int, valid bool) []byte {
	c.t.Helper()
	status, respHeader, raw := c.send(method, path, token, header, body)
	if status != want {
		c.t.Errorf("%s %s: status %d, want %d: %s", method, path, status, want, raw)
	}
	in, err := c.validateRequest(method, path, token, header, body)
	switch {
	case in == nil:
		c.t.Errorf("%s %s: %v", method, path, err)
		return raw
	case valid && err != nil:
		c.t.Errorf("%s %s: the request disagrees with the document: %v", method, path, err)
	case !valid && err == nil:
		c.t.Errorf("%s %s: the bus refused a request the document allows", method, path)
	}
	if err := validateResponse(in, status, respHeader, raw); err != nil {
		c.t.Errorf("%s %s: the answer (%d) disagrees with the document: %v", method, path, status, err)
	}
	return raw
}

// validateRequest finds the request's operation and validates the request
// against it; the input is nil when the document has no such operation.
func (c *apiCheck) validateRequest(method, path, token string, header map[string]string, body string) (*openapi3filter.RequestValidationInput, error) {
	req := c.request(method, path, token, header, body)
	req.URL.Host, req.URL.Scheme = "", "" // the document names no servers
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return nil, fmt.Errorf("the document has no operation for it: %w", err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SchemaValidationOptions: schema2020}}
	return in, openapi3filter.ValidateRequest(context.Background(), in)
}

func validateResponse(in *openapi3filter.RequestValidationInput, status int, header http.Header, body []byte) error {
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: schema2020}})
}

// TestOpenAPIMatchesRealTraffic validates real calls to the running bus,
// successes and refusals, against the documents the bus itself serves at
// /openapi.json, so the documents cannot drift from the handlers.
func TestOpenAPIMatchesRealTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	h := newHarnessWith(t, openAPIConfig)

	api := h.apiCheck(t, h.internal, "demo-token")
	api.exchange("POST", "/v1/routes/gbdfl.person", "demo-token", map[string]string{"X-Correlation-Id": "openapi-1"}, `{"iin":"880501300124"}`, 200)
	api.exchange("POST", "/v1/routes/gbdfl.person", "", nil, `{"iin":"880501300124"}`, 401)
	inspection := `{"bin":"000740000728","year":2025}`
	api.exchange("POST", "/v1/routes/inspections.subject", "demo-token", nil, inspection, 200)
	// The route's schema is the one its answers are checked against: an
	// answer that breaks it is caught.
	in, err := api.validateRequest("POST", "/v1/routes/inspections.subject", "demo-token", nil, inspection)
	if in == nil || err != nil {
		t.Fatalf("inspections request: %v", err)
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	if err := validateResponse(in, 200, jsonHeader, []byte(`{"subject":{"bin":7}}`)); err == nil {
		t.Error("an inspections answer with a number for the subject's BIN passed the route's response schema")
	}
	api.exchange("POST", "/v1/routes/inspections.subject", "demo-token", nil, `{"bin":"000740000729"}`, 422)
	api.refused("POST", "/v1/routes/gbdfl.person", "demo-token", nil, `{"iin":`, 400)
	api.refused("POST", "/v1/routes/inspections.subject", "demo-token", nil, `{"bin":"000740000728","year":1999}`, 422)
	var accepted struct{ ID string }
	if err := json.Unmarshal(api.exchange("POST", "/v1/routes/subscriber.deliver", "demo-token", map[string]string{"Idempotency-Key": "openapi-async"}, `{"n":1}`, 202), &accepted); err != nil || accepted.ID == "" {
		t.Fatalf("async call: %v %+v", err, accepted)
	}
	api.exchange("GET", "/v1/messages/"+accepted.ID, "demo-token", nil, "", 200)
	api.exchange("GET", "/v1/messages/00000000-0000-4000-8000-000000000000", "demo-token", nil, "", 404)
	api.exchange("GET", "/v1/routes/inspections.subject/schema", "demo-token", nil, "", 200)
	api.exchange("GET", "/v1/routes/gbdfl.person/schema", "demo-token", nil, "", 404)
	api.exchange("GET", "/v1/payments/E2E-NEVER-SENT", "demo-token", nil, "", 404)
	api.exchange("GET", "/healthz", "", nil, "", 200)

	// A caller is shown the routes it may call, and only to a known caller.
	if status, _, _ := api.send("GET", "/openapi.json", "", nil, ""); status != 401 {
		t.Errorf("internal /openapi.json without a token: %d, want 401", status)
	}
	_, _, other := api.send("GET", "/openapi.json", "other-token", nil, "")
	var otherDoc struct{ Paths map[string]any }
	json.Unmarshal(other, &otherDoc)
	if _, ok := otherDoc.Paths["/v1/routes/gbdfl.person"]; !ok {
		t.Errorf("caller other's document lacks its route gbdfl.person: %s", other)
	}
	for _, hidden := range []string{"/v1/routes/inspections.subject", "/v1/payments/{endToEndId}"} {
		if _, ok := otherDoc.Paths[hidden]; ok {
			t.Errorf("caller other's document shows %s, which it may not use", hidden)
		}
	}

	adm := h.apiCheck(t, h.admin, "")
	adm.exchange("GET", "/admin/v1/messages?limit=5", "viewer-token", nil, "", 200)
	adm.exchange("GET", "/admin/v1/messages?status=LOST", "viewer-token", nil, "", 400)
	adm.exchange("GET", "/admin/v1/messages", "", nil, "", 401)
	adm.exchange("GET", "/admin/v1/messages/"+accepted.ID, "viewer-token", nil, "", 200)
	adm.exchange("POST", "/admin/v1/messages/"+accepted.ID+"/replay", "viewer-token", nil, "", 403)
	adm.exchange("GET", "/admin/v1/stats?route=subscriber.deliver", "viewer-token", nil, "", 200)
	adm.exchange("GET", "/admin/v1/breakers", "viewer-token", nil, "", 200)
	adm.exchange("POST", "/admin/v1/replay", "admin-token", nil, `{"status":"DEAD","route":"subscriber.deliver"}`, 202)
	adm.exchange("GET", "/admin/v1/audit/verify", "admin-token", nil, "", 200)
	adm.exchange("GET", "/readyz", "", nil, "", 200)
}
