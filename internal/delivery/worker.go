// Package delivery carries async messages from the store to their
// receivers through the broker: enqueue after the message is stored,
// deliver with the route's policy across broker redeliveries (so retries
// survive restarts), mark DEAD when the policy is spent, and replay DEAD
// messages on an operator's word.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/broker"
	"github.com/minfin-kz/kopir/internal/ledger"
	"github.com/minfin-kz/kopir/internal/metrics"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/tracing"
	"github.com/minfin-kz/kopir/routes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Broker is the durable transport messages wait in.
type Broker interface {
	Publisher() message.Publisher
	// Subscriber consumes topic durably, handing workers messages to their
	// handlers at once (0: the broker's default); a nacked message comes
	// back after delay(retryNumber). It waits out a broker that is not
	// available yet until ctx ends.
	Subscriber(ctx context.Context, topic string, workers int, delay func(retry uint64) time.Duration) (message.Subscriber, error)
}

// MaxWorkers caps the deliveries of one route in flight at once: each is a
// subscription of its own on the broker.
const MaxWorkers = 256

// Workers is how many of a route's messages are delivered at once: its
// concurrency, which also caps its calls in flight, up to MaxWorkers; 0
// (no limit set) leaves the broker's default.
func Workers(spec routes.Spec) int {
	return min(spec.Concurrency, MaxWorkers)
}

// metaBase is the attempt count a message had when this delivery round
// started; a replay starts a new round with a fresh retry budget.
const metaBase = "kopir_base_attempts"

// Worker delivers async messages.
type Worker struct {
	Routes  *routes.Table
	Store   store.Store // read: the message to deliver
	Ledger  *ledger.Ledger
	Broker  Broker
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Tracer starts each delivery's span; nil: none.
	Tracer trace.Tracer
	// Backoff is the wait before redelivery number n of a route.
	Backoff func(spec adapters.RetrySpec, n int) time.Duration
	// SweepEvery is how often messages recorded but not yet accepted by
	// the broker are published again; 0 means DefaultSweepEvery.
	SweepEvery time.Duration

	// OrphanAge: see RecoverOrphans; 0 means DefaultOrphanAge.
	OrphanAge time.Duration

	unqueued sync.Map // message id → *routes.Message whose publish failed

	runningOnce, markOnce sync.Once
	running               chan struct{}
}

// Running is closed once Run consumes every async route's topic, at once
// when there is none, so that readiness can wait for delivery.
func (w *Worker) Running() <-chan struct{} {
	w.runningOnce.Do(func() { w.running = make(chan struct{}) })
	return w.running
}

func (w *Worker) markRunning() {
	w.Running()
	w.markOnce.Do(func() { close(w.running) })
}

func (w *Worker) tracer() trace.Tracer {
	if w.Tracer == nil {
		return noop.NewTracerProvider().Tracer("")
	}
	return w.Tracer
}

// DefaultSweepEvery is how soon a message whose publish failed is tried
// again while the bus runs (a crash is covered by Recover at start-up).
const DefaultSweepEvery = 2 * time.Second

// Topic is the broker topic of a route's deliveries.
func Topic(route string) string { return "deliver." + route }

// Enqueue publishes a recorded message; it returns once the broker holds it.
//
// The publish is detached from ctx's cancellation and bounded by
// routes.PublishTimeout instead: whoever handed the message over (a caller
// that hangs up, an agency's connection) must not leave it recorded but
// unqueued.
func (w *Worker) Enqueue(ctx context.Context, m *routes.Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), routes.PublishTimeout)
	defer cancel()
	// The broker message carries only the id: the store holds the payload,
	// and one source of truth means a replay always sends what was stored.
	msg := message.NewMessage(m.ID+"."+strconv.Itoa(m.Attempts), []byte(m.ID))
	msg.Metadata.Set(metaBase, strconv.Itoa(m.Attempts))
	msg.Metadata.Set(middleware.CorrelationIDMetadataKey, m.CorrelationID)
	msg.SetContext(ctx)
	if err := w.Broker.Publisher().Publish(Topic(m.Route), msg); err != nil {
		w.unqueued.Store(m.ID, m)
		return fmt.Errorf("publishing message %s: %w", m.ID, err)
	}
	w.unqueued.Delete(m.ID)
	return nil
}

// Sweep publishes again, every SweepEvery until ctx ends, each message
// whose publish failed after it was recorded, so that none stays QUEUED
// without being in the broker until the next start.
func (w *Worker) Sweep(ctx context.Context) {
	every := w.SweepEvery
	if every <= 0 {
		every = DefaultSweepEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.unqueued.Range(func(_, v any) bool {
			m := v.(*routes.Message)
			if err := w.Enqueue(ctx, m); err != nil {
				w.Log.Warn("message still not queued; will try again", "messageId", m.ID, "err", err)
				return false // the broker is down: wait for the next tick
			}
			w.Log.Info("queued a message whose first publish had failed", "messageId", m.ID)
			return true
		})
	}
}

// Unqueued counts messages recorded but not yet in the broker.
func (w *Worker) Unqueued() int {
	n := 0
	w.unqueued.Range(func(_, _ any) bool { n++; return true })
	return n
}

// Run consumes every async route until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NewSlogLogger(w.Log))
	if err != nil {
		return err
	}
	router.AddMiddleware(middleware.Recoverer, middleware.CorrelationID)
	n := 0
	for _, r := range w.Routes.All() {
		if r.Mode != routes.Async {
			continue
		}
		spec := r.Spec.Retry
		sub, err := w.Broker.Subscriber(ctx, Topic(r.Name), Workers(r.Spec), func(retry uint64) time.Duration { return w.Backoff(spec, int(retry)+1) })
		if err != nil {
			return fmt.Errorf("subscribing to route %s: %w", r.Name, err)
		}
		router.AddConsumerHandler("deliver-"+r.Name, Topic(r.Name), sub, w.handle)
		n++
	}
	if n == 0 {
		w.markRunning()
		<-ctx.Done()
		return nil
	}
	go w.watchDepth(ctx)
	go func() {
		select {
		case <-router.Running():
			w.markRunning()
		case <-ctx.Done():
		}
	}()
	return router.Run(ctx)
}

// Recover re-enqueues every QUEUED message. A message stored but not yet
// published when the process died is only known to the store; one that is
// already in the broker is dropped as a duplicate by the broker's window,
// or skipped by the worker once delivered.
func (w *Worker) Recover(ctx context.Context) (int, error) {
	return w.enqueueAll(ctx, store.Filter{Status: store.Queued, Limit: 1000})
}

// enqueueAll enqueues every message f matches, a page of f.Limit at a
// time, and returns how many it enqueued.
func (w *Worker) enqueueAll(ctx context.Context, f store.Filter) (int, error) {
	n := 0
	for {
		page, err := w.Store.List(ctx, f)
		if err != nil {
			return n, err
		}
		for i := range page {
			if err := w.Enqueue(ctx, ledger.View(&page[i])); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < f.Limit {
			return n, nil
		}
		f.AfterID = page[len(page)-1].ID
	}
}

// Holder is a broker that tells how many messages it keeps for a topic.
type Holder interface {
	Holds(ctx context.Context, topic string) (uint64, error)
}

// DefaultOrphanAge is how old a QUEUED message must be before
// RecoverOrphans takes it for one whose publish never happened: older
// than any publish in progress (routes.PublishTimeout) can be.
const DefaultOrphanAge = routes.PublishTimeout + 20*time.Second

// RecoverOrphans publishes again, every interval until ctx ends, the QUEUED
// messages of each async route whose topic the broker holds nothing for:
// messages stored by a node that died before publishing them, which only
// the store knows of. A route whose topic holds anything is left for a
// quieter moment, since its QUEUED messages cannot be told from the ones
// the broker holds; so no message the broker holds is published twice.
// It runs on one node of a cluster at a time (the core's lease), and
// complements Recover, which each node runs as it starts.
func (w *Worker) RecoverOrphans(ctx context.Context, every time.Duration) error {
	holder, ok := w.Broker.(Holder)
	if !ok {
		<-ctx.Done()
		return nil
	}
	age := w.OrphanAge
	if age <= 0 {
		age = DefaultOrphanAge
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, r := range w.Routes.All() {
			if r.Mode != routes.Async {
				continue
			}
			n, err := w.recoverOrphans(ctx, holder, r.Name, time.Now().Add(-age))
			if err != nil && ctx.Err() == nil {
				w.Log.Warn("looking for queued messages the broker does not hold", "route", r.Name, "err", err)
			}
			if n > 0 {
				w.Log.Warn("published again queued messages the broker did not hold (their node died before publishing them)", "route", r.Name, "count", n)
			}
		}
	}
}

func (w *Worker) recoverOrphans(ctx context.Context, holder Holder, route string, before time.Time) (int, error) {
	held, err := holder.Holds(ctx, Topic(route))
	if err != nil || held > 0 {
		return 0, err
	}
	return w.enqueueAll(ctx, store.Filter{Status: store.Queued, Route: route, Before: before, Limit: 500})
}

func (w *Worker) handle(msg *message.Message) error {
	growStack()
	ctx := msg.Context()
	id := string(msg.Payload)
	m, err := w.load(ctx, msg, id)
	if errors.Is(err, store.ErrNotFound) {
		w.Log.Error("delivery of a message the store does not hold; dropped", "messageId", id)
		return nil
	}
	if err != nil {
		return fmt.Errorf("loading message %s: %w", id, err)
	}
	if m.Status != store.Queued {
		w.Metrics.Deliveries.WithLabelValues(m.Route, "skipped").Inc()
		return nil // delivered or dead already: a duplicate broker copy
	}
	return w.deliver(ctx, msg, m)
}

// load is the message msg asks to deliver. On the broker's first delivery
// of a message this process has just queued, it is the ledger's copy of
// what it wrote: nothing but a delivery changes a QUEUED message, and no
// other delivery of it can have run yet. Otherwise (a redelivery, another
// node's message, one queued before a restart) it is read from the store.
func (w *Worker) load(ctx context.Context, msg *message.Message, id string) (*store.Message, error) {
	if msg.Metadata.Get(broker.MetaDeliveries) == "1" {
		if m, ok := w.Ledger.TakeQueued(id); ok {
			return m, nil
		}
	}
	return w.Store.Get(ctx, id)
}

// deliver makes one delivery of m as a span of the trace the message was
// stored in, so the subscriber's side joins the caller's (or agency's)
// trace even when the delivery runs after a restart.
func (w *Worker) deliver(ctx context.Context, msg *message.Message, m *store.Message) (err error) {
	ctx = tracing.Resume(ctx, m.TraceParent, m.TraceState)
	ctx, span := w.tracer().Start(ctx, "deliver "+m.Route, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		adapters.AttrRoute.String(m.Route), adapters.AttrCaller.String(m.Caller), adapters.AttrMessageID.String(m.ID),
		adapters.AttrCorrelationID.String(m.CorrelationID)))
	defer func() {
		adapters.SpanFailed(span, err)
		span.End()
	}()
	r, ok := w.Routes.Get(m.Route)
	if !ok || r.Mode != routes.Async {
		return w.finish(ctx, m, nil, store.Dead, fmt.Sprintf("route %s is no longer an async route of this bus", m.Route), nil)
	}
	key := m.IdempotencyKey
	if key == "" {
		key = m.ID
	}
	x := &routes.Exchange{Route: r, Caller: m.Caller, Started: time.Now(), Request: adapters.Request{
		Route: m.Route, Operation: r.Operation, MessageID: m.ID, CorrelationID: m.CorrelationID, IdempotencyKey: key, Body: m.Payload,
	}}
	derr := r.Deliver(ctx, x)
	span.SetAttributes(adapters.AttrOutcome.String(string(x.Outcome)))
	attempts := x.Attempts()
	if derr == nil {
		w.Metrics.Deliveries.WithLabelValues(m.Route, "delivered").Inc()
		return w.finish(ctx, m, attempts, store.Delivered, "", x.Response)
	}
	base, _ := strconv.Atoi(msg.Metadata.Get(metaBase))
	used := m.Attempts - base + len(attempts)
	var ae *adapters.Error
	permanent := errors.As(derr, &ae) && !ae.Retryable
	if permanent && ae.Configuration {
		// Every message like this one will fail the same way: say so loudly,
		// as the deployment's error it is, not as this message's.
		w.Metrics.Deliveries.WithLabelValues(m.Route, "misconfigured").Inc()
		w.Log.ErrorContext(ctx, "configuration error: the route's receiver refuses its messages; they go DEAD until the configuration is fixed",
			"route", m.Route, "messageId", m.ID, "err", derr)
		return w.finish(ctx, m, attempts, store.Dead, fmt.Sprintf("configuration error: %v", derr), nil)
	}
	if permanent || used >= r.Retry.Attempts {
		w.Metrics.Deliveries.WithLabelValues(m.Route, "dead").Inc()
		why := fmt.Sprintf("gave up after %d attempts: %v", used, derr)
		if permanent {
			why = fmt.Sprintf("receiver refused the message (not retryable): %v", derr)
		}
		return w.finish(ctx, m, attempts, store.Dead, why, nil)
	}
	w.Metrics.Deliveries.WithLabelValues(m.Route, "retry").Inc()
	if err := w.Ledger.Retrying(ctx, m, attempts, derr); err != nil {
		return fmt.Errorf("recording attempt of %s: %w", m.ID, err)
	}
	return fmt.Errorf("delivery of %s failed (attempt %d of %d), will retry: %w", m.ID, used, r.Retry.Attempts, derr)
}

func (w *Worker) finish(ctx context.Context, m *store.Message, at []routes.Attempt, status store.Status, why string, resp *adapters.Response) error {
	if err := w.Ledger.Finished(ctx, m, at, status, why, resp); err != nil {
		return fmt.Errorf("recording %s of %s: %w", status, m.ID, err)
	}
	return nil
}

func (w *Worker) watchDepth(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	oldest := map[string]time.Time{} // route → last tick's answer, tried first
	for {
		for _, r := range w.Routes.All() {
			if r.Mode != routes.Async {
				continue
			}
			if h, err := w.Store.Count(ctx, store.Filter{Route: r.Name, Status: store.Held}); err == nil {
				w.Metrics.HeldMessages.WithLabelValues(r.Name).Set(float64(h[store.Held]))
			}
			c, err := w.Store.Count(ctx, store.Filter{Route: r.Name, Status: store.Queued})
			if err != nil {
				continue
			}
			w.Metrics.QueueDepth.WithLabelValues(r.Name).Set(float64(c[store.Queued]))
			if c[store.Queued] == 0 {
				delete(oldest, r.Name)
				w.Metrics.QueueOldestAge.WithLabelValues(r.Name).Set(0)
				continue
			}
			now := time.Now()
			at, found, err := oldestQueued(now, oldest[r.Name], func(before time.Time) (bool, error) {
				c, err := w.Store.Count(ctx, store.Filter{Route: r.Name, Status: store.Queued, Before: before})
				return c[store.Queued] > 0, err
			})
			if err != nil {
				continue
			}
			age := time.Duration(0)
			if found {
				oldest[r.Name] = at
				age = now.Sub(at)
			} else {
				delete(oldest, r.Name)
			}
			w.Metrics.QueueOldestAge.WithLabelValues(r.Name).Set(age.Seconds())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// oldestQueued finds, to within ageTolerance, when the oldest message that
// anyBefore sees was created; found is false when none was created before
// now. anyBefore(t) says whether any was created before t.
//
// The store answers counts but not "the oldest", and listing a deep
// queue's rows would read every payload; counts over the status and
// creation-time index cost little, so the time is narrowed by them: first
// around hint (the last answer, which stands while that message waits),
// else by doubling the age from a minute and then halving the interval.
func oldestQueued(now, hint time.Time, anyBefore func(t time.Time) (bool, error)) (at time.Time, found bool, err error) {
	if found, err = anyBefore(now); err != nil || !found {
		return time.Time{}, false, err
	}
	if !hint.IsZero() && hint.Before(now) {
		tol := ageTolerance(now.Sub(hint)) / 2
		lo, hi := hint.Add(-tol), hint.Add(tol)
		if hi.After(now) {
			hi = now
		}
		none, err := anyBefore(lo)
		if err != nil {
			return time.Time{}, false, err
		}
		if !none {
			some, err := anyBefore(hi)
			if err != nil {
				return time.Time{}, false, err
			}
			if some {
				return lo, true, nil
			}
		}
	}
	// Invariant: none was created before lo, one was before hi.
	hi := now
	age := time.Minute
	lo := now.Add(-age)
	for {
		some, err := anyBefore(lo)
		if err != nil {
			return time.Time{}, false, err
		}
		if !some {
			break
		}
		if age >= maxQueuedAge {
			return lo, true, nil
		}
		hi, age = lo, 2*age
		lo = now.Add(-age)
	}
	for hi.Sub(lo) > ageTolerance(now.Sub(hi)) {
		mid := lo.Add(hi.Sub(lo) / 2)
		some, err := anyBefore(mid)
		if err != nil {
			return time.Time{}, false, err
		}
		if some {
			hi = mid
		} else {
			lo = mid
		}
	}
	return lo, true, nil
}

// ageTolerance is how far off a queued message's age may be reported: a
// second, or a thirty-second part of the age, enough for alerts measured
// in minutes and dashboards that show hours.
func ageTolerance(age time.Duration) time.Duration {
	return max(time.Second, age/32)
}

// maxQueuedAge bounds the search; an older message (a clock set wrong)
// is reported as this old.
const maxQueuedAge = 100 * 365 * 24 * time.Hour

// growStack grows the calling goroutine's stack to 32 KB in one step,
// while it is nearly empty. The router runs each delivery on a goroutine of
// its own, whose stack starts at 2 KB and was grown by copying four times
// on the way down through the route, the HTTP client and the ledger: that
// was ~7% of the bus's CPU while it delivered a backlog (docs/performance.md).
//
//go:noinline
func growStack() {
	var frame [16 << 10]byte
	touch(frame[:])
}

// touch keeps frame from being optimized away.
//
//go:noinline
func touch(b []byte) { b[len(b)-1] = 1 }
