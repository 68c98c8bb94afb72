// Package admin serves the operators' API (messages, replay, breakers, audit
// verification, health and metrics) and the client the kopir CLI uses to
// talk to it.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/auth"
	"github.com/minfin-kz/kopir/internal/clock"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/evidence"
	"github.com/minfin-kz/kopir/internal/held"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/jobs"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// Replayer puts dead messages back on their way.
type Replayer interface {
	Replay(ctx context.Context, id, operator string) (*store.Message, error)
	StartBulk(filter store.Filter, operator string) *jobs.Job
	Job(id string) (*jobs.Job, bool)
}

// BreakerState is one endpoint's breaker as reported to operators.
type BreakerState struct {
	Endpoint string `json:"endpoint"`
	State    string `json:"state"`
	Requests uint32 `json:"requests"`
	Failures uint32 `json:"consecutiveFailures"`
	// OpenUntil is when an open breaker lets a probe through (half-open).
	OpenUntil *time.Time `json:"openUntil,omitempty"`
}

// Denials records the calls an admin's role does not allow (the ledger).
type Denials interface {
	Denied(ctx context.Context, d ledger.Denial) error
}

// Server is the admin API.
type Server struct {
	Admins   []config.Admin
	Store    store.Store
	Replayer Replayer
	Breakers func() []BreakerState
	Metrics  http.Handler
	Ready    func() error
	Denials  Denials
	Log      *slog.Logger
	// Evidence opens and re-verifies kept documents; nil: none are kept.
	Evidence *evidence.Vault
	// EvidenceAccessed records an operator's reading or verifying of a
	// message's evidence on its audit trail.
	EvidenceAccessed func(ctx context.Context, messageID, operator, detail string) error
	// Guard is the listener's guard; it records refusals.
	Guard *httpguard.Listener
	// Clock is the bus's simulated clock; nil: the system's, which the
	// admin API shows but does not move.
	Clock *clock.Simulated
	// AuditVerified hears how each audit chain verification ended, so
	// that a broken chain reaches the alerting; nil: nobody listens.
	AuditVerified func(ok bool, err error, at time.Time)
	// Routes lists the bus's route names, for the console's search form;
	// nil: none are suggested.
	Routes func() []string
	// Console serves /console/ on this listener; nil: no console.
	Console http.Handler
	// Held is the held-for-clarification queue.
	Held Held
}

// handler serves one admin endpoint for the named admin.
type handler func(w http.ResponseWriter, r *http.Request, admin string)

// Open is the role of an endpoint that needs no token: probes and
// Prometheus scrapers hold none.
const Open config.Role = ""

// Endpoint is one admin endpoint and the least role that may call it.
type Endpoint struct {
	Pattern string
	Role    config.Role
	serve   handler
}

// Endpoints is every endpoint of the admin listener with the role it
// needs: the one place that decides who may do what.
func (s *Server) Endpoints() []Endpoint {
	return []Endpoint{
		{"GET /admin/v1/messages", config.RoleViewer, s.list},
		{"GET /admin/v1/messages/{id}", config.RoleViewer, s.show},
		{"POST /admin/v1/messages/{id}/replay", config.RoleOperator, s.replayOne},
		{"POST /admin/v1/replay", config.RoleOperator, s.replayBulk},
		{"GET /admin/v1/replay/{job}", config.RoleViewer, s.job},
		{"GET /admin/v1/breakers", config.RoleViewer, func(w http.ResponseWriter, r *http.Request, _ string) {
			writeJSON(w, 200, map[string]any{"breakers": s.Breakers()})
		}},
		{"GET /admin/v1/audit/verify", config.RoleAuditor, s.verify},
		{"GET /admin/v1/stats", config.RoleViewer, s.stats},
		{"GET /admin/v1/clock", config.RoleViewer, s.showClock},
		// Moving the clock opens and closes business windows for every
		// route: the whole bus's, so admins only.
		{"PUT /admin/v1/clock", config.RoleAdmin, s.setClock},
		// Kept documents hold personal data in clear (they cannot be masked
		// without breaking their signatures): auditors only.
		{"GET /admin/v1/messages/{id}/evidence", config.RoleAuditor, s.evidenceDocument},
		{"POST /admin/v1/messages/{id}/verify", config.RoleAuditor, s.evidenceVerify},
		// The held queue: viewers see it and check edits (which change
		// nothing); reading the unmasked payload and every decision are
		// operators'.
		{"GET /admin/v1/held", config.RoleViewer, s.heldList},
		{"GET /admin/v1/held/counts", config.RoleViewer, s.heldCounts},
		{"GET /admin/v1/held/{id}", config.RoleViewer, s.heldShow},
		{"POST /admin/v1/held/{id}/check", config.RoleViewer, s.heldCheck},
		{"GET /admin/v1/held/{id}/payload", config.RoleOperator, s.heldPayload},
		{"POST /admin/v1/held/{id}/changes", config.RoleOperator, s.heldPropose},
		{"POST /admin/v1/held/{id}/changes/{change}/approve", config.RoleOperator, s.heldApprove},
		{"POST /admin/v1/held/{id}/changes/{change}/decline", config.RoleOperator, s.heldWithReason(func(r *http.Request, id, op, reason string) (*held.Outcome, error) {
			return s.Held.Decline(r.Context(), id, r.PathValue("change"), op, reason)
		})},
		{"POST /admin/v1/held/{id}/resubmit", config.RoleOperator, s.heldWithReason(func(r *http.Request, id, op, reason string) (*held.Outcome, error) {
			return s.Held.Resubmit(r.Context(), id, op, reason)
		})},
		{"POST /admin/v1/held/{id}/discard", config.RoleOperator, s.heldWithReason(func(r *http.Request, id, op, reason string) (*held.Outcome, error) {
			return s.Held.Discard(r.Context(), id, op, reason)
		})},
		{"GET /metrics", Open, func(w http.ResponseWriter, r *http.Request, _ string) { s.Metrics.ServeHTTP(w, r) }},
		// Profiles show request bodies' shapes and timings.
		{"GET /debug/pprof/", config.RoleAdmin, func(w http.ResponseWriter, r *http.Request, _ string) { pprof.Index(w, r) }},
		{"GET /debug/pprof/profile", config.RoleAdmin, func(w http.ResponseWriter, r *http.Request, _ string) { pprof.Profile(w, r) }},
		{"GET /debug/pprof/trace", config.RoleAdmin, func(w http.ResponseWriter, r *http.Request, _ string) { pprof.Trace(w, r) }},
		// The document of this table; open, see serveOpenAPI.
		{"GET /openapi.json", Open, s.serveOpenAPI},
		{"GET /healthz", Open, func(w http.ResponseWriter, _ *http.Request, _ string) { w.Write([]byte("ok\n")) }},
		{"GET /readyz", Open, func(w http.ResponseWriter, _ *http.Request, _ string) {
			if err := s.Ready(); err != nil {
				problem.Write(w, problem.New(http.StatusServiceUnavailable, "Not ready", err.Error()))
				return
			}
			w.Write([]byte("ready\n"))
		}},
	}
}

// Handler returns the mux behind the listener's guard, each endpoint
// behind the check of its role.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, e := range s.Endpoints() {
		mux.HandleFunc(e.Pattern, s.authorize(e.Role, e.serve))
	}
	if s.Console != nil {
		// The console signs its users in with a session of its own and
		// checks the same roles for the same actions (see its package).
		mux.Handle("/console/", s.Console)
	}
	return s.Guard.Handler(mux, nil)
}

// authorize lets through an admin whose role grants need; any other call
// is answered 401 (no known token) or 403 (naming the role needed), both
// recorded.
func (s *Server) authorize(need config.Role, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if need == Open {
			h(w, r, "")
			return
		}
		a, ok := auth.Admin(s.Admins, r)
		if !ok {
			s.Guard.Refuse(w, r, httpguard.Refusal{}, problem.New(http.StatusUnauthorized, "Unauthorized", "the admin API needs Authorization: Bearer <admin token>"))
			return
		}
		if !a.Role.Grants(need) {
			s.forbid(w, r, a, need)
			return
		}
		h(w, r, a.Name)
	}
}

func (s *Server) forbid(w http.ResponseWriter, r *http.Request, a config.Admin, need config.Role) {
	if s.Denials != nil {
		d := ledger.Denial{Admin: a.Name, Role: string(a.Role), Needs: string(need), Method: r.Method, Path: r.URL.Path}
		if err := s.Denials.Denied(r.Context(), d); err != nil {
			s.Log.Error("recording a forbidden admin call", "admin", a.Name, "err", err)
		}
	}
	needs := string(need)
	if need != config.RoleAdmin {
		needs += " (or admin)"
	}
	// The pattern, not the path: what is echoed is the server's own words.
	problem.Write(w, problem.New(http.StatusForbidden, "Forbidden", fmt.Sprintf("admin %q has role %s; %s needs role %s", a.Name, a.Role, r.Pattern, needs)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// ParamError is a query parameter or body field of the admin API that is
// refused; Param names it.
type ParamError struct {
	Param string
	Msg   string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

func paramErr(param, format string, a ...any) *ParamError {
	return &ParamError{Param: param, Msg: fmt.Sprintf(format, a...)}
}

var errInvalidID = paramErr("id", "is not a message id (the UUID a call was answered with)")

// MaxListLimit is the largest page of a listing; MaxBulkReplay the most
// messages one bulk replay may take (0 there means all that match).
const (
	MaxListLimit  = 1000
	MaxBulkReplay = 100000
)

// FilterFromQuery reads status, route, subject, direction, caller,
// correlationId, externalId, since, before, after and limit; any other
// parameter, or one given twice, is refused.
func FilterFromQuery(q map[string][]string) (store.Filter, error) {
	for k, v := range q {
		switch k {
		case "status", "route", "subject", "direction", "caller", "correlationId", "externalId", "since", "before", "after", "limit":
		default:
			return store.Filter{}, paramErr(ledger.BoundName(k, ledger.MaxName), "is not a parameter of this listing (status, route, subject, direction, caller, correlationId, externalId, since, before, after, limit)")
		}
		if len(v) > 1 {
			return store.Filter{}, paramErr(k, "is given %d times; give it once", len(v))
		}
	}
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := store.Filter{Status: store.Status(get("status")), Route: get("route"), Direction: store.Direction(get("direction")),
		Caller: get("caller"), AfterID: get("after"), Subject: get("subject"),
		CorrelationID: get("correlationId"), ExternalID: get("externalId")}
	switch f.Status {
	case "", store.Received, store.Queued, store.Delivered, store.Failed, store.Dead, store.Rejected, store.Held, store.Discarded:
	default:
		return f, paramErr("status", "%q is not one of RECEIVED, QUEUED, HELD, DELIVERED, FAILED, DEAD, REJECTED, DISCARDED", ledger.BoundName(string(f.Status), 32))
	}
	switch f.Direction {
	case "", store.Inbound, store.Outbound:
	default:
		return f, paramErr("direction", "%q is neither IN nor OUT", ledger.BoundName(string(f.Direction), 32))
	}
	for k, v := range map[string]string{"route": f.Route, "caller": f.Caller} {
		if len(v) > ledger.MaxName {
			return f, paramErr(k, "is %d bytes; no stored %s is longer than %d", len(v), k, ledger.MaxName)
		}
	}
	for k, v := range map[string]string{"correlationId": f.CorrelationID, "externalId": f.ExternalID} {
		if len(v) > ledger.MaxKey {
			return f, paramErr(k, "is %d bytes; no stored %s is longer than %d", len(v), k, ledger.MaxKey)
		}
	}
	if len(f.Subject) > ledger.MaxSubject {
		return f, paramErr("subject", "is %d bytes; no stored subject is longer than %d", len(f.Subject), ledger.MaxSubject)
	}
	if f.AfterID != "" && !routes.ValidMessageID(f.AfterID) {
		return f, paramErr("after", "is not a message id")
	}
	for k, dst := range map[string]*time.Time{"since": &f.Since, "before": &f.Before} {
		if v := get(k); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, paramErr(k, "%q is not an RFC 3339 time", ledger.BoundName(v, 64))
			}
			*dst = t
		}
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxListLimit {
			return f, paramErr("limit", "%q is not a number from 1 to %d", ledger.BoundName(v, 32), MaxListLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// badRequest refuses a request of operator op with 400, naming the
// parameter at fault, and records the refusal.
func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, op string, err error) {
	p := problem.New(http.StatusBadRequest, "Bad request", err.Error())
	var pe *ParamError
	if errors.As(err, &pe) {
		p.Field = pe.Param
	}
	s.Guard.Refuse(w, r, httpguard.Refusal{Caller: op}, p)
}

// storeFailed answers a failed read of message id: 404 when it is not
// there, else 503 without the store's own words, which are logged.
func (s *Server) storeFailed(w http.ResponseWriter, id string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		problem.Write(w, problem.New(http.StatusNotFound, "Unknown message", fmt.Sprintf("no message %s", ledger.BoundName(id, ledger.MaxKey))))
		return
	}
	s.Log.Error("admin API: the message store failed", "messageId", id, "err", err)
	problem.Write(w, problem.StoreUnavailable(id))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, op string) {
	f, err := FilterFromQuery(r.URL.Query())
	if err != nil {
		s.badRequest(w, r, op, err)
		return
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	items, err := s.Store.List(r.Context(), f)
	if err != nil {
		s.storeFailed(w, f.AfterID, err)
		return
	}
	page := Page{Items: items}
	if len(items) == f.Limit {
		page.Next = items[len(items)-1].ID
	}
	writeJSON(w, 200, page)
}

// Page is one page of a message listing; Next goes in ?after= for the next.
type Page struct {
	Items []store.Message `json:"items"`
	Next  string          `json:"next,omitempty"`
}

// Detail is everything the store knows of one message.
type Detail struct {
	Message  *store.Message      `json:"message"`
	Attempts []store.Attempt     `json:"attempts"`
	Audit    []store.AuditRecord `json:"audit"`
	// Evidence lists the documents kept as received or sent (sealed; the
	// document itself is GET …/evidence).
	Evidence []store.Evidence `json:"evidence,omitempty"`
}

func (s *Server) show(w http.ResponseWriter, r *http.Request, op string) {
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		s.badRequest(w, r, op, errInvalidID)
		return
	}
	m, err := s.Store.Get(r.Context(), id)
	if err != nil {
		s.storeFailed(w, id, err)
		return
	}
	d := Detail{Message: m}
	if d.Attempts, err = s.Store.Attempts(r.Context(), id); err == nil {
		d.Audit, err = s.Store.Audit(r.Context(), id)
	}
	if err == nil {
		d.Evidence, err = s.Store.Evidence(r.Context(), id)
	}
	if err != nil {
		s.storeFailed(w, id, err)
		return
	}
	writeJSON(w, 200, d)
}

func (s *Server) replayOne(w http.ResponseWriter, r *http.Request, op string) {
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		s.badRequest(w, r, op, errInvalidID)
		return
	}
	m, err := s.Replayer.Replay(r.Context(), id, op)
	if err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			problem.Write(w, p)
			return
		}
		s.storeFailed(w, id, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": m.ID, "status": m.Status})
}

// BulkRequest selects what a bulk replay replays.
type BulkRequest struct {
	Status string `json:"status"`
	Route  string `json:"route"`
	Since  string `json:"since,omitempty"`
	Before string `json:"before,omitempty"`
	Limit  int    `json:"limit,omitempty"`
}

func (s *Server) replayBulk(w http.ResponseWriter, r *http.Request, op string) {
	var req BulkRequest
	if err := decodeBody(w, r, &req); err != nil {
		if !errors.Is(err, httpguard.ErrBodyTimeout) { // else the guard answers 408
			s.badRequest(w, r, op, err)
		}
		return
	}
	if req.Limit < 0 || req.Limit > MaxBulkReplay {
		s.badRequest(w, r, op, paramErr("limit", "%d is not a number from 1 to %d (or 0 for every matching message)", req.Limit, MaxBulkReplay))
		return
	}
	if req.Status == "" {
		req.Status = string(store.Dead)
	}
	q := map[string][]string{"status": {req.Status}, "route": {req.Route}, "since": {req.Since}, "before": {req.Before}}
	f, err := FilterFromQuery(q)
	if err != nil {
		s.badRequest(w, r, op, err)
		return
	}
	if f.Status != store.Dead && f.Status != store.Failed {
		s.badRequest(w, r, op, paramErr("status", "only DEAD or FAILED messages are replayed, not %s", f.Status))
		return
	}
	f.Limit = req.Limit
	job := s.Replayer.StartBulk(f, op)
	w.Header().Set("Location", "/admin/v1/replay/"+job.ID)
	writeJSON(w, http.StatusAccepted, job.Snapshot())
}

func (s *Server) job(w http.ResponseWriter, r *http.Request, _ string) {
	j, ok := s.Replayer.Job(r.PathValue("job"))
	if !ok {
		problem.Write(w, problem.New(http.StatusNotFound, "Unknown replay job", fmt.Sprintf("no replay job %s", ledger.BoundName(r.PathValue("job"), ledger.MaxKey))))
		return
	}
	writeJSON(w, 200, j.Snapshot())
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request, _ string) {
	res, err := s.Store.VerifyAudit(r.Context())
	if s.AuditVerified != nil {
		s.AuditVerified(res.OK, err, time.Now())
	}
	if err != nil {
		s.storeFailed(w, "", err)
		return
	}
	status := 200
	if !res.OK {
		status = http.StatusConflict
	}
	writeJSON(w, status, res)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, op string) {
	f, err := FilterFromQuery(r.URL.Query())
	if err != nil {
		s.badRequest(w, r, op, err)
		return
	}
	c, err := s.Store.Count(r.Context(), f)
	if err != nil {
		s.storeFailed(w, "", err)
		return
	}
	writeJSON(w, 200, map[string]any{"counts": c})
}

// MaxBodyBytes bounds an admin API request body.
const MaxBodyBytes = 64 << 10

// decodeBody reads one JSON object into v strictly: no key twice, UTF-8
// only, no unknown field, nothing after it; each refusal names the field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	return decodeBodyMax(w, r, MaxBodyBytes, v)
}

// decodeBodyMax is decodeBody for a body of up to max bytes.
func decodeBodyMax(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if errors.Is(err, httpguard.ErrBodyTimeout) {
		return err
	}
	if err != nil {
		return paramErr("body", "%v", err)
	}
	if err := adapters.DecodeStrict(body, v); err != nil {
		var ae *adapters.Error
		if errors.As(err, &ae) && ae.Field != "" {
			return paramErr(ae.Field, "%s", ae.Detail)
		}
		return paramErr("body", "%v", err)
	}
	return nil
}
