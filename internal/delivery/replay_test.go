package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/routes"
)

// memJobs is a JobStore two replayers share, as two nodes share the
// bucket.
type memJobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (j *memJobs) Put(_ context.Context, id string, rec []byte) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.m[id] = rec
	return nil
}

func (j *memJobs) Get(_ context.Context, id string) ([]byte, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if r, ok := j.m[id]; ok {
		return r, nil
	}
	return nil, ErrNoJob
}

func (j *memJobs) IDs(context.Context) ([]string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var ids []string
	for id := range j.m {
		ids = append(ids, id)
	}
	return ids, nil
}

// countingBroker publishes nowhere, counting what was published, and
// calls after once the count reaches at.
type countingBroker struct {
	mu    sync.Mutex
	ids   []string
	at    int
	after func()
}

func (c *countingBroker) Publisher() message.Publisher { return c }
func (c *countingBroker) Subscriber(context.Context, string, int, func(uint64) time.Duration) (message.Subscriber, error) {
	return nil, fmt.Errorf("not in this test")
}
func (c *countingBroker) Close() error { return nil }
func (c *countingBroker) Publish(_ string, msgs ...*message.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.ids = append(c.ids, string(m.Payload))
		if len(c.ids) == c.at && c.after != nil {
			c.after()
		}
	}
	return nil
}

// TestBulkReplayResumedOnAnotherNode: a bulk job started on one node is
// visible from another, runs where the lease is, and when its node stops
// half way, another node resumes it from where it got to; every DEAD
// message is replayed exactly once and the progress adds up.
func TestBulkReplayResumedOnAnotherNode(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", 400) }))
	defer refuse.Close()
	st := openStore(t)
	specs := []routes.Spec{{Name: "budget.notice", Adapter: "test.traced", Mode: routes.Async, Endpoints: []string{refuse.URL},
		Callers: []string{"treasury"}, Retry: adapters.RetrySpec{Attempts: 3}, Timeout: 5e9}}
	b := newBus(t, st, specs)
	r, _ := b.table.Get("budget.notice")
	const n = 6
	for i := range n {
		x := &routes.Exchange{Route: r, Caller: "treasury", Started: time.Now(), Request: adapters.Request{
			Route: r.Name, MessageID: routes.NewMessageID(), Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}}
		if err := r.Call(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		msg := message.NewMessage("m", []byte(x.Request.MessageID))
		msg.SetContext(context.Background())
		if err := b.w.handle(msg); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := st.Count(context.Background(), store.Filter{Status: store.Dead}); c[store.Dead] != n {
		t.Fatalf("%d DEAD, want %d", c[store.Dead], n)
	}

	kept := &memJobs{m: map[string][]byte{}}
	ctxA, stopA := context.WithCancel(context.Background())
	pubA := &countingBroker{at: 2, after: stopA} // node A dies after its second replay
	b.w.Broker = pubA
	nodeA := &Replayer{Worker: b.w, Jobs: kept}
	pubB := &countingBroker{}
	wB := &Worker{Routes: b.w.Routes, Store: b.w.Store, Ledger: b.w.Ledger, Broker: pubB, Metrics: b.w.Metrics, Log: b.w.Log}
	nodeB := &Replayer{Worker: wB, Jobs: kept}

	job := nodeB.StartBulk(store.Filter{Status: store.Dead}, "operator-1")
	if j, ok := nodeA.Job(job.ID); !ok || !j.Snapshot().Running {
		t.Fatalf("the job started on B is not seen running from A: %v %+v", ok, j)
	}
	nodeA.RunJobs(ctxA) // returns when its lease (here: ctx) ends
	mid, _ := nodeB.Job(job.ID)
	s := mid.Snapshot()
	if !s.Running || s.Total != n || s.Replayed != 2 {
		t.Fatalf("after A stopped, B sees %+v; want running, total %d, 2 replayed", s, n)
	}

	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	done := make(chan struct{})
	go func() { nodeB.RunJobs(ctxB); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, _ := nodeA.Job(job.ID)
		if s = j.Snapshot(); !s.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job was not resumed to its end: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopB()
	<-done
	if s.Replayed != n || s.Failed != 0 || s.Total != n || s.Finished.IsZero() || s.Operator != "operator-1" {
		t.Errorf("finished job: %+v", s)
	}
	all := append(append([]string(nil), pubA.ids...), pubB.ids...)
	slices.Sort(all)
	if len(all) != n || len(slices.Compact(all)) != n {
		t.Errorf("replays published: A %d, B %d, distinct %d; want each of %d once", len(pubA.ids), len(pubB.ids), len(slices.Compact(all)), n)
	}
	if c, _ := st.Count(context.Background(), store.Filter{Status: store.Queued}); c[store.Queued] != n {
		t.Errorf("%d QUEUED after the replay, want %d", c[store.Queued], n)
	}
	if _, ok := nodeA.Job("no-such-job"); ok {
		t.Error("an unknown job was found")
	}
}

// holdingBroker is a countingBroker that says how many messages it holds
// for every topic.
type holdingBroker struct {
	countingBroker
	held atomic.Uint64
}

func (h *holdingBroker) Holds(context.Context, string) (uint64, error) { return h.held.Load(), nil }

// TestOrphansPublishedOnlyWhenTheBrokerHoldsNone: QUEUED messages a dead
// node stored but never published are published again by the holder of
// delivery.recover, but only while the broker holds nothing for their
// route, so no message it holds gets a second copy.
func TestOrphansPublishedOnlyWhenTheBrokerHoldsNone(t *testing.T) {
	st := openStore(t)
	specs := []routes.Spec{{Name: "budget.notice", Adapter: "test.traced", Mode: routes.Async, Endpoints: []string{"http://127.0.0.1:1"},
		Callers: []string{"treasury"}, Retry: adapters.RetrySpec{Attempts: 3}, Timeout: 5e9}}
	b := newBus(t, st, specs) // its queue keeps what it is given: the "dead node" never publishes
	r, _ := b.table.Get("budget.notice")
	var ids []string
	for i := range 3 {
		x := &routes.Exchange{Route: r, Caller: "treasury", Started: time.Now(), Request: adapters.Request{
			Route: r.Name, MessageID: routes.NewMessageID(), Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))}}
		if err := r.Call(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, x.Request.MessageID)
	}
	br := &holdingBroker{}
	br.held.Store(5) // the broker holds other messages of the route
	b.w.Broker = br
	b.w.OrphanAge = time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.w.RecoverOrphans(ctx, 20*time.Millisecond); close(done) }()
	time.Sleep(200 * time.Millisecond)
	br.mu.Lock()
	early := len(br.ids)
	br.mu.Unlock()
	if early != 0 {
		t.Fatalf("%d published while the broker held messages of the route", early)
	}
	br.held.Store(0)
	deadline := time.Now().Add(5 * time.Second)
	for {
		br.mu.Lock()
		got := append([]string(nil), br.ids...)
		br.mu.Unlock()
		if len(got) >= len(ids) {
			slices.Sort(got)
			if !slices.Equal(slices.Compact(got), ids) {
				t.Errorf("published %v, want the orphans %v", got, ids)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphans not published: %v", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	<-done
}
