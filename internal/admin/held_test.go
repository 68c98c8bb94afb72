package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	_ "github.com/minfin-kz/kopir/adapters/httpjson"
	"github.com/minfin-kz/kopir/internal/admin"
	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/held"
	"github.com/minfin-kz/kopir/internal/httpguard"
	"github.com/minfin-kz/kopir/internal/intake"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/metrics"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// ledgerChannel holds an entry whose reference names no known payment, as
// the ISO 20022 channel does with an unmatched statement entry. Its body
// is {"entries":[{"ref":"…","amount":"…"}]}; an amount that is not a
// number is invalid, whatever the business check says.
type ledgerChannel struct {
	mu    sync.Mutex
	known map[string]bool
}

func (*ledgerChannel) Routes(adapters.Intake) map[string]http.Handler { return nil }

type entryBody struct {
	Entries []struct {
		Ref    string `json:"ref"`
		Amount string `json:"amount"`
	} `json:"entries"`
}

func (c *ledgerChannel) reasons(b entryBody) (invalid, hold []adapters.HoldReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range b.Entries {
		if _, err := fmt.Sscanf(e.Amount, "%f", new(float64)); err != nil {
			invalid = append(invalid, adapters.HoldReason{Field: fmt.Sprintf("entries[%d].amount", i), Reason: "is not a number"})
		}
		if !c.known[e.Ref] {
			hold = append(hold, adapters.HoldReason{Field: fmt.Sprintf("entries[%d].ref", i), Reason: "no payment " + e.Ref})
		}
	}
	return invalid, hold
}

func (c *ledgerChannel) Recheck(_ context.Context, _ adapters.Intake, key string, body json.RawMessage) (*adapters.Recheck, error) {
	var b entryBody
	if err := adapters.DecodeStrict(body, &b); err != nil {
		return &adapters.Recheck{Invalid: []adapters.HoldReason{{Field: "payload", Reason: err.Error()}}}, nil
	}
	inv, hold := c.reasons(b)
	return &adapters.Recheck{Invalid: inv, Hold: hold}, nil
}

func (c *ledgerChannel) pay(ref string) { c.mu.Lock(); c.known[ref] = true; c.mu.Unlock() }

type queue struct {
	mu  sync.Mutex
	ids []string
}

func (q *queue) Enqueue(_ context.Context, m *routes.Message) error {
	q.mu.Lock()
	q.ids = append(q.ids, m.ID)
	q.mu.Unlock()
	return nil
}

func (q *queue) has(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Contains(q.ids, id)
}

type heldBus struct {
	st    *store.SQLStore
	in    *intake.Intake
	ch    *ledgerChannel
	q     *queue
	h     http.Handler
	admin *admin.Server
}

func newHeldBus(t *testing.T) *heldBus {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/k.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	spec := func(name, key string, fourEyes bool) routes.Spec {
		s := routes.Spec{Name: name, Adapter: "http", Operation: "deliver", Mode: routes.Async, Endpoints: []string{"http://127.0.0.1:9/sub"},
			Retry: adapters.RetrySpec{Attempts: 3}, Inbound: &routes.InboundSpec{Channel: "ledger", Key: key}}
		s.Held.FourEyes = fourEyes
		return s
	}
	specs := []routes.Spec{spec("ledger.statement", "stmt", true), spec("ledger.notice", "note", false)}
	led := ledger.New(st, specs, "", slog.Default())
	q := &queue{}
	tbl, err := routes.Build(specs, routes.Deps{Ledger: led, Queue: q, Meter: metrics.New(), Log: slog.Default(),
		Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Retry: s.Retry, Breakers: resilience.NewBreakers(nil)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	in := intake.New(tbl, st, led, q, slog.Default())
	ch := &ledgerChannel{known: map[string]bool{"PAY-1": true}}
	svc := &held.Service{Store: st, Ledger: led, Routes: tbl, Queue: q, Intake: in, Channels: map[string]adapters.Channel{"ledger": ch}, Log: slog.Default()}
	var admins []config.Admin
	for name, role := range map[string]config.Role{"viewer": config.RoleViewer, "op1": config.RoleOperator, "op2": config.RoleOperator} {
		admins = append(admins, config.Admin{Caller: config.Caller{Name: name, TokenSHA256: config.HashToken(name + "-token")}, Role: role})
	}
	s := &admin.Server{Admins: admins, Store: st, Held: svc, Denials: led, Log: slog.Default(),
		Guard: &httpguard.Listener{Name: "admin", Limits: config.DefaultHTTPLimits, Ledger: led, Log: slog.Default()}}
	return &heldBus{st: st, in: in, ch: ch, q: q, h: s.Handler(), admin: s}
}

// hold has the channel hand over a message with one unmatched entry.
func (b *heldBus) hold(t *testing.T, key, ext string) string {
	t.Helper()
	rc, err := b.in.Accept(context.Background(), &adapters.Inbound{Channel: "ledger", Key: key, ExternalID: ext, Sender: "bank",
		Body: json.RawMessage(`{"entries":[{"ref":"PAY-1","amount":"10.00"},{"ref":"PAY-X","amount":"5.00"}]}`),
		Hold: []adapters.HoldReason{{Field: "entries[1].ref", Reason: "no payment PAY-X"}}})
	if err != nil || rc.Status != "HELD" {
		t.Fatalf("accept: %+v %v", rc, err)
	}
	return rc.MessageID
}

func (b *heldBus) do(t *testing.T, who, method, path, body string, want int, out any) {
	t.Helper()
	rec := call(b.h, method, path, who+"-token", body)
	if rec.Code != want {
		t.Fatalf("%s %s as %s: %d %s (want %d)", method, path, who, rec.Code, rec.Body, want)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
}

func trail(t *testing.T, st store.Store, id string) []string {
	t.Helper()
	recs, err := st.Audit(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Actor+" "+r.Action)
	}
	return out
}

const fixed = `{"entries":[{"ref":"PAY-1","amount":"10.00"},{"ref":"PAY-1","amount":"5.00"}]}`

// Hold, check as the operator types, propose, the proposer's own approval
// refused, a second operator's approval resubmits the edited payload.
func TestHeldFourEyesWorkflow(t *testing.T) {
	b := newHeldBus(t)
	id := b.hold(t, "stmt", "S-1")
	if b.q.has(id) {
		t.Fatal("a held message was queued for delivery")
	}
	m, _ := b.st.Get(context.Background(), id)
	if m.Status != store.Held {
		t.Fatalf("stored as %s", m.Status)
	}

	var page admin.HeldPage
	b.do(t, "viewer", "GET", "/admin/v1/held?route=ledger.statement", "", 200, &page)
	if len(page.Items) != 1 || page.Items[0].ID != id || !page.Items[0].FourEyes || len(page.Items[0].Reasons) != 1 ||
		page.Items[0].Reasons[0].Field != "entries[1].ref" {
		t.Fatalf("held list: %+v", page)
	}
	var counts struct {
		Counts map[string]int
		Total  int
	}
	b.do(t, "viewer", "GET", "/admin/v1/held/counts", "", 200, &counts)
	if counts.Total != 1 || counts.Counts["ledger.statement"] != 1 || counts.Counts["ledger.notice"] != 0 {
		t.Fatalf("counts: %+v", counts)
	}

	// Checking changes nothing and names the fields.
	var ck held.Check
	b.do(t, "viewer", "POST", "/admin/v1/held/"+id+"/check", `{"entries":[{"ref":"PAY-1","amount":"ten"},{"ref":"PAY-X","amount":"5.00"}]}`, 200, &ck)
	if ck.OK || len(ck.Invalid) != 1 || ck.Invalid[0].Field != "entries[0].amount" || len(ck.Held) != 1 || ck.Held[0].Field != "entries[1].ref" {
		t.Fatalf("check of a bad edit: %+v", ck)
	}
	b.do(t, "viewer", "POST", "/admin/v1/held/"+id+"/check", `{"entries":[{"ref":"PAY-1"},{"ref":"PAY-1"}],"entries":[]}`, 200, &ck)
	if ck.OK || len(ck.Invalid) != 1 || !strings.Contains(ck.Invalid[0].Reason, "duplicate key") {
		t.Fatalf("check of a payload with a key given twice: %+v", ck)
	}
	b.do(t, "viewer", "POST", "/admin/v1/held/"+id+"/check", fixed, 200, &ck)
	if !ck.OK || ck.Digest != held.Digest([]byte(fixed)) {
		t.Fatalf("check of the fix: %+v", ck)
	}
	before := len(trail(t, b.st, id))

	// A viewer may look but not change or read the unmasked payload.
	forbidden(t, call(b.h, "POST", "/admin/v1/held/"+id+"/changes", "viewer-token", `{"payload":`+fixed+`,"reason":"x"}`))
	forbidden(t, call(b.h, "GET", "/admin/v1/held/"+id+"/payload", "viewer-token", ""))
	forbidden(t, call(b.h, "POST", "/admin/v1/held/"+id+"/discard", "viewer-token", `{"reason":"x"}`))
	forbidden(t, call(b.h, "POST", "/admin/v1/held/"+id+"/resubmit", "viewer-token", ""))
	if n := len(trail(t, b.st, id)); n != before {
		t.Errorf("checking or refused calls wrote %d audit entries on the message", n-before)
	}

	var p problem.Problem
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes", `{"payload":`+fixed+`}`, 400, &p)
	if p.Field != "reason" {
		t.Errorf("edit without a reason: %+v", p)
	}
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes", `{"payload":{"entries":[{"ref":"PAY-X","amount":"x"}]},"reason":"try"}`, 422, &p)
	if p.Type != held.ProblemInvalid || p.Field != "entries[0].amount" || len(p.Problems) != 2 {
		t.Errorf("invalid edit: %+v", p)
	}
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes", `{"payload":{"entries":[{"ref":"PAY-X","amount":"5"}]},"reason":"try"}`, 422, &p)
	if p.Type != held.ProblemStillHeld || p.Field != "entries[0].ref" {
		t.Errorf("edit that still fails the business check: %+v", p)
	}

	var payload json.RawMessage
	b.do(t, "op1", "GET", "/admin/v1/held/"+id+"/payload", "", 200, &payload)
	if !strings.Contains(string(payload), "PAY-X") {
		t.Errorf("payload: %s", payload)
	}
	var out held.Outcome
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes", `{"payload":`+fixed+`,"reason":"entry 2 names payment PAY-1"}`, 200, &out)
	if out.Status != store.Held || out.Change == nil || out.Change.State != store.ChangePending || out.Change.Proposer != "op1" {
		t.Fatalf("proposal: %+v", out)
	}
	change := out.Change.ID
	if b.q.has(id) {
		t.Fatal("a change waiting for approval was delivered")
	}
	b.do(t, "op2", "POST", "/admin/v1/held/"+id+"/changes", `{"payload":`+fixed+`,"reason":"again"}`, 409, &p)
	if p.Type != held.ProblemPending {
		t.Errorf("second proposal while one is pending: %+v", p)
	}

	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes/"+change+"/approve", "", 409, &p)
	if p.Type != held.ProblemSameOperator || !strings.Contains(p.Detail, "proposed by op1") || !strings.Contains(p.Detail, "different operator") {
		t.Errorf("own approval: %+v", p)
	}
	forbidden(t, call(b.h, "POST", "/admin/v1/held/"+id+"/changes/"+change+"/approve", "viewer-token", ""))
	if b.q.has(id) {
		t.Fatal("delivered after a refused approval")
	}

	b.do(t, "op2", "POST", "/admin/v1/held/"+id+"/changes/"+change+"/approve", "", 202, &out)
	if out.Status != store.Queued || out.Change.State != store.ChangeApproved || out.Change.DecidedBy != "op2" {
		t.Fatalf("approval: %+v", out)
	}
	if !b.q.has(id) {
		t.Fatal("approved message not queued")
	}
	m, _ = b.st.Get(context.Background(), id)
	if m.Status != store.Queued || string(m.Payload) != fixed {
		t.Errorf("after approval: %s %s", m.Status, m.Payload)
	}
	var shown held.Message
	b.do(t, "viewer", "GET", "/admin/v1/held/"+id, "", 200, &shown)
	if len(shown.Changes) != 1 || shown.Changes[0].DigestAfter != held.Digest([]byte(fixed)) ||
		shown.Changes[0].DigestBefore != held.Digest([]byte(`{"entries":[{"ref":"PAY-1","amount":"10.00"},{"ref":"PAY-X","amount":"5.00"}]}`)) {
		t.Errorf("changes: %+v", shown.Changes)
	}
	got := trail(t, b.st, id)
	want := []string{"bank RECEIVED", "bus HELD", "op1 PAYLOAD_READ", "op1 CHANGE_PROPOSED", "op2 CHANGE_APPROVED", "op2 RESUBMIT", "bus QUEUED"}
	if !slices.Equal(got, want) {
		t.Errorf("trail\n got %v\nwant %v", got, want)
	}
	b.do(t, "op2", "POST", "/admin/v1/held/"+id+"/changes/"+change+"/approve", "", 409, &p)
	if p.Type != held.ProblemNotHeld {
		t.Errorf("approving twice: %+v", p)
	}
	if v, err := b.st.VerifyAudit(context.Background()); err != nil || !v.OK {
		t.Errorf("audit chain: %+v %v", v, err)
	}
}

// Decline keeps the message held; discard needs a reason and is final.
func TestHeldDeclineAndDiscard(t *testing.T) {
	b := newHeldBus(t)
	id := b.hold(t, "stmt", "S-2")
	var out held.Outcome
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes", `{"payload":`+fixed+`,"reason":"r"}`, 200, &out)
	b.do(t, "op2", "POST", "/admin/v1/held/"+id+"/changes/"+out.Change.ID+"/decline", `{"reason":"PAY-1 is booked once already"}`, 200, &out)
	if out.Status != store.Held || out.Change.State != store.ChangeDeclined {
		t.Fatalf("decline: %+v", out)
	}
	var p problem.Problem
	b.do(t, "op2", "POST", "/admin/v1/held/"+id+"/changes/"+out.Change.ID+"/approve", "", 409, &p)
	if p.Type != held.ProblemNotPending {
		t.Errorf("approving a declined change: %+v", p)
	}
	b.do(t, "op2", "POST", "/admin/v1/held/"+id+"/changes/nope/approve", "", 404, &p)
	if p.Field != "change" {
		t.Errorf("unknown change: %+v", p)
	}
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/discard", `{}`, 400, &p)
	if p.Field != "reason" {
		t.Errorf("discard without a reason: %+v", p)
	}
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/discard", `{"reason":"a test transfer of the bank"}`, 200, &out)
	m, _ := b.st.Get(context.Background(), id)
	if out.Status != store.Discarded || m.Status != store.Discarded || m.Payload != nil || m.Error != "a test transfer of the bank" {
		t.Errorf("discarded: %+v %+v", out, m)
	}
	if b.q.has(id) {
		t.Error("a discarded message was queued")
	}
	got := trail(t, b.st, id)
	if got[len(got)-1] != "op1 DISCARDED" || !slices.Contains(got, "op2 CHANGE_DECLINED") {
		t.Errorf("trail %v", got)
	}
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/resubmit", "", 409, &p)
	if p.Type != held.ProblemNotHeld {
		t.Errorf("resubmitting a discarded message: %+v", p)
	}
}

// Without four eyes an edit resubmits at once; resubmitting as it is
// waits until the business check passes.
func TestHeldWithoutFourEyes(t *testing.T) {
	b := newHeldBus(t)
	id := b.hold(t, "note", "N-1")
	var p problem.Problem
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/resubmit", `{"reason":"payment arrived"}`, 422, &p)
	if p.Type != held.ProblemStillHeld || p.Field != "entries[1].ref" {
		t.Errorf("resubmit while the check fails: %+v", p)
	}
	b.ch.pay("PAY-X")
	var out held.Outcome
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/resubmit", `{"reason":"payment arrived"}`, 202, &out)
	if out.Status != store.Queued || !b.q.has(id) {
		t.Errorf("resubmit: %+v", out)
	}

	id2 := b.hold(t, "note", "N-2")
	b.do(t, "op1", "POST", "/admin/v1/held/"+id2+"/changes", `{"payload":`+fixed+`,"reason":"fix the reference"}`, 202, &out)
	if out.Status != store.Queued || out.Change.State != store.ChangeApproved || out.Change.DecidedBy != "op1" || !b.q.has(id2) {
		t.Errorf("edit without four eyes: %+v", out)
	}
	got := trail(t, b.st, id2)
	if !slices.Equal(got[2:], []string{"op1 EDITED", "op1 RESUBMIT", "bus QUEUED"}) {
		t.Errorf("trail %v", got)
	}
}

// An approval checks the change again: a payment withdrawn since the
// proposal keeps the message held. An edit that changes nothing is
// refused in favour of resubmitting.
func TestHeldApprovalChecksAgain(t *testing.T) {
	b := newHeldBus(t)
	id := b.hold(t, "stmt", "S-3")
	var p problem.Problem
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes",
		`{"payload":{"entries":[{"ref":"PAY-1","amount":"10.00"},{"ref":"PAY-X","amount":"5.00"}]},"reason":"same"}`, 422, &p)
	if p.Type != held.ProblemStillHeld {
		t.Errorf("unchanged payload while held: %+v", p)
	}
	b.ch.pay("PAY-X")
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes",
		`{"payload":{"entries":[{"ref":"PAY-1","amount":"10.00"},{"ref":"PAY-X","amount":"5.00"}]},"reason":"same"}`, 422, &p)
	if p.Type != held.ProblemNoChange || p.Field != "payload" {
		t.Errorf("an edit that changes nothing: %+v", p)
	}
	var out held.Outcome
	b.do(t, "op1", "POST", "/admin/v1/held/"+id+"/changes", `{"payload":`+fixed+`,"reason":"r"}`, 200, &out)
	b.ch.mu.Lock()
	delete(b.ch.known, "PAY-1")
	b.ch.mu.Unlock()
	b.do(t, "op2", "POST", "/admin/v1/held/"+id+"/changes/"+out.Change.ID+"/approve", "", 422, &p)
	if p.Type != held.ProblemStillHeld || b.q.has(id) {
		t.Errorf("approval after the payment went: %+v", p)
	}
	m, _ := b.st.Get(context.Background(), id)
	if m.Status != store.Held {
		t.Errorf("status %s", m.Status)
	}
}
