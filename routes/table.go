package routes

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Deps is what the route table needs from the rest of the bus.
type Deps struct {
	Ledger  Ledger
	Queue   Queue   // for async routes
	Cache   Cache   // optional
	Limiter Limiter // optional
	Claims  Claims  // optional: cross-process Idempotency-Key reservation
	Meter   Meter
	Log     *slog.Logger
	// Tracer starts each call's exchange span; nil: no spans.
	Tracer trace.Tracer
	// Transport builds the outbound transport (retries, breaker, attempt
	// recording) for a route; attempts says how many tries one call makes.
	Transport func(spec Spec, attempts int) (adapters.Transport, error)
	// Resources gives a component the core's logger, metrics and clock,
	// preset for it; nil: a discarding logger and the wall clock.
	Resources func(kind, name, route string) adapters.Resources
}

// BuildError is a route that could not be built, naming the field of its
// spec at fault (options, when its adapter refused them).
type BuildError struct {
	Route string
	Field string
	Err   error
}

func (e *BuildError) Error() string { return fmt.Sprintf("route %q: %s: %v", e.Route, e.Field, e.Err) }

func (e *BuildError) Unwrap() error { return e.Err }

// Table is the compiled route table.
type Table struct {
	byName map[string]*Route
}

// Get finds a route by name.
func (t *Table) Get(name string) (*Route, bool) {
	r, ok := t.byName[name]
	return r, ok
}

// Names lists the routes, sorted.
func (t *Table) Names() []string {
	out := make([]string, 0, len(t.byName))
	for n := range t.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// All returns the routes, sorted by name.
func (t *Table) All() []*Route {
	out := make([]*Route, 0, len(t.byName))
	for _, n := range t.Names() {
		out = append(out, t.byName[n])
	}
	return out
}

// Allows reports whether caller may use the route.
func (r *Route) Allows(caller string) bool { return slices.Contains(r.Callers, caller) }

// Build compiles specs (already validated by config) into runnable routes.
func Build(specs []Spec, d Deps) (*Table, error) {
	if d.Tracer == nil {
		d.Tracer = noop.NewTracerProvider().Tracer("")
	}
	t := &Table{byName: make(map[string]*Route, len(specs))}
	for _, spec := range specs {
		r, err := build(spec, d)
		if err != nil {
			return nil, err
		}
		t.byName[spec.Name] = r
	}
	return t, nil
}

func build(spec Spec, d Deps) (*Route, error) {
	factory, ok := adapters.Lookup(spec.Adapter)
	if !ok {
		return nil, &BuildError{Route: spec.Name, Field: "adapter", Err: fmt.Errorf("unknown adapter %q", spec.Adapter)}
	}
	// Async routes retry across broker redeliveries (durable over restarts),
	// so one delivery makes a single try.
	tries := spec.Retry.Attempts
	if spec.Mode == Async {
		tries = 1
	}
	tr, err := d.Transport(spec, tries)
	if err != nil {
		return nil, &BuildError{Route: spec.Name, Field: "endpoints", Err: err}
	}
	res := adapters.Resources{Clock: time.Now}
	if d.Resources != nil {
		res = d.Resources("adapter", spec.Adapter, spec.Name)
	}
	res.Transport = tr
	ad, err := factory(adapters.AdapterConfig{Route: spec.Name, Operation: spec.Operation, Options: adapters.YAMLOptions{Node: &spec.Options}}, res)
	if err != nil {
		return nil, &BuildError{Route: spec.Name, Field: "options", Err: err}
	}
	r := &Route{Spec: spec, Adapter: ad, Transport: tr}
	outbound := []Middleware{RateLimited(d.Limiter), Bulkhead(spec.Concurrency)}
	switch spec.Mode {
	case Sync:
		// Deadline wraps the limits so time spent waiting for a slot counts.
		r.Call = Chain(Invoke, append([]Middleware{Traced(d.Tracer), Measure(d.Meter), Record(d.Ledger), Classify,
			Idempotent(d.Ledger, d.Cache, d.Claims), Validate, Cached(d.Cache), Deadline(spec.Deadline.D())},
			append(outbound, ObserveAttempts)...)...)
	case Async:
		if d.Queue == nil {
			return nil, &BuildError{Route: spec.Name, Field: "mode", Err: fmt.Errorf("async route needs a queue")}
		}
		r.Call = Chain(Enqueue(d.Ledger, d.Queue), Traced(d.Tracer), Measure(d.Meter), Record(d.Ledger), Classify, Idempotent(d.Ledger, d.Cache, d.Claims), Validate)
		r.Deliver = Chain(Invoke, append([]Middleware{Classify, Deadline(spec.Timeout.D())}, append(outbound, ObserveAttempts)...)...)
	}
	return r, nil
}

// ObserveAttempts records every physical attempt the transport makes, retries
// included, on the exchange.
func ObserveAttempts(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) error {
		return next(adapters.WithAttemptObserver(ctx, x.AddAttempt), x)
	}
}
