// Package tracing is the one owner of OpenTelemetry traces in the bus: it
// builds the tracer provider from the standard OTEL_* environment
// variables, hands tracers to the core and its components, and carries W3C
// trace context across HTTP headers and the message store.
//
// Traces are exported over OTLP/HTTP (protobuf) only when
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
// set. Otherwise the provider is the API's no-op one: no span is recorded,
// no exporter or goroutine is started, and a caller's traceparent is still
// passed on unchanged (the no-op tracer keeps the parent's span context),
// so the bus stays transparent to a trace it does not record.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/minfin-kz/kopir/adapters"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Name is the instrumentation scope of the bus's spans.
const Name = adapters.TracerName

// Tracing is the bus's tracer provider and what it needs on shutdown.
type Tracing struct {
	provider trace.TracerProvider
	// sdk is set when spans are recorded and exported; nil for the no-op.
	sdk *sdktrace.TracerProvider
}

// Noop records nothing and starts nothing: what the bus runs with when no
// OTLP endpoint is configured, and what config checks and tools use.
func Noop() *Tracing { return &Tracing{provider: noop.NewTracerProvider()} }

// New wraps a provider the caller built (tests: an SDK provider over an
// in-memory recorder). Shutdown flushes it when it is an SDK provider.
func New(p trace.TracerProvider) *Tracing {
	t := &Tracing{provider: p}
	t.sdk, _ = p.(*sdktrace.TracerProvider)
	return t
}

// FromEnv builds the provider the OTEL_* environment asks for: the no-op
// one unless an OTLP endpoint is set (or OTEL_SDK_DISABLED=true), else an
// SDK provider with a batching OTLP/HTTP exporter, the sampler of
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, and the resource of
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (service.name "kopir" by
// default). A variable with a value the bus cannot honour is refused,
// naming it, rather than traces silently going nowhere.
func FromEnv(ctx context.Context, log *slog.Logger) (*Tracing, error) {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") || !Configured() {
		return Noop(), nil
	}
	for _, v := range []string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"} {
		if p := os.Getenv(v); p != "" {
			if p != "http/protobuf" {
				return nil, fmt.Errorf("%s=%q: the bus exports traces over OTLP/HTTP with protobuf only (http/protobuf)", v, p)
			}
			break // the traces-specific variable wins over the general one
		}
	}
	switch e := os.Getenv("OTEL_TRACES_EXPORTER"); e {
	case "", "otlp":
	case "none":
		return Noop(), nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: the bus exports traces over OTLP only (otlp, or none)", e)
	}
	sampler, err := SamplerFromEnv()
	if err != nil {
		return nil, err
	}
	// The exporter reads the endpoint, headers, timeout, compression and
	// certificates from the OTEL_EXPORTER_OTLP_* variables itself.
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: building the OTLP/HTTP trace exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "kopir")),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	if log != nil {
		setErrorHandler(log)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithSampler(sampler), sdktrace.WithResource(res))
	return &Tracing{provider: tp, sdk: tp}, nil
}

// Configured tells whether the environment names an OTLP endpoint for traces.
func Configured() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// otel reports export failures through one process-wide handler; set once,
// so that they reach the bus's log instead of the standard logger.
var errorHandlerOnce sync.Once

func setErrorHandler(log *slog.Logger) {
	errorHandlerOnce.Do(func() {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("exporting traces", "err", err)
		}))
	})
}

// SamplerFromEnv is the sampler OTEL_TRACES_SAMPLER and
// OTEL_TRACES_SAMPLER_ARG name (parentbased_always_on when unset, as the
// specification says). The SDK would fall back to sampling everything on a
// value it cannot read; the bus refuses it instead.
func SamplerFromEnv() (sdktrace.Sampler, error) {
	name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER")))
	arg := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG"))
	ratio := func() (sdktrace.Sampler, error) {
		if arg == "" {
			return sdktrace.TraceIDRatioBased(1), nil
		}
		v, err := strconv.ParseFloat(arg, 64)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG=%q: want a sampling ratio between 0 and 1", arg)
		}
		return sdktrace.TraceIDRatioBased(v), nil
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		return ratio()
	case "parentbased_traceidratio":
		s, err := ratio()
		if err != nil {
			return nil, err
		}
		return sdktrace.ParentBased(s), nil
	}
	return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q: unknown sampler (always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio)", name)
}

// Provider is the tracer provider.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Tracer is the bus's tracer.
func (t *Tracing) Tracer() trace.Tracer { return t.provider.Tracer(Name) }

// Exporting tells whether spans are recorded and exported.
func (t *Tracing) Exporting() bool { return t != nil && t.sdk != nil }

// Shutdown flushes the spans still batched and stops the exporter; the
// no-op provider has nothing to flush.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

// propagator is W3C Trace Context: traceparent and tracestate.
var propagator = propagation.TraceContext{}

// Extract is ctx with the trace context h carries (traceparent,
// tracestate) as the remote parent; ctx as it is when h carries none or a
// malformed one.
func Extract(ctx context.Context, h http.Header) context.Context {
	if h.Get("traceparent") == "" {
		return ctx
	}
	return propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Inject writes ctx's trace context into h; nothing when ctx has none.
func Inject(ctx context.Context, h http.Header) {
	propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// Stored is a trace context as the message store keeps it, so that an
// async delivery, even after a restart, continues the trace of the call
// that queued it.
type Stored struct {
	TraceID     string // 32 hex digits, "" when the exchange had no trace
	TraceParent string // W3C traceparent of the span that stored it
	TraceState  string // W3C tracestate, usually ""
}

// Store is ctx's trace context as kept with a message.
func Store(ctx context.Context) Stored {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return Stored{}
	}
	c := propagation.MapCarrier{}
	propagator.Inject(ctx, c)
	return Stored{TraceID: sc.TraceID().String(), TraceParent: c["traceparent"], TraceState: c["tracestate"]}
}

// Resume is ctx with a stored trace context as the remote parent.
func Resume(ctx context.Context, traceParent, traceState string) context.Context {
	if traceParent == "" {
		return ctx
	}
	c := propagation.MapCarrier{"traceparent": traceParent}
	if traceState != "" {
		c["tracestate"] = traceState
	}
	return propagator.Extract(ctx, c)
}

// TraceID is the trace id of ctx's span, "" when it has none.
func TraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}

// LogHandler adds the trace_id of the context's span to every line logged
// with a context (InfoContext, ErrorContext…), so that a line of any
// component can be found from its trace and back; a line without one is
// passed on as it is.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := TraceID(ctx); id != "" {
		r.AddAttrs(slog.String("trace_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(as)}
}

func (h logHandler) WithGroup(name string) slog.Handler { return logHandler{h.Handler.WithGroup(name)} }
