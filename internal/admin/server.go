// Package admin serves the operators' API (messages, replay, breakers, audit
// verification, health and metrics) and the client the kopir CLI uses to
// talk to it.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/minfin-kz/kopir/internal/auth"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/evidence"
	"github.com/minfin-kz/kopir/internal/jobs"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
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
}

// Server is the admin API.
type Server struct {
	Admins   []config.Caller
	Store    store.Store
	Replayer Replayer
	Breakers func() []BreakerState
	Metrics  http.Handler
	Ready    func() error
	Log      *slog.Logger
	// Evidence opens and re-verifies kept documents; nil: none are kept.
	Evidence *evidence.Vault
	// EvidenceAccessed records an operator's reading or verifying of a
	// message's evidence on its audit trail.
	EvidenceAccessed func(ctx context.Context, messageID, operator, detail string) error
}

// Handler returns the mux; everything under /admin/ needs an admin token.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	auth := func(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			op, ok := auth.Caller(s.Admins, r)
			if !ok {
				problem.Write(w, problem.New(http.StatusUnauthorized, "Unauthorized", "the admin API needs Authorization: Bearer <admin token>"))
				return
			}
			h(w, r, op)
		}
	}
	mux.HandleFunc("GET /admin/v1/messages", auth(s.list))
	mux.HandleFunc("GET /admin/v1/messages/{id}", auth(s.show))
	mux.HandleFunc("POST /admin/v1/messages/{id}/replay", auth(s.replayOne))
	mux.HandleFunc("POST /admin/v1/replay", auth(s.replayBulk))
	mux.HandleFunc("GET /admin/v1/replay/{job}", auth(s.job))
	mux.HandleFunc("GET /admin/v1/breakers", auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		writeJSON(w, 200, map[string]any{"breakers": s.Breakers()})
	}))
	mux.HandleFunc("GET /admin/v1/audit/verify", auth(s.verify))
	mux.HandleFunc("GET /admin/v1/stats", auth(s.stats))
	s.evidenceRoutes(mux, auth)
	mux.Handle("GET /metrics", s.Metrics)
	// Profiles show request bodies' shapes and timings: admin token only.
	mux.HandleFunc("GET /debug/pprof/", auth(func(w http.ResponseWriter, r *http.Request, _ string) { pprof.Index(w, r) }))
	mux.HandleFunc("GET /debug/pprof/profile", auth(func(w http.ResponseWriter, r *http.Request, _ string) { pprof.Profile(w, r) }))
	mux.HandleFunc("GET /debug/pprof/trace", auth(func(w http.ResponseWriter, r *http.Request, _ string) { pprof.Trace(w, r) }))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Ready(); err != nil {
			problem.Write(w, problem.New(http.StatusServiceUnavailable, "Not ready", err.Error()))
			return
		}
		w.Write([]byte("ready\n"))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// FilterFromQuery reads status, route, direction, caller, since, before,
// after and limit.
func FilterFromQuery(q map[string][]string) (store.Filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := store.Filter{Status: store.Status(get("status")), Route: get("route"), Direction: store.Direction(get("direction")),
		Caller: get("caller"), AfterID: get("after")}
	switch f.Status {
	case "", store.Received, store.Queued, store.Delivered, store.Failed, store.Dead, store.Rejected:
	default:
		return f, fmt.Errorf("status: %q is not one of RECEIVED, QUEUED, DELIVERED, FAILED, DEAD, REJECTED", f.Status)
	}
	for k, dst := range map[string]*time.Time{"since": &f.Since, "before": &f.Before} {
		if v := get(k); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not an RFC 3339 time", k, v)
			}
			*dst = t
		}
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, fmt.Errorf("limit: %q is not a number from 1 to 1000", v)
		}
		f.Limit = n
	}
	return f, nil
}

func badRequest(w http.ResponseWriter, err error) {
	problem.Write(w, problem.New(http.StatusBadRequest, "Bad request", err.Error()))
}

func storeFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		problem.Write(w, problem.New(http.StatusNotFound, "Unknown message", err.Error()))
		return
	}
	problem.Write(w, problem.New(http.StatusServiceUnavailable, "Message store unavailable", err.Error()))
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, _ string) {
	f, err := FilterFromQuery(r.URL.Query())
	if err != nil {
		badRequest(w, err)
		return
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	items, err := s.Store.List(r.Context(), f)
	if err != nil {
		storeFailed(w, err)
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

func (s *Server) show(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	m, err := s.Store.Get(r.Context(), id)
	if err != nil {
		storeFailed(w, err)
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
		storeFailed(w, err)
		return
	}
	writeJSON(w, 200, d)
}

func (s *Server) replayOne(w http.ResponseWriter, r *http.Request, op string) {
	m, err := s.Replayer.Replay(r.Context(), r.PathValue("id"), op)
	if err != nil {
		var p *problem.Problem
		if errors.As(err, &p) {
			problem.Write(w, p)
			return
		}
		storeFailed(w, err)
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
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		badRequest(w, fmt.Errorf("body: %w", err))
		return
	}
	if req.Status == "" {
		req.Status = string(store.Dead)
	}
	q := map[string][]string{"status": {req.Status}, "route": {req.Route}, "since": {req.Since}, "before": {req.Before}}
	f, err := FilterFromQuery(q)
	if err != nil {
		badRequest(w, err)
		return
	}
	if f.Status != store.Dead && f.Status != store.Failed {
		badRequest(w, fmt.Errorf("status: only DEAD or FAILED messages are replayed, not %s", f.Status))
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
		problem.Write(w, problem.New(http.StatusNotFound, "Unknown replay job", r.PathValue("job")))
		return
	}
	writeJSON(w, 200, j.Snapshot())
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request, _ string) {
	res, err := s.Store.VerifyAudit(r.Context())
	if err != nil {
		storeFailed(w, err)
		return
	}
	status := 200
	if !res.OK {
		status = http.StatusConflict
	}
	writeJSON(w, status, res)
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request, _ string) {
	f, err := FilterFromQuery(r.URL.Query())
	if err != nil {
		badRequest(w, err)
		return
	}
	c, err := s.Store.Count(r.Context(), f)
	if err != nil {
		storeFailed(w, err)
		return
	}
	writeJSON(w, 200, map[string]any{"counts": c})
}
