// Package held is the operators' side of the held-for-clarification queue:
// messages a channel accepted but held because a business check an
// operator can judge failed (adapters.Inbound.Hold). It lists them, checks
// an edited payload without changing anything, takes an operator's change
// (waiting for a second operator's approval on a route with
// held.fourEyes), resubmits a message to its subscriber, or discards it.
//
// It is a package of its own, not part of internal/delivery, because it
// is a workflow with state of its own (proposed changes, four eyes) that
// ends where delivery begins: a released message is QUEUED and published
// like any accepted one, and the delivery worker takes it from there.
package held

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// Service implements the operators' actions on held messages. Every
// action that changes something is written through the ledger, naming the
// operator.
type Service struct {
	Store  store.Store // read: messages, holds and changes
	Ledger *ledger.Ledger
	Routes *routes.Table
	Queue  routes.Queue // the delivery worker
	// Intake is what a channel's Recheck looks payments (or any earlier
	// message) up through.
	Intake adapters.Intake
	// Channels are the configured inbound channels by name; the one of a
	// held message's route checks its payload again when it implements
	// adapters.Rechecker.
	Channels map[string]adapters.Channel
	Log      *slog.Logger

	// mu serialises the actions that change a held message in this
	// process, so that two operators acting at once cannot both release
	// it. Held messages are few and operators slow: one lock is enough.
	mu sync.Mutex
}

// Message is a held message as operators see it: the stored message
// (bodies masked as stored), why it is held, and the changes proposed.
type Message struct {
	store.Message
	Reasons []store.HoldReason `json:"reasons"`
	HeldAt  time.Time          `json:"heldAt,omitzero"`
	// FourEyes: a change needs a second operator's approval.
	FourEyes bool               `json:"fourEyes"`
	Changes  []store.HeldChange `json:"changes,omitempty"`
}

// Check is what checking a payload found. Invalid fields make a payload
// unsendable (the contract refuses it); Held are the business checks that
// still fail. OK means neither: resubmitting would deliver it.
type Check struct {
	OK      bool               `json:"ok"`
	Invalid []store.HoldReason `json:"invalid"`
	Held    []store.HoldReason `json:"held"`
	// Digest is the hex SHA-256 of the payload as it would be sent.
	Digest string `json:"digest"`
}

// Outcome is what an edit, approval or resubmission did: the change (nil
// for a resubmission as it was) and the message's status after it
// (HELD while a change waits for approval, QUEUED once released).
type Outcome struct {
	MessageID string            `json:"id"`
	Status    store.Status      `json:"status"`
	Change    *store.HeldChange `json:"change,omitempty"`
}

// Problem types of the held queue; each answer names the field or the
// change at fault.
const (
	ProblemNotHeld       = "urn:kopir:problem:not-held"
	ProblemInvalid       = "urn:kopir:problem:held-payload-invalid"
	ProblemStillHeld     = "urn:kopir:problem:still-held"
	ProblemNoChange      = "urn:kopir:problem:held-no-change"
	ProblemPending       = "urn:kopir:problem:held-change-pending"
	ProblemUnknownChange = "urn:kopir:problem:unknown-held-change"
	ProblemNotPending    = "urn:kopir:problem:held-change-decided"
	ProblemSameOperator  = "urn:kopir:problem:four-eyes"
	ProblemReason        = "urn:kopir:problem:reason-required"
)

func prob(status int, typ, title, id, format string, a ...any) *problem.Problem {
	return &problem.Problem{Type: typ, Title: title, Status: status, Detail: fmt.Sprintf(format, a...), MessageID: id}
}

// Digest is the hex SHA-256 of a payload, as audited before and after an
// edit.
func Digest(payload []byte) string {
	sum := sha256.Sum256(payload)
	return hex.EncodeToString(sum[:])
}

// List returns held messages matching f (its status is HELD whatever f
// says), newest first, with their reasons.
func (s *Service) List(ctx context.Context, f store.Filter) ([]Message, error) {
	f.Status = store.Held
	ms, err := s.Store.List(ctx, f)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ms))
	for i := range ms {
		ids[i] = ms[i].ID
	}
	holds, err := s.Store.Holds(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Message, len(ms))
	for i, m := range ms {
		h := holds[m.ID]
		out[i] = Message{Message: m, Reasons: h.Reasons, HeldAt: h.HeldAt, FourEyes: s.fourEyes(m.Route)}
		if out[i].Reasons == nil {
			out[i].Reasons = []store.HoldReason{}
		}
	}
	return out, nil
}

// Count returns how many messages are held on each async route (every
// route present, zero when none is held), limited to route when given.
func (s *Service) Count(ctx context.Context, route string) (map[string]int, error) {
	out := map[string]int{}
	for _, r := range s.Routes.All() {
		if r.Mode != routes.Async || (route != "" && r.Name != route) {
			continue
		}
		c, err := s.Store.Count(ctx, store.Filter{Status: store.Held, Route: r.Name})
		if err != nil {
			return nil, err
		}
		out[r.Name] = c[store.Held]
	}
	return out, nil
}

// Get returns one held (or once held) message with its reasons and every
// change proposed to it.
func (s *Service) Get(ctx context.Context, id string) (*Message, error) {
	m, err := s.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	holds, err := s.Store.Holds(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	h, ok := holds[id]
	if !ok {
		return nil, prob(http.StatusNotFound, ProblemNotHeld, "Message never held", id, "message %s was never held", id)
	}
	changes, err := s.Store.HeldChanges(ctx, id)
	if err != nil {
		return nil, err
	}
	return &Message{Message: *m, Reasons: h.Reasons, HeldAt: h.HeldAt, FourEyes: s.fourEyes(m.Route), Changes: changes}, nil
}

// Payload returns a held message's payload as it would be delivered,
// unmasked, for an operator to edit; the reading is audited.
func (s *Service) Payload(ctx context.Context, id, operator string) (json.RawMessage, error) {
	m, err := s.heldMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.Ledger.HeldPayloadRead(ctx, id, operator); err != nil {
		return nil, err
	}
	return json.RawMessage(m.Payload), nil
}

// Check checks payload as the held message id's new body, changing
// nothing: the JSON itself, then the route's channel's contract and
// business checks (adapters.Rechecker).
func (s *Service) Check(ctx context.Context, id string, payload json.RawMessage) (*Check, error) {
	m, err := s.heldMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	c, _, err := s.check(ctx, m, payload)
	return c, err
}

// check returns what Check reports and the payload as it would be sent.
func (s *Service) check(ctx context.Context, m *store.Message, payload json.RawMessage) (*Check, json.RawMessage, error) {
	c := &Check{Invalid: []store.HoldReason{}, Held: []store.HoldReason{}}
	if err := adapters.CheckJSON(payload); err != nil {
		field := "payload"
		var je *adapters.JSONError
		if errors.As(err, &je) && je.Path != "" {
			field = je.Path
		}
		c.Invalid = append(c.Invalid, store.HoldReason{Field: field, Reason: err.Error()})
		return c, payload, nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(payload, &obj) != nil {
		c.Invalid = append(c.Invalid, store.HoldReason{Field: "payload", Reason: "is not a JSON object"})
		return c, payload, nil
	}
	out := payload
	if rc, key, ok := s.rechecker(m.Route); ok {
		res, err := rc.Recheck(ctx, s.Intake, key, payload)
		if err != nil {
			return nil, nil, fmt.Errorf("checking held message %s: %w", m.ID, err)
		}
		c.Invalid = append(c.Invalid, toStore(res.Invalid)...)
		c.Held = append(c.Held, toStore(res.Hold)...)
		if len(res.Body) > 0 {
			out = res.Body
		}
	}
	c.OK = len(c.Invalid) == 0 && len(c.Held) == 0
	c.Digest = Digest(out)
	return c, out, nil
}

func toStore(rs []adapters.HoldReason) []store.HoldReason {
	return ledger.HoldReasons(rs)
}

// Propose takes operator's edit of held message id: checked first and
// refused naming every field at fault while anything fails; on a route
// with four eyes it then waits for another operator's approval (the
// message stays HELD), otherwise the message is resubmitted with it at
// once.
func (s *Service) Propose(ctx context.Context, id string, payload json.RawMessage, operator, reason string) (*Outcome, error) {
	if reason == "" {
		return nil, reasonRequired(id, "an edit")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.heldMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	pending, err := s.pendingChanges(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := nonePending(id, pending, "first"); err != nil {
		return nil, err
	}
	ck, out, err := s.check(ctx, m, payload)
	if err != nil {
		return nil, err
	}
	if err := refusal(id, ck); err != nil {
		return nil, err
	}
	before := Digest(m.Payload)
	if ck.Digest == before {
		return nil, &problem.Problem{Type: ProblemNoChange, Title: "Payload unchanged", Status: http.StatusUnprocessableEntity, Field: "payload",
			Detail: fmt.Sprintf("message %s already holds this payload; resubmit it as it is instead", id), MessageID: id}
	}
	c := store.HeldChange{ID: routes.NewMessageID(), MessageID: id, Payload: out, DigestBefore: before, DigestAfter: ck.Digest,
		Proposer: operator, Reason: reason}
	if s.fourEyes(m.Route) {
		if err := s.Ledger.HeldChangeProposed(ctx, c); err != nil {
			return nil, err
		}
		c.State, c.Payload = store.ChangePending, nil
		return &Outcome{MessageID: id, Status: store.Held, Change: &c}, nil
	}
	m.Payload = out
	if err := s.release(ctx, m, &c, operator, reason); err != nil {
		return nil, err
	}
	c.State, c.DecidedBy, c.Payload = store.ChangeApproved, operator, nil
	return &Outcome{MessageID: id, Status: store.Queued, Change: &c}, nil
}

// Approve applies a pending change, as a second operator: the proposer
// may not approve their own. The payload is checked again (a payment may
// have been cancelled since) and the message resubmitted with it.
func (s *Service) Approve(ctx context.Context, id, changeID, operator string) (*Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, c, err := s.pending(ctx, id, changeID)
	if err != nil {
		return nil, err
	}
	if c.Proposer == operator {
		return nil, prob(http.StatusConflict, ProblemSameOperator, "Four eyes: another operator must approve", id,
			"change %s was proposed by %s; route %s needs a different operator to approve it", c.ID, c.Proposer, m.Route)
	}
	if Digest(m.Payload) != c.DigestBefore {
		return nil, prob(http.StatusConflict, ProblemNotPending, "Change is stale", id,
			"change %s was proposed against payload sha256 %s, and the message now holds another; decline it and propose again", c.ID, c.DigestBefore)
	}
	ck, _, err := s.check(ctx, m, c.Payload)
	if err != nil {
		return nil, err
	}
	if err := refusal(id, ck); err != nil {
		return nil, err
	}
	m.Payload = c.Payload
	if err := s.release(ctx, m, c, operator, ""); err != nil {
		return nil, err
	}
	c.State, c.DecidedBy, c.Payload = store.ChangeApproved, operator, nil
	return &Outcome{MessageID: id, Status: store.Queued, Change: c}, nil
}

// Decline sets a pending change aside (its proposer may withdraw it too);
// the message stays held.
func (s *Service) Decline(ctx context.Context, id, changeID, operator, reason string) (*Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, c, err := s.pending(ctx, id, changeID)
	if err != nil {
		return nil, err
	}
	if err := s.Ledger.HeldChangeDeclined(ctx, *c, operator, reason); err != nil {
		return nil, err
	}
	c.State, c.DecidedBy, c.Payload = store.ChangeDeclined, operator, nil
	return &Outcome{MessageID: id, Status: store.Held, Change: c}, nil
}

// Resubmit sends a held message on as it is, once its checks pass (the
// payment it lacked has been sent meanwhile); refused, naming what still
// fails, otherwise.
func (s *Service) Resubmit(ctx context.Context, id, operator, reason string) (*Outcome, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.heldMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	pending, err := s.pendingChanges(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := nonePending(id, pending, "before resubmitting"); err != nil {
		return nil, err
	}
	ck, _, err := s.check(ctx, m, m.Payload)
	if err != nil {
		return nil, err
	}
	if err := refusal(id, ck); err != nil {
		return nil, err
	}
	if err := s.release(ctx, m, nil, operator, reason); err != nil {
		return nil, err
	}
	return &Outcome{MessageID: id, Status: store.Queued}, nil
}

// Discard ends a held message as DISCARDED; the reason is required and
// kept on its trail, and pending changes are declined with it.
func (s *Service) Discard(ctx context.Context, id, operator, reason string) (*Outcome, error) {
	if reason == "" {
		return nil, reasonRequired(id, "discarding a message")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.heldMessage(ctx, id)
	if err != nil {
		return nil, err
	}
	pending, err := s.pendingChanges(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.Ledger.HeldDiscarded(ctx, m, pending, operator, reason); err != nil {
		return nil, err
	}
	return &Outcome{MessageID: id, Status: store.Discarded}, nil
}

// pendingChanges are the changes to held message id still waiting for a
// decision.
func (s *Service) pendingChanges(ctx context.Context, id string) ([]store.HeldChange, error) {
	changes, err := s.Store.HeldChanges(ctx, id)
	if err != nil {
		return nil, err
	}
	var pending []store.HeldChange
	for _, c := range changes {
		if c.State == store.ChangePending {
			pending = append(pending, c)
		}
	}
	return pending, nil
}

// nonePending refuses an action on a message while a change to it waits:
// the change is to be approved or declined then (when: "first", …).
func nonePending(id string, pending []store.HeldChange, then string) error {
	if len(pending) == 0 {
		return nil
	}
	c := pending[0]
	return prob(http.StatusConflict, ProblemPending, "A change is pending", id,
		"change %s proposed by %s waits for approval; approve or decline it %s", c.ID, c.Proposer, then)
}

// release records the message QUEUED and hands it to the delivery worker.
// A failed publish is not the operator's failure: the worker keeps the
// message and publishes it again (and Recover does at the next start).
func (s *Service) release(ctx context.Context, m *store.Message, c *store.HeldChange, operator, reason string) error {
	if err := s.Ledger.HeldReleased(ctx, m, c, operator, reason); err != nil {
		return err
	}
	if err := s.Queue.Enqueue(ctx, ledger.View(m)); err != nil && s.Log != nil {
		s.Log.Error("held message resubmitted but not queued yet; the sweep will queue it", "messageId", m.ID, "err", err)
	}
	return nil
}

func (s *Service) heldMessage(ctx context.Context, id string) (*store.Message, error) {
	m, err := s.Store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if m.Status != store.Held {
		return nil, prob(http.StatusConflict, ProblemNotHeld, "Message not held", id, "message %s is %s, not HELD", id, m.Status)
	}
	return m, nil
}

// pending finds held message id and its change changeID, which must wait
// for a decision.
func (s *Service) pending(ctx context.Context, id, changeID string) (*store.Message, *store.HeldChange, error) {
	m, err := s.heldMessage(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	changes, err := s.Store.HeldChanges(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	for i := range changes {
		c := &changes[i]
		if c.ID != changeID {
			continue
		}
		if c.State != store.ChangePending {
			return nil, nil, prob(http.StatusConflict, ProblemNotPending, "Change already decided", id,
				"change %s is %s by %s", c.ID, c.State, c.DecidedBy)
		}
		return m, c, nil
	}
	return nil, nil, &problem.Problem{Type: ProblemUnknownChange, Title: "Unknown change", Status: http.StatusNotFound, Field: "change",
		Detail: fmt.Sprintf("message %s has no change %s", id, ledger.BoundName(changeID, ledger.MaxKey)), MessageID: id}
}

// refusal is the answer to a payload whose check found something: 422
// naming every field, the contract's faults first.
func refusal(id string, c *Check) error {
	if c.OK {
		return nil
	}
	p := &problem.Problem{Type: ProblemInvalid, Title: "Held payload invalid", Status: http.StatusUnprocessableEntity, MessageID: id}
	list := c.Invalid
	if len(list) == 0 {
		p.Type, p.Title, list = ProblemStillHeld, "Business check still fails", c.Held
	}
	for _, r := range list {
		p.Problems = append(p.Problems, problem.FieldProblem{Field: r.Field, Detail: r.Reason})
	}
	if len(c.Invalid) > 0 {
		for _, r := range c.Held {
			p.Problems = append(p.Problems, problem.FieldProblem{Field: r.Field, Detail: r.Reason})
		}
	}
	p.Field = list[0].Field
	p.Detail = fmt.Sprintf("%s: %s", list[0].Field, list[0].Reason)
	if n := len(p.Problems); n > 1 {
		p.Detail += fmt.Sprintf(" (and %d more, in problems)", n-1)
	}
	return p
}

func reasonRequired(id, what string) error {
	return &problem.Problem{Type: ProblemReason, Title: "Reason required", Status: http.StatusBadRequest, Field: "reason",
		Detail: what + " needs the operator's reason, which is kept on the message's audit trail", MessageID: id}
}

func (s *Service) fourEyes(route string) bool {
	r, ok := s.Routes.Get(route)
	return ok && r.Held.FourEyes
}

// rechecker is the channel of route, when it checks held messages again,
// and the key it routes the route's messages by.
func (s *Service) rechecker(route string) (adapters.Rechecker, string, bool) {
	r, ok := s.Routes.Get(route)
	if !ok || r.Inbound == nil {
		return nil, "", false
	}
	rc, ok := s.Channels[r.Inbound.Channel].(adapters.Rechecker)
	return rc, r.Inbound.Key, ok
}
