package delivery

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/routes"
)

// gatedBroker hands out subscribers whose Subscribe waits for gate, as a
// subscription to a slow or distant JetStream does.
type gatedBroker struct {
	pubsub *gochannel.GoChannel
	gate   chan struct{}
}

func (b *gatedBroker) Publisher() message.Publisher { return b.pubsub }
func (b *gatedBroker) Subscriber(context.Context, string, int, func(uint64) time.Duration) (message.Subscriber, error) {
	return gatedSubscriber{b}, nil
}

type gatedSubscriber struct{ b *gatedBroker }

func (s gatedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	select {
	case <-s.b.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.b.pubsub.Subscribe(ctx, topic)
}

func (gatedSubscriber) Close() error { return nil }

// Readiness waits on Running: it stays open while an async route's
// subscription is still being made, and closes once every route is
// consumed; a bus without async routes runs at once.
func TestRunningOnceEveryAsyncRouteIsConsumed(t *testing.T) {
	async := []routes.Spec{{Name: "budget.notice", Adapter: "test.traced", Mode: routes.Async, Endpoints: []string{"http://127.0.0.1:9"},
		Callers: []string{"treasury"}, Retry: adapters.RetrySpec{Attempts: 1}, Timeout: 5e9}}
	for _, tc := range []struct {
		name  string
		specs []routes.Spec
	}{{"an async route", async}, {"no async route", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newBus(t, openStore(t), tc.specs).w
			b := &gatedBroker{pubsub: gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}), gate: make(chan struct{})}
			t.Cleanup(func() { b.pubsub.Close() })
			w.Broker = b
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			}()
			if tc.specs != nil {
				select {
				case <-w.Running():
					t.Fatal("running before the route's subscription was made")
				case <-time.After(300 * time.Millisecond):
				}
			}
			close(b.gate)
			select {
			case <-w.Running():
			case <-time.After(10 * time.Second):
				t.Fatal("not running 10 s after every subscription was made")
			}
		})
	}
}

// workersBroker notes how many workers each topic was subscribed with.
type workersBroker struct {
	pubsub  *gochannel.GoChannel
	mu      sync.Mutex
	workers map[string]int
}

func (b *workersBroker) Publisher() message.Publisher { return b.pubsub }
func (b *workersBroker) Subscriber(_ context.Context, topic string, workers int, _ func(uint64) time.Duration) (message.Subscriber, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.workers[topic] = workers
	return b.pubsub, nil
}

// A route's concurrency is how many of its messages are delivered at once,
// up to MaxWorkers; a route without one leaves the broker's default.
func TestRouteConcurrencyIsItsDeliveryWorkers(t *testing.T) {
	spec := func(name string, concurrency int) routes.Spec {
		return routes.Spec{Name: name, Adapter: "test.traced", Mode: routes.Async, Endpoints: []string{"http://127.0.0.1:9"},
			Callers: []string{"treasury"}, Retry: adapters.RetrySpec{Attempts: 1}, Timeout: 5e9, Concurrency: concurrency}
	}
	w := newBus(t, openStore(t), []routes.Spec{spec("budget.wide", 40), spec("budget.plain", 0), spec("budget.huge", 10000)}).w
	b := &workersBroker{pubsub: gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{}), workers: map[string]int{}}
	t.Cleanup(func() { b.pubsub.Close() })
	w.Broker = b
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case <-w.Running():
	case <-time.After(10 * time.Second):
		t.Fatal("not running after 10 s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for route, want := range map[string]int{"budget.wide": 40, "budget.plain": 0, "budget.huge": MaxWorkers} {
		if got, ok := b.workers[Topic(route)]; !ok || got != want {
			t.Errorf("route %s subscribed with %d workers (subscribed: %v), want %d", route, got, ok, want)
		}
	}
}
