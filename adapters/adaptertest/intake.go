package adaptertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/adapters"
)

// Intake is an in-memory adapters.Intake for testing a channel without the
// store and the route table. It knows the routes the test declares, keeps
// what the channel hands over, and de-duplicates by route and external id
// as the core's intake does: a repeat gets the first receipt and the first
// acknowledgement back, with Duplicate set, and is not delivered again —
// except a repeat of a sync call that failed, which is delivered again (the
// sender got a fault, not an answer).
type Intake struct {
	// Reply is the subscriber of sync routes; nil answers {"ok":true}.
	Reply func(m *adapters.Inbound) (*adapters.Response, error)

	channel string
	mu      sync.Mutex
	routes  map[string]bool // key → sync
	fail    error
	n       int
	byExt   map[string]*Message // route \x00 external id
	byID    map[string]*Message
	events  map[string][]adapters.Event
	// What the channel handed over, in order.
	accepted, called, rejected []*Message
	// every message held, in the order it came, for About
	order []*Message
}

var _ adapters.Intake = (*Intake)(nil)

// Message is a message the Intake holds.
type Message struct {
	// Inbound is the message as the channel handed it over; for one
	// recorded with Sent only ExternalID and Body are set.
	adapters.Inbound
	ID     string // the bus's id
	Route  string
	Status string // QUEUED, HELD, DELIVERED, FAILED or REJECTED
	Reason error  // why it was rejected
	ack    []byte
}

// NewIntake returns an Intake for the channel registered as channel, with
// no routes yet.
func NewIntake(channel string) *Intake {
	return &Intake{channel: channel, routes: map[string]bool{}, byExt: map[string]*Message{},
		byID: map[string]*Message{}, events: map[string][]adapters.Event{}}
}

// Route declares the inbound route for key, answered through Call when
// sync is set. Its messages are stored on route "inbound.<key>".
func (in *Intake) Route(key string, sync bool) *Intake {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.routes[key] = sync
	return in
}

// Fail makes every call that would reach the store fail with err, as when
// the database is down; nil restores it. Known and Reject still answer:
// the route table is in memory, and the core only logs a rejection it
// could not record.
func (in *Intake) Fail(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.fail = err
}

func routeOf(key string) string { return "inbound." + key }

func (in *Intake) newID() string {
	in.n++
	return fmt.Sprintf("00000000-0000-7000-8000-%012d", in.n)
}

func actor(m *adapters.Inbound) string {
	if m.Sender != "" {
		return m.Sender
	}
	return "agency:" + m.Channel
}

func (in *Intake) event(id, actor, action, detail string) {
	in.events[id] = append(in.events[id], adapters.Event{At: time.Now(), Actor: actor, Action: action, Detail: detail})
}

// Known reports whether the test declared a route for key on this channel.
func (in *Intake) Known(channel, key string) (bool, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	sync, ok := in.routes[key]
	return ok && channel == in.channel, ok && sync
}

// take looks m up among the messages already stored, or stores it with
// status. The caller holds the lock.
func (in *Intake) take(m *adapters.Inbound, status string) (*Message, *adapters.Receipt, error) {
	if in.fail != nil {
		return nil, nil, in.fail
	}
	if _, ok := in.routes[m.Key]; !ok || m.Channel != in.channel {
		return nil, nil, &adapters.RejectError{Code: "UNKNOWN_KEY", Reason: fmt.Sprintf("no inbound route for %s %q", m.Channel, m.Key)}
	}
	route := routeOf(m.Key)
	if prev := in.byExt[route+"\x00"+m.ExternalID]; prev != nil && m.ExternalID != "" && prev.Status != "FAILED" {
		in.event(prev.ID, actor(m), "DUPLICATE", m.Channel+" message "+m.ExternalID+" received again")
		return nil, &adapters.Receipt{MessageID: prev.ID, Status: prev.Status, Duplicate: true, Ack: bytes.Clone(prev.ack)}, nil
	}
	msg := &Message{Inbound: *m, ID: in.newID(), Route: route, Status: status}
	in.byExt[route+"\x00"+m.ExternalID] = msg
	in.byID[msg.ID] = msg
	in.order = append(in.order, msg)
	in.event(msg.ID, actor(m), "RECEIVED", fmt.Sprintf("%s %s %s", m.Channel, m.Key, m.ExternalID))
	return msg, &adapters.Receipt{MessageID: msg.ID, Status: status}, nil
}

// Accept stores m as QUEUED, or HELD when the channel names reasons to
// hold it, as the core does; nothing delivers it.
func (in *Intake) Accept(_ context.Context, m *adapters.Inbound) (*adapters.Receipt, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	status := "QUEUED"
	if len(m.Hold) > 0 {
		status = "HELD"
	}
	msg, rc, err := in.take(m, status)
	if msg != nil {
		in.event(msg.ID, "bus", status, "")
		in.accepted = append(in.accepted, msg)
	}
	return rc, err
}

// Call stores m and answers it with Reply: DELIVERED, or FAILED when Reply
// fails.
func (in *Intake) Call(_ context.Context, m *adapters.Inbound) (*adapters.Response, *adapters.Receipt, error) {
	in.mu.Lock()
	msg, rc, err := in.take(m, "DELIVERED")
	if msg != nil {
		in.called = append(in.called, msg)
	}
	reply := in.Reply
	in.mu.Unlock()
	if msg == nil {
		return nil, rc, err
	}
	if reply == nil {
		reply = func(*adapters.Inbound) (*adapters.Response, error) {
			return &adapters.Response{Body: json.RawMessage(`{"ok":true}`)}, nil
		}
	}
	resp, err := reply(&msg.Inbound)
	in.mu.Lock()
	defer in.mu.Unlock()
	if err != nil {
		msg.Status, rc.Status = "FAILED", "FAILED"
	}
	in.event(msg.ID, "bus", msg.Status, "")
	return resp, rc, err
}

// Acknowledge keeps the first acknowledgement of a message, which its
// repeats are answered with.
func (in *Intake) Acknowledge(_ context.Context, id string, ack []byte) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail != nil {
		return in.fail
	}
	msg := in.byID[id]
	if msg == nil {
		return fmt.Errorf("%w: message %s", adapters.ErrNotFound, id)
	}
	if msg.ack == nil {
		msg.ack = bytes.Clone(ack)
	}
	return nil
}

// Reject records m as REJECTED with reason.
func (in *Intake) Reject(_ context.Context, m *adapters.Inbound, reason error) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	msg := &Message{Inbound: *m, ID: in.newID(), Status: "REJECTED", Reason: reason}
	if _, ok := in.routes[m.Key]; ok {
		msg.Route = routeOf(m.Key)
	}
	in.rejected = append(in.rejected, msg)
	in.event(msg.ID, actor(m), "RECEIVED", fmt.Sprintf("%s %s %s", m.Channel, m.Key, m.ExternalID))
	in.event(msg.ID, "bus", "REJECTED", reason.Error())
	return msg.ID
}

// Find returns the message of route with externalID, accepted, called or
// recorded with Sent.
func (in *Intake) Find(_ context.Context, route, externalID string) (*adapters.Found, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail != nil {
		return nil, in.fail
	}
	msg := in.byExt[route+"\x00"+externalID]
	if msg == nil {
		return nil, fmt.Errorf("%w: no message of route %s with external id %s", adapters.ErrNotFound, route, externalID)
	}
	return &adapters.Found{MessageID: msg.ID, Route: msg.Route, ExternalID: externalID, Status: msg.Status, Request: msg.Body}, nil
}

// About lists the messages about subject, in the order they came.
func (in *Intake) About(_ context.Context, subject string) ([]adapters.Found, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail != nil {
		return nil, in.fail
	}
	var out []adapters.Found
	for _, m := range in.order {
		if subject != "" && m.Subject == subject && len(out) < adapters.MaxAbout {
			at := time.Time{}
			if ev := in.events[m.ID]; len(ev) > 0 {
				at = ev[0].At
			}
			out = append(out, adapters.Found{MessageID: m.ID, Route: m.Route, ExternalID: m.ExternalID, Status: m.Status, Subject: m.Subject, At: at, Request: m.Body})
		}
	}
	return out, nil
}

// Annotate appends an agency's event to a message's trail.
func (in *Intake) Annotate(_ context.Context, id, action, detail string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail != nil {
		return in.fail
	}
	in.event(id, "agency", action, detail)
	return nil
}

// History returns a message's trail, oldest first.
func (in *Intake) History(_ context.Context, id string) ([]adapters.Event, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fail != nil {
		return nil, in.fail
	}
	return append([]adapters.Event(nil), in.events[id]...), nil
}

// Sent records an outbound message of route, as the core stores it once
// the adapter's Validate has set its external id, so that the channel can
// Find it; its trail is RECEIVED, DELIVERED. It returns the message's id.
func (in *Intake) Sent(route, externalID string, body []byte) string {
	in.mu.Lock()
	id := in.newID()
	in.mu.Unlock()
	in.SentAs(id, route, externalID, body)
	return id
}

// SentAs is Sent for a message whose id the test chose (the id the adapter
// encoded with). Recording the same id again starts its trail afresh.
func (in *Intake) SentAs(id, route, externalID string, body []byte) {
	in.SentAbout(id, route, externalID, "", body)
}

// SentAbout is SentAs for a message about subject (Request.Subject).
func (in *Intake) SentAbout(id, route, externalID, subject string, body []byte) {
	in.mu.Lock()
	defer in.mu.Unlock()
	msg := &Message{Inbound: adapters.Inbound{ExternalID: externalID, Subject: subject, Body: body}, ID: id, Route: route, Status: "DELIVERED"}
	in.byExt[route+"\x00"+externalID] = msg
	in.byID[id] = msg
	in.order = append(in.order, msg)
	in.events[id] = []adapters.Event{{At: time.Now(), Actor: "bus", Action: "RECEIVED"}, {At: time.Now(), Actor: "bus", Action: "DELIVERED"}}
}

// Accepted returns the messages Accept stored, in order; repeats are not
// among them.
func (in *Intake) Accepted() []Message { return in.list(&in.accepted) }

// Called returns the messages Call delivered to Reply, in order.
func (in *Intake) Called() []Message { return in.list(&in.called) }

// Rejected returns the messages Reject recorded, in order.
func (in *Intake) Rejected() []Message { return in.list(&in.rejected) }

func (in *Intake) list(l *[]*Message) []Message {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Message, len(*l))
	for i, m := range *l {
		out[i] = *m
	}
	return out
}

// Actions returns the details of the events named action in a message's
// trail, oldest first.
func (in *Intake) Actions(id, action string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, e := range in.events[id] {
		if e.Action == action {
			out = append(out, e.Detail)
		}
	}
	return out
}
