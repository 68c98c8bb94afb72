package ledger_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

func open(t *testing.T) (*ledger.Ledger, *store.SQLStore, *routes.Route) {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/k.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	spec := routes.Spec{Name: "r", Mode: routes.Sync}
	spec.PersonalData.Mask = []string{"iin"}
	return ledger.New(st, []routes.Spec{spec}, "k", slog.Default()), st, &routes.Route{Spec: spec}
}

func exchange(r *routes.Route, key, body string) *routes.Exchange {
	return &routes.Exchange{Route: r, Caller: "demo", Started: time.Now(), Outcome: routes.OutcomeDelivered, Request: adapters.Request{
		Route: r.Name, MessageID: routes.NewMessageID(), CorrelationID: "c", IdempotencyKey: key, Body: []byte(body)}}
}

// Two processes raced with one caller's key: the store refuses the second
// message, and the caller is told 409, not 502.
func TestSecondMessageWithAKeyIsAConflict(t *testing.T) {
	l, st, r := open(t)
	ctx := context.Background()
	if err := l.Exchanged(ctx, exchange(r, "k1", `{}`), nil); err != nil {
		t.Fatal(err)
	}
	second := exchange(r, "k1", `{}`)
	err := l.Exchanged(ctx, second, nil)
	if p := problem.From("r", err); p.Status != http.StatusConflict || p.Field != "Idempotency-Key" {
		t.Errorf("second message with the key: %v → %d %s", err, p.Status, p.Field)
	}
	// The loser's exchange is kept all the same, without the key.
	if m, err := st.Get(ctx, second.Request.MessageID); err != nil || m.IdempotencyKey != "" || m.HTTPStatus != http.StatusConflict {
		t.Errorf("the loser's record: %+v %v", m, err)
	}
	if _, err := l.Queued(ctx, exchange(r, "k1", `{}`)); problem.From("r", err).Status != http.StatusConflict {
		t.Errorf("queued with a taken key: %v", err)
	}
}

func TestBodiesAreMaskedByTheRoutePolicy(t *testing.T) {
	l, st, r := open(t)
	x := exchange(r, "", `{"iin":"880501300124"}`)
	x.Response = &adapters.Response{Body: []byte(`{"iin":"880501300124","name":"A"}`)}
	if err := l.Exchanged(context.Background(), x, nil); err != nil {
		t.Fatal(err)
	}
	m, err := st.Get(context.Background(), x.Request.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m.RequestBody), "880501300124") || strings.Contains(string(m.ResponseBody), "880501300124") {
		t.Errorf("personal data kept: %s %s", m.RequestBody, m.ResponseBody)
	}
}

// A refusal of garbage is recorded, within a bounded size: a 1 MB route
// name costs the store a few hundred bytes.
func TestRefusalIsRecordedBounded(t *testing.T) {
	l, st, _ := open(t)
	huge := strings.Repeat("é", 1<<19) + "\x00\n"
	id := routes.NewMessageID()
	err := l.Refused(context.Background(), ledger.Refusal{ID: id, Route: huge, Caller: "anonymous", CorrelationID: huge,
		HTTPStatus: 401, Reason: huge, Body: []byte(huge)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != store.Rejected || len(m.Route) > ledger.MaxName+32 || len(m.Error) > ledger.MaxError+32 || len(m.CorrelationID) > ledger.MaxKey+32 {
		t.Errorf("stored route %d bytes, error %d bytes, correlation id %d bytes", len(m.Route), len(m.Error), len(m.CorrelationID))
	}
	if !utf8.ValidString(m.Route) || strings.ContainsAny(m.Route, "\x00\n") {
		t.Errorf("route name kept control characters: %q", m.Route[len(m.Route)-20:])
	}
	recs, _ := st.Audit(context.Background(), id)
	if len(recs) != 2 || recs[1].Action != string(ledger.Rejected) || len(recs[1].Detail) > ledger.MaxDetail+32 {
		t.Errorf("audit %+v", recs)
	}
}

func TestBound(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 16, "short"},
		{"line\nbreak", 16, "line\nbreak"},
		{"ab\x00c", 16, "ab?c"},
		{"abcdef", 4, "abcd…(6 bytes)"},
		{"aé", 2, "a…(3 bytes)"}, // never cut inside a rune
		{"a\xffb", 16, "a?b"},
	} {
		if got := ledger.Bound(c.in, c.max); got != c.want {
			t.Errorf("Bound(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

// A refused admin call is audited with bounded fields, however long the
// path the client sent.
func TestDeniedIsBounded(t *testing.T) {
	l, st, _ := open(t)
	ctx := context.Background()
	path := "/admin/v1/messages/" + strings.Repeat("x", 1<<20) + "\n/replay"
	if err := l.Denied(ctx, ledger.Denial{Admin: "ops", Role: "viewer", Needs: "operator", Method: "POST", Path: path}); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Audit(ctx, "")
	if err != nil || len(recs) != 1 {
		t.Fatalf("%v %+v", err, recs)
	}
	r := recs[0]
	if r.Action != string(ledger.Forbidden) || r.Actor != "ops" || len(r.Detail) > ledger.MaxDetail || strings.Contains(r.Detail, "\n") ||
		!strings.HasPrefix(r.Detail, "POST /admin/v1/messages/xxx") || !strings.HasSuffix(r.Detail, "refused: role viewer, needs operator") {
		t.Errorf("entry %+v (detail %d bytes)", r, len(r.Detail))
	}
}

// A message just queued is handed over as the store holds it, once; a
// later write of it (here a failed delivery) drops the held copy.
func TestQueuedMessageIsHandedOverAsStored(t *testing.T) {
	l, st, r := open(t)
	ctx := context.Background()
	x := exchange(r, "k", `{"iin":"880501300124","n":1}`)
	if _, err := l.Queued(ctx, x); err != nil {
		t.Fatal(err)
	}
	got, ok := l.TakeQueued(x.Request.MessageID)
	if !ok {
		t.Fatal("a message just queued is not handed over")
	}
	want, err := st.Get(ctx, x.Request.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Route != want.Route || got.Caller != want.Caller || got.CorrelationID != want.CorrelationID ||
		got.IdempotencyKey != want.IdempotencyKey || got.Status != want.Status || got.Attempts != want.Attempts ||
		string(got.Payload) != string(want.Payload) || string(got.RequestBody) != string(want.RequestBody) ||
		got.HTTPStatus != want.HTTPStatus || got.TraceParent != want.TraceParent || got.Error != want.Error {
		t.Errorf("handed over %+v\nstored      %+v", got, want)
	}
	if _, ok := l.TakeQueued(x.Request.MessageID); ok {
		t.Error("handed over twice")
	}

	y := exchange(r, "", `{"n":2}`)
	if _, err := l.Queued(ctx, y); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Get(ctx, y.Request.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Retrying(ctx, stored, nil, errors.New("receiver busy")); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.TakeQueued(y.Request.MessageID); ok {
		t.Error("handed over after a later write of the message")
	}
}
