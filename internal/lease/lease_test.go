package lease

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/broker"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const ttl = time.Second

func bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, broker.Config{DataDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	kv, err := b.KeyValue(ctx, Bucket, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// dying is a bucket that stops answering, as a node whose process froze
// or whose network is cut: its renewals fail from then on.
type dying struct {
	jetstream.KeyValue
	dead atomic.Bool
}

var errCut = errors.New("connection cut")

func (d *dying) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if d.dead.Load() {
		return 0, errCut
	}
	return d.KeyValue.Update(ctx, key, value, rev)
}

func (d *dying) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if d.dead.Load() {
		return 0, errCut
	}
	return d.KeyValue.Create(ctx, key, value, opts...)
}

func (d *dying) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	if d.dead.Load() {
		return errCut
	}
	return d.KeyValue.Delete(ctx, key, opts...)
}

// TestOneHolderAndFailover runs one job on two nodes: only one runs it at
// a time; when its holder stops renewing, the other takes over within the
// TTL and a try, and the first stops its work before the second starts.
func TestOneHolderAndFailover(t *testing.T) {
	kv := bucket(t)
	held := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "held"}, []string{"lease"})
	var running atomic.Int32
	var mu sync.Mutex
	var events []string
	job := func(node string) func(context.Context) error {
		return func(ctx context.Context) error {
			if n := running.Add(1); n != 1 {
				t.Errorf("%d nodes run the job at once", n)
			}
			mu.Lock()
			events = append(events, node)
			mu.Unlock()
			<-ctx.Done()
			running.Add(-1)
			return nil
		}
	}
	a := &dying{KeyValue: kv}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ma, mb := New(a, ttl, held, quiet()), New(kv, ttl, nil, quiet())
	var wg sync.WaitGroup
	wg.Go(func() { ma.Run(ctx, "job", job("a")) })
	waitFor(t, 2*time.Second, "node a to hold the lease", func() bool { return testutil.ToFloat64(held.WithLabelValues("job")) == 1 })
	wg.Go(func() { mb.Run(ctx, "job", job("b")) })
	time.Sleep(3 * ttl) // b tries all along and must not get in
	mu.Lock()
	if len(events) != 1 {
		t.Fatalf("while a renews: %v", events)
	}
	mu.Unlock()

	cut := time.Now()
	a.dead.Store(true)
	waitFor(t, 3*ttl, "node b to take over", func() bool { mu.Lock(); defer mu.Unlock(); return len(events) == 2 })
	took := time.Since(cut)
	if took > 2*ttl {
		t.Errorf("failover took %s, more than twice the TTL %s", took, ttl)
	}
	if v := testutil.ToFloat64(held.WithLabelValues("job")); v != 0 {
		t.Errorf("node a still reports the lease held: %v", v)
	}
	cancel()
	wg.Wait()
	t.Logf("failover in %s", took)
}

// TestGivenUpOnStop: a node that stops gracefully deletes its lease, so
// the next node starts at its next try instead of after the TTL; a job
// that returns on its own gives the lease up and is not run again.
func TestGivenUpOnStop(t *testing.T) {
	kv := bucket(t)
	actx, stopA := context.WithCancel(t.Context())
	ma, mb := New(kv, 10*ttl, nil, quiet()), New(kv, 10*ttl, nil, quiet())
	started := make(chan string, 4)
	run := func(node string) func(context.Context) error {
		return func(ctx context.Context) error { started <- node; <-ctx.Done(); return nil }
	}
	doneA := make(chan struct{})
	go func() { ma.Run(actx, "job", run("a")); close(doneA) }()
	if n := <-started; n != "a" {
		t.Fatalf("first holder %s", n)
	}
	bctx, stopB := context.WithCancel(t.Context())
	defer stopB()
	go mb.Run(bctx, "job", run("b"))
	stopA()
	<-doneA
	at := time.Now()
	select {
	case n := <-started:
		// The bucket's TTL is 1s but this manager's is 10s: only the
		// deletion can have let b in this soon.
		if n != "b" || time.Since(at) > 3*time.Second {
			t.Fatalf("after a stopped: %s in %s", n, time.Since(at))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("b did not take the lease a gave up")
	}

	calls := 0
	once := func(context.Context) error { calls++; return errors.New("finished") }
	if err := New(kv, ttl, nil, quiet()).Run(t.Context(), "once", once); err == nil || err.Error() != "finished" || calls != 1 {
		t.Fatalf("a job that returned: err %v, calls %d", err, calls)
	}
	if _, err := kv.Get(t.Context(), "once"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("the finished job's lease is still there: %v", err)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
