// Package httpapi serves the internal API that the ministry's subsystems
// call: POST /v1/routes/{route} and GET /v1/messages/{id}. It authenticates
// the caller, bounds and checks the body, runs the route's pipeline and
// answers with JSON or application/problem+json.
package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/auth"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/tracing"
	"github.com/minfin-kz/kopir/routes"
)

// Server is the internal API.
type Server struct {
	Routes  *routes.Table
	Callers []config.Caller
	Store   store.Store // read: a caller's own message
	Log     *slog.Logger
	// Guard is the listener's guard; it records every refusal.
	Guard *httpguard.Listener
	// MaxBody bounds bodies sent to an unknown route.
	MaxBody int64
	// Extra are endpoints contributed by inbound channels.
	Extra []Extra
}

// Extra is an endpoint a channel adds to the internal API; a caller may use
// it if it may call at least one of Routes.
type Extra struct {
	Pattern string
	Handler http.Handler
	Routes  []string
}

// Handler returns the mux behind the listener's guard.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/routes/{route}", s.callRoute)
	mux.HandleFunc("GET /v1/routes/{route}/schema", s.routeSchema)
	mux.HandleFunc("GET /v1/messages/{id}", s.getMessage)
	mux.HandleFunc("GET /openapi.json", s.serveOpenAPI)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	for _, e := range s.Extra {
		mux.Handle(e.Pattern, s.guard(e))
	}
	return s.Guard.Handler(mux, func(*http.Request) string {
		return "this path is not part of the internal API; routes are called with POST /v1/routes/{route}"
	})
}

// RouteOf is the route a request to the internal API names, for the
// record of its refusal.
func RouteOf(r *http.Request) string {
	name, _ := strings.CutPrefix(r.URL.Path, "/v1/routes/")
	if name == r.URL.Path {
		return ""
	}
	return name
}

// MaxCorrelationID is the longest X-Correlation-Id accepted.
const MaxCorrelationID = 128

// correlationID is the caller's X-Correlation-Id, or a new one when it
// sent none; one that is too long or not printable ASCII is refused (and
// the refusal carries a new one).
func correlationID(r *http.Request) (string, *problem.Problem) {
	id := r.Header.Get("X-Correlation-Id")
	if id == "" {
		return routes.NewMessageID(), nil
	}
	if len(id) > MaxCorrelationID || !printable(id) {
		p := problem.New(http.StatusBadRequest, "Invalid X-Correlation-Id",
			fmt.Sprintf("the id is %d bytes; at most %d printable ASCII characters (0x20-0x7E) are accepted", len(id), MaxCorrelationID))
		p.Field = "X-Correlation-Id"
		return routes.NewMessageID(), p
	}
	return id, nil
}

func (s *Server) callRoute(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	name := r.PathValue("route")
	corr, badCorr := correlationID(r)
	w.Header().Set("X-Correlation-Id", corr)
	reject := func(caller string, p *problem.Problem, body []byte) {
		s.Guard.Refuse(w, r, httpguard.Refusal{Route: name, Caller: caller, CorrelationID: corr, Body: body}, p)
	}

	caller, ok := auth.Caller(s.Callers, r)
	if !ok {
		reject("", problem.New(http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <token> with a token issued to your system"), nil)
		return
	}
	if badCorr != nil {
		reject(caller, badCorr, nil)
		return
	}
	route, ok := s.Routes.Get(name)
	if ok && route.Inbound != nil {
		reject(caller, problem.New(http.StatusNotFound, "Inbound route", fmt.Sprintf("route %s receives messages from agencies on channel %s; it is not called through the internal API", route.Name, route.Inbound.Channel)), nil)
		return
	}
	if !ok {
		body, _ := io.ReadAll(io.LimitReader(r.Body, s.MaxBody))
		known := strings.Join(s.Routes.Names(), ", ")
		if !plainName(name) {
			// Not echoed: a name like that is an attack, not a typo.
			reject(caller, problem.New(http.StatusNotFound, "Not found", fmt.Sprintf(
				"no route has that name: route names are at most %d letters, digits, '.', '-' and '_'; known routes: %s", ledger.MaxName, known)), body)
			return
		}
		reject(caller, problem.New(http.StatusNotFound, "Unknown route", fmt.Sprintf("no route named %q; known routes: %s", name, known)), body)
		return
	}
	if !route.Allows(caller) {
		reject(caller, problem.New(http.StatusForbidden, "Forbidden", fmt.Sprintf("caller %q may not use route %s", caller, route.Name)), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(route.MaxBody)))
	if errors.Is(err, httpguard.ErrBodyTimeout) {
		return // the guard answers 408 and records it
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reject(caller, problem.New(http.StatusRequestEntityTooLarge, "Body too large", fmt.Sprintf("route %s accepts bodies up to %d bytes", name, route.MaxBody)), nil)
			return
		}
		reject(caller, problem.New(http.StatusBadRequest, "Unreadable body", err.Error()), nil)
		return
	}
	if p := checkJSONObject(body); p != nil {
		reject(caller, p, body)
		return
	}
	if p := strictJSON(body); p != nil {
		reject(caller, p, body)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if p := checkIdempotencyKey(key); p != nil {
		reject(caller, p, body)
		return
	}

	id := routes.NewMessageID()
	x := &routes.Exchange{Route: route, Caller: caller, Started: started, Request: adapters.Request{
		Route: name, Operation: route.Operation, MessageID: id, CorrelationID: corr,
		IdempotencyKey: key, Body: body,
	}}
	// A caller's traceparent makes the call a span of the caller's trace.
	err = route.Call(tracing.Extract(r.Context(), r.Header), x)
	if err != nil {
		p := problem.From(name, err)
		if p.MessageID == "" && x.Outcome != routes.OutcomeDuplicate {
			p.MessageID = id
		}
		if p.Status >= 500 {
			s.Log.Warn("route call failed", "route", name, "caller", caller, "correlationId", corr, "messageId", id,
				"outcome", x.Outcome, "trace_id", x.TraceID, "status", p.Status, "err", err, "cause", errors.Unwrap(err))
		}
		problem.Write(w, p)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if x.Outcome == routes.OutcomeDuplicate {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if route.Mode == routes.Async {
		m := x.Message
		w.Header().Set("X-Kopir-Message-Id", m.ID)
		w.WriteHeader(http.StatusAccepted)
		json.NewEncoder(w).Encode(map[string]string{"id": m.ID, "status": string(m.Status)})
		return
	}
	if x.Message != nil {
		id = x.Message.ID // idempotent repeat: the first message answered
	}
	w.Header().Set("X-Kopir-Message-Id", id)
	w.Write(x.Response.Body)
}

// checkJSONObject rejects anything but one JSON object, saying where it broke.
func checkJSONObject(body []byte) *problem.Problem {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return problem.New(http.StatusBadRequest, "Empty body", "the route expects a JSON object")
	}
	if trimmed[0] != '{' {
		return problem.New(http.StatusBadRequest, "Malformed JSON", "the body must be a JSON object")
	}
	if !json.Valid(trimmed) {
		var v any
		err := json.Unmarshal(trimmed, &v)
		detail := "the body is not valid JSON"
		var se *json.SyntaxError
		if errors.As(err, &se) {
			detail = fmt.Sprintf("the body is not valid JSON at byte %d: %v", se.Offset, se)
		}
		return problem.New(http.StatusBadRequest, "Malformed JSON", detail)
	}
	return nil
}

// StrictJSON refuses a body with a key given twice or text that is not
// UTF-8, naming the problem and its JSON path.
func strictJSON(body []byte) *problem.Problem {
	var je *adapters.JSONError
	if !errors.As(adapters.CheckJSON(body), &je) {
		return nil
	}
	title := map[string]string{adapters.JSONDuplicateKey: "Duplicate JSON key", adapters.JSONInvalidUTF8: "Invalid UTF-8",
		adapters.JSONInvalidUnicode: "Invalid Unicode escape", adapters.JSONTooDeep: "JSON nested too deep"}[je.Kind]
	p := problem.New(http.StatusBadRequest, title, "the body is ambiguous or not text: "+je.Error())
	p.Field = je.Path
	return p
}

// MaxIdempotencyKey is the longest Idempotency-Key accepted, as the HTTP
// idempotency-key draft suggests keys of at most a UUID's order of size.
const MaxIdempotencyKey = 255

// checkIdempotencyKey refuses a key that is too long or not printable
// ASCII before it reaches the store or the agency.
func checkIdempotencyKey(key string) *problem.Problem {
	if len(key) > MaxIdempotencyKey {
		p := problem.New(http.StatusBadRequest, "Invalid Idempotency-Key", fmt.Sprintf("the key is %d bytes; at most %d printable ASCII characters are accepted", len(key), MaxIdempotencyKey))
		p.Field = "Idempotency-Key"
		return p
	}
	if !printable(key) {
		p := problem.New(http.StatusBadRequest, "Invalid Idempotency-Key", "the key must be printable ASCII (0x20-0x7E)")
		p.Field = "Idempotency-Key"
		return p
	}
	return nil
}

// plainName tells whether a route name the caller sent could be one a
// config gives, and may be echoed back.
func plainName(s string) bool {
	if s == "" || len(s) > ledger.MaxName {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	caller, ok := auth.Caller(s.Callers, r)
	if !ok {
		s.Guard.Refuse(w, r, httpguard.Refusal{}, problem.New(http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <token>"))
		return
	}
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		p := problem.New(http.StatusBadRequest, "Invalid message id", "a message id is the UUID a call was answered with")
		p.Field = "id"
		s.Guard.Refuse(w, r, httpguard.Refusal{Caller: caller}, p)
		return
	}
	m, err := s.Store.Get(r.Context(), id)
	if err != nil || m.Caller != caller {
		// Another caller's message is reported as absent, not forbidden,
		// so ids cannot be probed.
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.Log.Error("reading a message for its caller", "messageId", id, "err", err)
			problem.Write(w, problem.StoreUnavailable(id))
			return
		}
		problem.Write(w, problem.New(http.StatusNotFound, "Unknown message", fmt.Sprintf("no message %s for caller %s", id, caller)))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"id": m.ID, "route": m.Route, "status": m.Status, "correlationId": m.CorrelationID,
		"attempts": m.Attempts, "error": m.Error, "createdAt": m.CreatedAt, "updatedAt": m.UpdatedAt,
	})
}

// routeSchema publishes the JSON Schema of a route's request and response,
// for routes whose adapter derives them (adapters.SchemaProvider); only a
// caller who may call the route may read it.
func (s *Server) routeSchema(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("route")
	caller, ok := auth.Caller(s.Callers, r)
	if !ok {
		s.Guard.Refuse(w, r, httpguard.Refusal{Route: name}, problem.New(http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <token> with a token issued to your system"))
		return
	}
	route, ok := s.Routes.Get(name)
	if !ok || route.Inbound != nil {
		detail := "no route has that name"
		if plainName(name) {
			detail = fmt.Sprintf("no route named %q", name)
		}
		s.Guard.Refuse(w, r, httpguard.Refusal{Route: name, Caller: caller}, problem.New(http.StatusNotFound, "Unknown route", detail))
		return
	}
	if !route.Allows(caller) {
		s.Guard.Refuse(w, r, httpguard.Refusal{Route: name, Caller: caller}, problem.New(http.StatusForbidden, "Forbidden", fmt.Sprintf("caller %q may not use route %s", caller, route.Name)))
		return
	}
	sp, ok := route.Adapter.(adapters.SchemaProvider)
	if !ok {
		problem.Write(w, problem.New(http.StatusNotFound, "No schema", fmt.Sprintf("route %s (adapter %s) publishes no schema of its JSON", route.Name, route.Spec.Adapter)))
		return
	}
	req, resp := sp.Schemas()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]json.RawMessage{"request": req, "response": resp})
}

func (s *Server) guard(e Extra) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := auth.Caller(s.Callers, r)
		if !ok {
			s.Guard.Refuse(w, r, httpguard.Refusal{}, problem.New(http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <token>"))
			return
		}
		for _, name := range e.Routes {
			if rt, ok := s.Routes.Get(name); ok && rt.Allows(caller) {
				e.Handler.ServeHTTP(w, r)
				return
			}
		}
		s.Guard.Refuse(w, r, httpguard.Refusal{Caller: caller}, problem.New(http.StatusForbidden, "Forbidden",
			fmt.Sprintf("caller %q may use none of the routes %s", caller, strings.Join(e.Routes, ", "))))
	})
}
