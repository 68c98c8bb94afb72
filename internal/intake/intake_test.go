package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/minfin-kz/kopir/adapters"
	_ "github.com/minfin-kz/kopir/adapters/httpjson"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/metrics"
	"github.com/minfin-kz/kopir/internal/resilience"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// recordingQueue stands in for the broker: the intake's contract with the
// queue is only "hand it over", which is what is checked here.
type recordingQueue struct {
	mu  sync.Mutex
	ids []string
}

func (q *recordingQueue) Enqueue(_ context.Context, m *routes.Message) error {
	q.mu.Lock()
	q.ids = append(q.ids, m.ID)
	q.mu.Unlock()
	return nil
}

func setup(t *testing.T) (*Intake, *store.SQLStore, *recordingQueue) {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+t.TempDir()+"/kopir.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	q := &recordingQueue{}
	spec := routes.Spec{Name: "budget.notice", Adapter: "http", Operation: "deliver", Mode: routes.Async,
		Endpoints: []string{"http://127.0.0.1:9/sub"}, Retry: adapters.RetrySpec{Attempts: 3},
		Inbound: &routes.InboundSpec{Channel: "shep", Key: "MINFIN_Notice"}}
	spec.PersonalData.Mask = []string{"iin"}
	l := ledger.New(st, []routes.Spec{spec}, "", slog.Default())
	tbl, err := routes.Build([]routes.Spec{spec}, routes.Deps{Ledger: l, Queue: q, Meter: metrics.New(), Log: slog.Default(),
		Transport: func(s routes.Spec, n int) (adapters.Transport, error) {
			return resilience.NewClient(resilience.Options{Endpoints: s.Endpoints, Retry: s.Retry, Breakers: resilience.NewBreakers(nil)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	return New(tbl, st, l, q, slog.Default()), st, q
}

func TestAcceptStoresQueuesAndDeduplicates(t *testing.T) {
	in, st, q := setup(t)
	ctx := context.Background()
	if ok, sync := in.Known("shep", "MINFIN_Notice"); !ok || sync {
		t.Fatalf("Known = %v %v", ok, sync)
	}
	if ok, _ := in.Known("shep", "OTHER"); ok {
		t.Fatal("unknown key reported known")
	}
	m := &adapters.Inbound{Channel: "shep", Key: "MINFIN_Notice", ExternalID: "ext-1", Sender: "treasury-gw", Body: []byte(`{"iin":"880501300124","amount":5}`)}
	rc, err := in.Accept(ctx, m)
	if err != nil || rc.Duplicate || rc.Status != "QUEUED" {
		t.Fatalf("accept: %+v %v", rc, err)
	}
	if err := in.Acknowledge(ctx, rc.MessageID, []byte(`<ack>ok</ack>`)); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Get(ctx, rc.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Direction != store.Inbound || stored.ExternalID != "ext-1" || string(stored.Payload) != string(m.Body) || strings.Contains(string(stored.RequestBody), "880501300124") {
		t.Errorf("stored: %+v body %s", stored, stored.RequestBody)
	}

	// The delivery worker then stores the subscriber's answer on the
	// message; the acknowledgement a repeat gets must not change.
	stored.Status, stored.ResponseBody = store.Delivered, []byte(`{"ok":true}`)
	if err := st.Record(ctx, store.Event{Message: stored}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	receipts := make([]*adapters.Receipt, 8)
	for i := range receipts {
		wg.Add(1)
		go func() { defer wg.Done(); receipts[i], _ = in.Accept(ctx, m) }()
	}
	wg.Wait()
	for _, r := range receipts {
		if r == nil || !r.Duplicate || r.MessageID != rc.MessageID || string(r.Ack) != "<ack>ok</ack>" {
			t.Fatalf("repeat receipt: %+v", r)
		}
	}
	if len(q.ids) != 1 {
		t.Errorf("enqueued %d times, want once", len(q.ids))
	}
	hist, _ := in.History(ctx, rc.MessageID)
	dups := 0
	for _, e := range hist {
		if e.Action == "DUPLICATE" {
			dups++
		}
	}
	if dups != len(receipts) {
		t.Errorf("%d DUPLICATE audit entries, want %d", dups, len(receipts))
	}
}

func TestConcurrentFirstCopiesStoreOnce(t *testing.T) {
	in, st, q := setup(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in.Accept(ctx, &adapters.Inbound{Channel: "shep", Key: "MINFIN_Notice", ExternalID: "same", Body: []byte(`{}`)})
		}()
	}
	wg.Wait()
	c, _ := st.Count(ctx, store.Filter{Route: "budget.notice"})
	if c[store.Queued] != 1 || len(q.ids) != 1 {
		t.Errorf("10 simultaneous copies stored %d and enqueued %d", c[store.Queued], len(q.ids))
	}
}

func TestRejectFindAnnotate(t *testing.T) {
	in, st, _ := setup(t)
	ctx := context.Background()
	id := in.Reject(ctx, &adapters.Inbound{Channel: "shep", Key: "MINFIN_Notice", ExternalID: "bad-1", Raw: []byte("<x>880501300124</x>")}, errors.New("signature: digest mismatch"))
	m, err := st.Get(ctx, id)
	if err != nil || m.Status != store.Rejected || m.Error != "signature: digest mismatch" || strings.Contains(string(m.RequestBody), "880501300124") {
		t.Fatalf("rejected: %+v %v", m, err)
	}
	if _, err := in.Accept(ctx, &adapters.Inbound{Channel: "shep", Key: "NOPE"}); err == nil {
		t.Error("accepted an unknown key")
	}
	rc, _ := in.Accept(ctx, &adapters.Inbound{Channel: "shep", Key: "MINFIN_Notice", ExternalID: "e2e-7", Body: []byte(`{}`)})
	f, err := in.Find(ctx, "budget.notice", "e2e-7")
	if err != nil || f.MessageID != rc.MessageID {
		t.Fatalf("find: %+v %v", f, err)
	}
	for _, s := range []string{"PDNG", "ACSC"} {
		if err := in.Annotate(ctx, f.MessageID, "PAYMENT_STATUS", s); err != nil {
			t.Fatal(err)
		}
	}
	hist, _ := in.History(ctx, f.MessageID)
	var got []string
	for _, e := range hist {
		got = append(got, fmt.Sprintf("%s:%s", e.Action, e.Detail))
	}
	if j := strings.Join(got, " "); !strings.HasSuffix(j, "PAYMENT_STATUS:PDNG PAYMENT_STATUS:ACSC") {
		t.Errorf("history: %s", j)
	}
	if v, _ := st.VerifyAudit(ctx); !v.OK {
		t.Errorf("audit: %+v", v)
	}
}

// An agency id longer than what is kept is stored capped, found again by
// itself (a repeat is a duplicate), and nothing of it is kept whole.
func TestLongExternalIDIsCappedAndStillDeduplicated(t *testing.T) {
	in, st, q := setup(t)
	ctx := context.Background()
	long := strings.Repeat("x", 64<<10)
	m := &adapters.Inbound{Channel: "shep", Key: "MINFIN_Notice", ExternalID: long, CorrelationID: long, Body: []byte(`{}`)}
	first, err := in.Accept(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	again, err := in.Accept(ctx, m)
	if err != nil || !again.Duplicate || again.MessageID != first.MessageID || len(q.ids) != 1 {
		t.Fatalf("repeat of a long id: %+v %v (queued %d)", again, err, len(q.ids))
	}
	stored, _ := st.Get(ctx, first.MessageID)
	if len(stored.ExternalID) > ledger.MaxKey+32 || len(stored.CorrelationID) > ledger.MaxKey+32 {
		t.Errorf("kept %d and %d bytes of the ids", len(stored.ExternalID), len(stored.CorrelationID))
	}
	if f, err := in.Find(ctx, "budget.notice", long); err != nil || f.MessageID != first.MessageID {
		t.Errorf("find by the long id: %+v %v", f, err)
	}
}

// A store failure reaches the channel as words it may pass to the agency;
// the store's own stay in the cause.
func TestStoreFailureIsNamedWithoutTheStoreWords(t *testing.T) {
	in, st, _ := setup(t)
	st.Close()
	_, err := in.Accept(context.Background(), &adapters.Inbound{Channel: "shep", Key: "MINFIN_Notice", ExternalID: "e-1", Body: []byte(`{}`)})
	var se *StoreError
	if !errors.As(err, &se) || err.Error() != "looking up an earlier copy: the message store is unavailable" || se.Unwrap() == nil {
		t.Errorf("Accept on a closed store: %v", err)
	}
}
