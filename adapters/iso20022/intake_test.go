package iso20022

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/minfin-kz/kopir/adapters"
)

// yamlOpts is an options block as the route table hands it over.
type yamlOpts string

func (o yamlOpts) Decode(into any) error {
	dec := yaml.NewDecoder(strings.NewReader(string(o)))
	dec.KnownFields(true)
	err := dec.Decode(into)
	if err != nil && err.Error() == "EOF" {
		return nil
	}
	return err
}

const testOpts = "senderBIC: KKMFKZ2A\nreceiverBIC: NBRKKZKX\n"

// memIntake is a map-backed Intake with the core's observable behaviour:
// Accept stores and de-duplicates by channel key and external id, Find
// looks messages up by route and external id, Annotate and History keep
// an audit trail per message.
type memIntake struct {
	mu        sync.Mutex
	keys      map[string]bool
	n         int
	byExt     map[string]*adapters.Found // route \x00 externalID
	events    map[string][]adapters.Event
	acks      map[string][]byte
	delivered []*adapters.Inbound
	rejected  []string // reasons
	failFind  error
}

func newIntake(keys ...string) *memIntake {
	in := &memIntake{keys: map[string]bool{}, byExt: map[string]*adapters.Found{}, events: map[string][]adapters.Event{}, acks: map[string][]byte{}}
	for _, k := range keys {
		in.keys[k] = true
	}
	return in
}

func (m *memIntake) Known(channel, key string) (bool, bool) {
	return channel == ChannelName && m.keys[key], false
}

func (m *memIntake) id() string {
	m.n++
	return fmt.Sprintf("0195c0de-0000-7000-8000-%012d", m.n)
}

func (m *memIntake) Accept(_ context.Context, in *adapters.Inbound) (*adapters.Receipt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.keys[in.Key] {
		return nil, &adapters.RejectError{Code: "UNKNOWN_KEY", Reason: in.Key}
	}
	route := "inbound." + in.Key
	if f, ok := m.byExt[route+"\x00"+in.ExternalID]; ok {
		m.events[f.MessageID] = append(m.events[f.MessageID], adapters.Event{At: time.Now(), Action: "DUPLICATE"})
		return &adapters.Receipt{MessageID: f.MessageID, Status: "QUEUED", Duplicate: true, Ack: m.acks[f.MessageID]}, nil
	}
	id := m.id()
	m.byExt[route+"\x00"+in.ExternalID] = &adapters.Found{MessageID: id, Route: route, ExternalID: in.ExternalID, Status: "QUEUED", Request: in.Body}
	m.events[id] = append(m.events[id], adapters.Event{At: time.Now(), Actor: in.Sender, Action: "RECEIVED"})
	m.delivered = append(m.delivered, in)
	return &adapters.Receipt{MessageID: id, Status: "QUEUED"}, nil
}

func (m *memIntake) Acknowledge(_ context.Context, id string, ack []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.acks[id] = bytes.Clone(ack)
	return nil
}

func (m *memIntake) Call(context.Context, *adapters.Inbound) (*adapters.Response, *adapters.Receipt, error) {
	return nil, nil, fmt.Errorf("no sync inbound routes here")
}

func (m *memIntake) Reject(_ context.Context, in *adapters.Inbound, reason error) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rejected = append(m.rejected, reason.Error())
	return m.id()
}

func (m *memIntake) Find(_ context.Context, route, ext string) (*adapters.Found, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failFind != nil {
		return nil, m.failFind
	}
	f, ok := m.byExt[route+"\x00"+ext]
	if !ok {
		return nil, fmt.Errorf("store: %w", adapters.ErrNotFound)
	}
	cp := *f
	return &cp, nil
}

func (m *memIntake) Annotate(_ context.Context, id, action, detail string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events[id] = append(m.events[id], adapters.Event{At: time.Now(), Actor: "agency", Action: action, Detail: detail})
	return nil
}

func (m *memIntake) History(_ context.Context, id string) ([]adapters.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]adapters.Event(nil), m.events[id]...), nil
}

// sent records an outbound payment as the core would after Validate set
// its external id, and returns its message id.
func (m *memIntake) sent(route, externalID string, body []byte) string {
	m.mu.Lock()
	id := m.id()
	m.mu.Unlock()
	return m.sentAs(id, route, externalID, body)
}

// sentAs is sent for a message id the adapter already encoded with.
func (m *memIntake) sentAs(id, route, externalID string, body []byte) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byExt[route+"\x00"+externalID] = &adapters.Found{MessageID: id, Route: route, ExternalID: externalID, Status: "DELIVERED", Request: body}
	m.events[id] = []adapters.Event{{Action: "RECEIVED"}, {Action: "DELIVERED"}}
	return id
}

func (m *memIntake) actions(id, action string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.events[id] {
		if e.Action == action {
			out = append(out, e.Detail)
		}
	}
	return out
}

func (m *memIntake) deliveries() []*adapters.Inbound {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*adapters.Inbound(nil), m.delivered...)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
