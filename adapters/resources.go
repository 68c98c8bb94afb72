package adapters

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"gopkg.in/yaml.v3"
)

// Resources are what the core hands a component when it builds one, the
// way a Benthos component receives a resources object: nothing here is
// created by the component itself, and all of it outlives the component.
type Resources struct {
	// Logger is preset with the component's kind and name (and the route
	// it serves, for an adapter).
	Logger *slog.Logger
	// Metrics registers the component's own collectors.
	Metrics prometheus.Registerer
	// Clock is the time source; tests inject a fixed or fast one.
	Clock func() time.Time
	// Tracer starts the component's spans (signing, a poller's calls) as
	// children of the exchange in the context; a no-op one when the bus
	// exports no traces.
	Tracer trace.Tracer
	// Transport reaches the route's endpoints through the core's layers.
	// Adapters get one; channels get nil.
	Transport Transport
	// NewTransport builds another layered transport, for a component that
	// calls endpoints of its own (a channel's poller).
	NewTransport func(TransportSpec) (Transport, error)
}

// Now is the Clock's time, or the wall clock when none is set.
func (r Resources) Now() time.Time {
	if r.Clock != nil {
		return r.Clock()
	}
	return time.Now()
}

// Log is the Logger, or one that discards when none is set, so a component
// built by a test without resources still runs.
func (r Resources) Log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Trace is the Tracer, or a no-op one when none is set.
func (r Resources) Trace() trace.Tracer {
	if r.Tracer != nil {
		return r.Tracer
	}
	return noop.NewTracerProvider().Tracer("")
}

// Options is a component's own block of the config. Decode fills a struct
// from it, refusing unknown keys.
type Options interface {
	Decode(into any) error
}

// YAMLOptions is an Options over a YAML node, as the config file holds it.
type YAMLOptions struct{ Node *yaml.Node }

// Decode fills into from the options block, refusing unknown keys.
func (o YAMLOptions) Decode(into any) error {
	if o.Node == nil || o.Node.Kind == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := yaml.NewEncoder(&buf).Encode(o.Node); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&buf)
	dec.KnownFields(true)
	return dec.Decode(into)
}

// RegisterShared registers c with reg, or, when a component built before
// registered the same metric (two channels or routes of one kind share
// their series, told apart by labels), returns that one to use instead.
// A nil reg registers nothing.
func RegisterShared[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
