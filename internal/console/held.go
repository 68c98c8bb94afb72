package console

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/held"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// heldPages mounts the held queue's pages when the bus has one. Each
// needs the role of the admin API endpoint doing the same.
func (c *Console) heldPages(mux *http.ServeMux) {
	if c.held == nil {
		return
	}
	mux.HandleFunc("GET /console/held", c.signedIn("GET /admin/v1/held", c.heldList))
	mux.HandleFunc("GET /console/held/{id}", c.signedIn("GET /admin/v1/held/{id}", c.heldShow))
	mux.HandleFunc("POST /console/held/{id}/check", c.signedIn("POST /admin/v1/held/{id}/check", c.heldCheck))
	mux.HandleFunc("GET /console/held/{id}/edit", c.signedIn("GET /admin/v1/held/{id}/payload", c.heldEdit))
	mux.HandleFunc("POST /console/held/{id}/changes", c.signedIn("POST /admin/v1/held/{id}/changes", c.heldPropose))
	mux.HandleFunc("GET /console/held/{id}/changes/{change}/{action}", c.signedIn("POST /admin/v1/held/{id}/changes/{change}/approve", c.heldConfirmChange))
	mux.HandleFunc("POST /console/held/{id}/changes/{change}/approve", c.signedIn("POST /admin/v1/held/{id}/changes/{change}/approve", c.heldDecide))
	mux.HandleFunc("POST /console/held/{id}/changes/{change}/decline", c.signedIn("POST /admin/v1/held/{id}/changes/{change}/decline", c.heldDecide))
	mux.HandleFunc("GET /console/held/{id}/{action}", c.signedIn("POST /admin/v1/held/{id}/resubmit", c.heldConfirm))
	mux.HandleFunc("POST /console/held/{id}/resubmit", c.signedIn("POST /admin/v1/held/{id}/resubmit", c.heldAct))
	mux.HandleFunc("POST /console/held/{id}/discard", c.signedIn("POST /admin/v1/held/{id}/discard", c.heldAct))
}

func (c *Console) heldList(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	api := map[string][]string{"limit": {"50"}}
	for _, k := range []string{"route", "after"} {
		if v := q.Get(k); v != "" {
			api[k] = []string{v}
		}
	}
	f, err := admin.FilterFromQuery(api)
	if err != nil {
		c.fail(w, r, s, http.StatusBadRequest, "Cannot list", err.Error())
		return
	}
	items, err := c.held.List(r.Context(), f)
	if err != nil {
		c.heldFailed(w, r, s, "the held queue", err)
		return
	}
	counts, err := c.held.Count(r.Context(), "")
	if err != nil {
		c.heldFailed(w, r, s, "the held queue", err)
		return
	}
	v := heldListView{Items: items, Counts: counts, Route: f.Route}
	if len(items) == f.Limit {
		v.Next = "/console/held?" + url.Values{"after": {items[len(items)-1].ID}, "route": {f.Route}}.Encode()
	}
	c.render(w, r, http.StatusOK, s, "Held for clarification", heldListPage(v))
}

// heldFailed renders a failed held-queue action: the service's own answer
// when it gave one (409 not held any more, 422 fields at fault…).
func (c *Console) heldFailed(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	var p *problem.Problem
	if errors.As(err, &p) {
		c.fail(w, r, s, p.Status, p.Title, p.Detail)
		return
	}
	c.storeFailed(w, r, s, what, err)
}

func (c *Console) heldMessage(w http.ResponseWriter, r *http.Request, s *session) (*held.Message, bool) {
	id := r.PathValue("id")
	if !routes.ValidMessageID(id) {
		c.fail(w, r, s, http.StatusBadRequest, "Not a message id", "the address does not hold a message id")
		return nil, false
	}
	m, err := c.held.Get(r.Context(), id)
	if err != nil {
		c.heldFailed(w, r, s, "message "+id, err)
		return nil, false
	}
	return m, true
}

func (c *Console) heldShow(w http.ResponseWriter, r *http.Request, s *session) {
	m, ok := c.heldMessage(w, r, s)
	if !ok {
		return
	}
	v := heldView{M: m, Body: formatBody(m.RequestBody), Done: doneSeq(r),
		CanAct: s.Role.Grants(c.roleOf("POST /admin/v1/held/{id}/changes")) && m.Status == store.Held}
	c.render(w, r, http.StatusOK, s, "Held "+short(m.ID), heldPage(v))
}

// checkAnswer is what the edit page's script gets for a payload.
type checkAnswer struct {
	OK       bool                   `json:"ok"`
	Problems []problem.FieldProblem `json:"problems"`
	Digest   string                 `json:"digest,omitempty"`
}

func problemsOf(ch *held.Check) []problem.FieldProblem {
	out := []problem.FieldProblem{}
	for _, p := range ch.Invalid {
		out = append(out, problem.FieldProblem{Field: p.Field, Detail: p.Reason})
	}
	for _, p := range ch.Held {
		out = append(out, problem.FieldProblem{Field: p.Field, Detail: p.Reason})
	}
	return out
}

// heldCheck runs the contract's and the business checks on the payload
// being edited, as the operator types; it changes nothing.
func (c *Console) heldCheck(w http.ResponseWriter, r *http.Request, s *session) {
	r.Body = http.MaxBytesReader(w, r.Body, admin.MaxHeldPayload)
	payload, err := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		json.NewEncoder(w).Encode(checkAnswer{Problems: []problem.FieldProblem{{Field: "payload", Detail: "is larger than the console takes"}}})
		return
	}
	ch, err := c.held.Check(r.Context(), r.PathValue("id"), payload)
	if err != nil {
		var p *problem.Problem
		status := http.StatusServiceUnavailable
		reason := "the check could not run; try again"
		if errors.As(err, &p) {
			status, reason = p.Status, p.Detail
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(checkAnswer{Problems: []problem.FieldProblem{{Detail: reason}}})
		return
	}
	json.NewEncoder(w).Encode(checkAnswer{OK: ch.OK, Problems: problemsOf(ch), Digest: ch.Digest})
}

// heldEdit shows the payload to edit; reading it unmasked is audited.
func (c *Console) heldEdit(w http.ResponseWriter, r *http.Request, s *session) {
	m, ok := c.heldMessage(w, r, s)
	if !ok {
		return
	}
	payload, err := c.held.Payload(r.Context(), m.ID, s.Admin)
	if err != nil {
		c.heldFailed(w, r, s, "message "+m.ID, err)
		return
	}
	c.render(w, r, http.StatusOK, s, "Edit held "+short(m.ID), heldEditPage(s, heldEditView{M: m, Payload: indentJSON(payload)}))
}

func indentJSON(b []byte) string {
	if f := formatBody(b); f != nil {
		return f.Text
	}
	return ""
}

func (c *Console) heldPropose(w http.ResponseWriter, r *http.Request, s *session) {
	m, ok := c.heldMessage(w, r, s)
	if !ok {
		return
	}
	payload := strings.TrimSpace(r.PostFormValue("payload"))
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	out, err := c.held.Propose(r.Context(), m.ID, json.RawMessage(payload), s.Admin, reason)
	if err != nil {
		var p *problem.Problem
		if errors.As(err, &p) && (p.Status == http.StatusUnprocessableEntity || p.Status == http.StatusBadRequest) {
			// Back to the form with what the operator typed and every
			// field at fault.
			c.render(w, r, p.Status, s, "Edit held "+short(m.ID), heldEditPage(s, heldEditView{M: m, Payload: payload, Reason: reason, Refused: p}))
			return
		}
		c.heldFailed(w, r, s, "message "+m.ID, err)
		return
	}
	c.afterHeld(w, r, s, out.MessageID)
}

// afterHeld shows the message after an action, with the audit entry the
// action wrote.
func (c *Console) afterHeld(w http.ResponseWriter, r *http.Request, s *session, id string) {
	http.Redirect(w, r, "/console/held/"+id+c.doneBy(r, s, id), http.StatusSeeOther)
}

// heldConfirmChange asks before an approval or a decline, showing the
// change: what it replaces, with what, and what the checks say now.
func (c *Console) heldConfirmChange(w http.ResponseWriter, r *http.Request, s *session) {
	action := r.PathValue("action")
	if action != "approve" && action != "decline" {
		c.fail(w, r, s, http.StatusNotFound, "Not found", "a change is approved or declined")
		return
	}
	m, ok := c.heldMessage(w, r, s)
	if !ok {
		return
	}
	var ch *store.HeldChange
	for i := range m.Changes {
		if m.Changes[i].ID == r.PathValue("change") {
			ch = &m.Changes[i]
		}
	}
	if ch == nil {
		c.fail(w, r, s, http.StatusNotFound, "Unknown change", "message "+m.ID+" has no such change")
		return
	}
	v := heldConfirmView{M: m, C: ch, Action: action, Proposed: formatBody(ch.Payload), Mine: ch.Proposer == s.Admin}
	if len(ch.Payload) > 0 {
		if res, err := c.held.Check(r.Context(), m.ID, ch.Payload); err == nil {
			v.Problems = problemsOf(res)
		}
	}
	c.render(w, r, http.StatusOK, s, action+" "+short(m.ID)+"?", heldConfirmPage(s, v))
}

func (c *Console) heldDecide(w http.ResponseWriter, r *http.Request, s *session) {
	id, change := r.PathValue("id"), r.PathValue("change")
	var out *held.Outcome
	var err error
	if strings.HasSuffix(r.URL.Path, "/approve") {
		out, err = c.held.Approve(r.Context(), id, change, s.Admin)
	} else {
		out, err = c.held.Decline(r.Context(), id, change, s.Admin, strings.TrimSpace(r.PostFormValue("reason")))
	}
	if err != nil {
		c.heldFailed(w, r, s, "message "+id, err)
		return
	}
	c.afterHeld(w, r, s, out.MessageID)
}

// heldConfirm asks for a reason before a resubmission or a discard.
func (c *Console) heldConfirm(w http.ResponseWriter, r *http.Request, s *session) {
	action := r.PathValue("action")
	if action != "resubmit" && action != "discard" {
		c.fail(w, r, s, http.StatusNotFound, "Not found", "no such page of a held message")
		return
	}
	m, ok := c.heldMessage(w, r, s)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, s, action+" "+short(m.ID)+"?", heldConfirmPage(s, heldConfirmView{M: m, Action: action}))
}

func (c *Console) heldAct(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	var out *held.Outcome
	var err error
	if strings.HasSuffix(r.URL.Path, "/discard") {
		out, err = c.held.Discard(r.Context(), id, s.Admin, reason)
	} else {
		out, err = c.held.Resubmit(r.Context(), id, s.Admin, reason)
	}
	if err != nil {
		c.heldFailed(w, r, s, "message "+id, err)
		return
	}
	c.afterHeld(w, r, s, out.MessageID)
}
