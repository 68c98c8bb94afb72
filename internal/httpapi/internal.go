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
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// Server is the internal API.
type Server struct {
	Routes  *routes.Table
	Callers []config.Caller
	Store   store.Store // read: a caller's own message
	Ledger  *ledger.Ledger
	Log     *slog.Logger
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

// Handler returns the mux.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/routes/{route}", s.callRoute)
	mux.HandleFunc("GET /v1/messages/{id}", s.getMessage)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	for _, e := range s.Extra {
		mux.Handle(e.Pattern, s.guard(e))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, problem.New(http.StatusNotFound, "Not found", fmt.Sprintf("%s %s is not part of the internal API; routes are called with POST /v1/routes/{route}", r.Method, r.URL.Path)))
	})
	return mux
}

// CorrelationID is the caller's X-Correlation-Id, or a new one.
func CorrelationID(r *http.Request) string {
	if id := r.Header.Get("X-Correlation-Id"); id != "" && len(id) <= 128 && printable(id) {
		return id
	}
	return routes.NewMessageID()
}

func (s *Server) callRoute(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	name := r.PathValue("route")
	corr := CorrelationID(r)
	w.Header().Set("X-Correlation-Id", corr)
	id := routes.NewMessageID()
	reject := func(caller string, p *problem.Problem, body []byte) {
		p.MessageID = id
		err := s.Ledger.Refused(r.Context(), ledger.Refusal{ID: id, Route: name, Caller: caller, CorrelationID: corr, Started: started,
			HTTPStatus: p.Status, Reason: p.Error(), Body: body})
		if err != nil {
			s.Log.Error("recording a refused call", "messageId", id, "err", err)
		}
		problem.Write(w, p)
	}

	caller, ok := auth.Caller(s.Callers, r)
	if !ok {
		reject("anonymous", problem.New(http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <token> with a token issued to your system"), nil)
		return
	}
	route, ok := s.Routes.Get(name)
	if ok && route.Inbound != nil {
		reject(caller, problem.New(http.StatusNotFound, "Inbound route", fmt.Sprintf("route %s receives messages from agencies on channel %s; it is not called through the internal API", name, route.Inbound.Channel)), nil)
		return
	}
	if !ok {
		body, _ := io.ReadAll(io.LimitReader(r.Body, s.MaxBody))
		reject(caller, problem.New(http.StatusNotFound, "Unknown route", fmt.Sprintf("no route named %q; known routes: %s", name, strings.Join(s.Routes.Names(), ", "))), body)
		return
	}
	if !route.Allows(caller) {
		reject(caller, problem.New(http.StatusForbidden, "Forbidden", fmt.Sprintf("caller %q may not use route %s", caller, name)), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(route.MaxBody)))
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
	key := r.Header.Get("Idempotency-Key")
	if p := checkIdempotencyKey(key); p != nil {
		reject(caller, p, body)
		return
	}

	x := &routes.Exchange{Route: route, Caller: caller, Started: started, Request: adapters.Request{
		Route: name, Operation: route.Operation, MessageID: id, CorrelationID: corr,
		IdempotencyKey: key, Body: body,
	}}
	err = route.Call(r.Context(), x)
	log := s.Log.With("route", name, "caller", caller, "correlationId", corr, "messageId", id, "outcome", x.Outcome)
	if err != nil {
		p := problem.From(name, err)
		if p.MessageID == "" && x.Outcome != routes.OutcomeDuplicate {
			p.MessageID = id
		}
		if p.Status >= 500 {
			log.Warn("route call failed", "status", p.Status, "err", err)
		}
		problem.Write(w, p)
		return
	}
	w.Header().Set("Content-Type", "application/json")
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
	if x.Outcome == routes.OutcomeDuplicate {
		w.Header().Set("Idempotent-Replayed", "true")
	}
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
		problem.Write(w, problem.New(http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <token>"))
		return
	}
	id := r.PathValue("id")
	m, err := s.Store.Get(r.Context(), id)
	if err != nil || m.Caller != caller {
		// Another caller's message is reported as absent, not forbidden,
		// so ids cannot be probed.
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			problem.Write(w, problem.New(http.StatusServiceUnavailable, "Message store unavailable", err.Error()))
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

func (s *Server) guard(e Extra) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, ok := auth.Caller(s.Callers, r)
		if !ok {
			problem.Write(w, problem.New(http.StatusUnauthorized, "Unauthorized", "send Authorization: Bearer <token>"))
			return
		}
		for _, name := range e.Routes {
			if rt, ok := s.Routes.Get(name); ok && rt.Allows(caller) {
				e.Handler.ServeHTTP(w, r)
				return
			}
		}
		problem.Write(w, problem.New(http.StatusForbidden, "Forbidden", fmt.Sprintf("caller %q may use none of the routes %s", caller, strings.Join(e.Routes, ", "))))
	})
}
