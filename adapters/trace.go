package adapters

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys of the bus's spans, shared by the core and components so
// that one trace reads the same whichever layer wrote a span.
const (
	AttrRoute         = attribute.Key("kopir.route")
	AttrCaller        = attribute.Key("kopir.caller")
	AttrMessageID     = attribute.Key("kopir.message_id")
	AttrCorrelationID = attribute.Key("kopir.correlation_id")
	AttrOutcome       = attribute.Key("kopir.outcome")
	AttrChannel       = attribute.Key("kopir.channel")
	AttrAttempt       = attribute.Key("kopir.attempt")
	AttrEndpoint      = attribute.Key("kopir.endpoint")
	AttrStatusCode    = attribute.Key("http.response.status_code")
)

// ChildSpan starts a span for one layer's work under the exchange's span
// in ctx, on the same provider: the core picks the provider once, for the
// exchange, and every layer below follows it. Without a span in ctx (or
// with the bus's no-op provider) the span records nothing.
func ChildSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	return parent.TracerProvider().Tracer(TracerName).Start(ctx, name, trace.WithAttributes(attrs...))
}

// TracerName is the instrumentation scope of the bus's spans.
const TracerName = "github.com/minfin-kz/kopir"

// SpanFailed records err on span and marks it failed; nil leaves it be.
func SpanFailed(span trace.Span, err error) {
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}
