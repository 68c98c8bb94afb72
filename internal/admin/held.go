package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/minfin-kz/kopir/internal/held"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// Held is the held-for-clarification queue: messages a channel accepted
// but held because a business check an operator can judge failed. The
// admin API and the console drive it through this interface;
// internal/held implements it.
//
// Errors: a *problem.Problem is the answer to give as it is (404 never
// held or unknown change, 409 not held any more / change pending or
// decided / same operator under four eyes, 422 payload refused naming
// every field in Problems, 400 reason missing); an error wrapping
// store.ErrNotFound is an unknown message; anything else is the store's
// failure.
//
// The operator is the authenticated admin's name, put on the message's
// audit trail by every action that changes something.
type Held interface {
	// List returns held messages matching f (status is always HELD),
	// newest first, each with its reasons; page with f.AfterID.
	List(ctx context.Context, f store.Filter) ([]held.Message, error)
	// Count returns how many messages are held per async route (route:
	// only that one).
	Count(ctx context.Context, route string) (map[string]int, error)
	// Get returns a held (or once held) message, bodies masked as stored,
	// with its reasons and every change proposed to it.
	Get(ctx context.Context, id string) (*held.Message, error)
	// Payload returns the payload a held message would deliver, unmasked,
	// to edit; the reading is audited.
	Payload(ctx context.Context, id, operator string) (json.RawMessage, error)
	// Check checks payload as the message's new body and changes nothing:
	// cheap enough to call as the operator types.
	Check(ctx context.Context, id string, payload json.RawMessage) (*held.Check, error)
	// Propose takes an edit (refused while its check finds anything). On a
	// route with held.fourEyes it waits as a PENDING change; otherwise the
	// message is resubmitted with it at once (status QUEUED).
	Propose(ctx context.Context, id string, payload json.RawMessage, operator, reason string) (*held.Outcome, error)
	// Approve applies a pending change and resubmits the message; the
	// change's proposer may not approve it.
	Approve(ctx context.Context, id, changeID, operator string) (*held.Outcome, error)
	// Decline sets a pending change aside; the message stays held.
	Decline(ctx context.Context, id, changeID, operator, reason string) (*held.Outcome, error)
	// Resubmit sends the message on as it is, once its checks pass.
	Resubmit(ctx context.Context, id, operator, reason string) (*held.Outcome, error)
	// Discard ends the message as DISCARDED; reason is required.
	Discard(ctx context.Context, id, operator, reason string) (*held.Outcome, error)
}

var _ Held = (*held.Service)(nil)

// MaxHeldPayload bounds an edited payload sent to the admin API: as large
// as the largest inbound route's body (a page of a statement) may be.
const MaxHeldPayload = 16 << 20

// HeldPage is one page of the held queue; Next goes in ?after=.
type HeldPage struct {
	Items []held.Message `json:"items"`
	Next  string         `json:"next,omitempty"`
}

// ReasonRequest is the body of a decline, resubmit or discard.
type ReasonRequest struct {
	Reason string `json:"reason"`
}

// ChangeRequest is the body of an edit.
type ChangeRequest struct {
	Payload json.RawMessage `json:"payload"`
	Reason  string          `json:"reason"`
}

// heldFailed answers a failed held-queue action.
func (s *Server) heldFailed(w http.ResponseWriter, id string, err error) {
	var p *problem.Problem
	if errors.As(err, &p) {
		problem.Write(w, p)
		return
	}
	s.storeFailed(w, id, err)
}

// heldID reads the message id from the path, refusing one that cannot be.
func (s *Server) heldID(w http.ResponseWriter, r *http.Request, op string) (string, bool) {
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		s.badRequest(w, r, op, errInvalidID)
		return "", false
	}
	return id, true
}

func (s *Server) heldList(w http.ResponseWriter, r *http.Request, op string) {
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "route", "since", "before", "after", "limit":
		default:
			s.badRequest(w, r, op, paramErr(k, "is not a parameter of the held queue (route, since, before, after, limit)"))
			return
		}
	}
	f, err := FilterFromQuery(q)
	if err != nil {
		s.badRequest(w, r, op, err)
		return
	}
	if f.Limit == 0 {
		f.Limit = 100
	}
	items, err := s.Held.List(r.Context(), f)
	if err != nil {
		s.heldFailed(w, f.AfterID, err)
		return
	}
	page := HeldPage{Items: items}
	if len(items) == f.Limit {
		page.Next = items[len(items)-1].ID
	}
	writeJSON(w, 200, page)
}

func (s *Server) heldCounts(w http.ResponseWriter, r *http.Request, op string) {
	q := r.URL.Query()
	for k, v := range q {
		if k != "route" || len(v) > 1 {
			s.badRequest(w, r, op, paramErr(k, "is not a parameter of the held counts (route, once)"))
			return
		}
	}
	c, err := s.Held.Count(r.Context(), q.Get("route"))
	if err != nil {
		s.heldFailed(w, "", err)
		return
	}
	total := 0
	for _, n := range c {
		total += n
	}
	writeJSON(w, 200, map[string]any{"counts": c, "total": total})
}

func (s *Server) heldShow(w http.ResponseWriter, r *http.Request, op string) {
	id, ok := s.heldID(w, r, op)
	if !ok {
		return
	}
	m, err := s.Held.Get(r.Context(), id)
	if err != nil {
		s.heldFailed(w, id, err)
		return
	}
	writeJSON(w, 200, m)
}

func (s *Server) heldPayload(w http.ResponseWriter, r *http.Request, op string) {
	id, ok := s.heldID(w, r, op)
	if !ok {
		return
	}
	p, err := s.Held.Payload(r.Context(), id, op)
	if err != nil {
		s.heldFailed(w, id, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(200)
	w.Write(p)
}

func (s *Server) heldCheck(w http.ResponseWriter, r *http.Request, op string) {
	id, ok := s.heldID(w, r, op)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxHeldPayload))
	if err != nil {
		if !errors.Is(err, httpguard.ErrBodyTimeout) {
			s.badRequest(w, r, op, paramErr("body", "%v", err))
		}
		return
	}
	c, err := s.Held.Check(r.Context(), id, body)
	if err != nil {
		s.heldFailed(w, id, err)
		return
	}
	writeJSON(w, 200, c)
}

func (s *Server) heldPropose(w http.ResponseWriter, r *http.Request, op string) {
	id, ok := s.heldID(w, r, op)
	if !ok {
		return
	}
	var req ChangeRequest
	if !s.heldBody(w, r, op, MaxHeldPayload, &req) {
		return
	}
	if len(req.Payload) == 0 {
		s.badRequest(w, r, op, paramErr("payload", "is required: the message's new body, a JSON object"))
		return
	}
	out, err := s.Held.Propose(r.Context(), id, req.Payload, op, req.Reason)
	s.heldAnswer(w, id, out, err)
}

func (s *Server) heldApprove(w http.ResponseWriter, r *http.Request, op string) {
	id, ok := s.heldID(w, r, op)
	if !ok {
		return
	}
	out, err := s.Held.Approve(r.Context(), id, r.PathValue("change"), op)
	s.heldAnswer(w, id, out, err)
}

// heldWithReason serves an action whose body is a ReasonRequest: decline,
// resubmit, discard.
func (s *Server) heldWithReason(act func(r *http.Request, id, op, reason string) (*held.Outcome, error)) handler {
	return func(w http.ResponseWriter, r *http.Request, op string) {
		id, ok := s.heldID(w, r, op)
		if !ok {
			return
		}
		var req ReasonRequest
		if !s.heldBody(w, r, op, MaxBodyBytes, &req) {
			return
		}
		out, err := act(r, id, op, req.Reason)
		s.heldAnswer(w, id, out, err)
	}
}

// heldBody reads an optional JSON body (an empty one leaves v as it is)
// strictly, answering the refusal itself.
func (s *Server) heldBody(w http.ResponseWriter, r *http.Request, op string, max int64, v any) bool {
	if r.ContentLength == 0 {
		return true
	}
	if err := decodeBodyMax(w, r, max, v); err != nil {
		if !errors.Is(err, httpguard.ErrBodyTimeout) {
			s.badRequest(w, r, op, err)
		}
		return false
	}
	return true
}

// heldAnswer answers an action: 202 once the message is on its way
// again, 200 when it stays where it is (a change waiting, declined) or
// ends (discarded).
func (s *Server) heldAnswer(w http.ResponseWriter, id string, out *held.Outcome, err error) {
	if err != nil {
		s.heldFailed(w, id, err)
		return
	}
	status := http.StatusOK
	if out.Status == store.Queued {
		status = http.StatusAccepted
	}
	writeJSON(w, status, out)
}
