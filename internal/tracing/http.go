package tracing

import (
	"net/http"

	"github.com/minfin-kz/kopir/adapters"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Inbound makes each request an agency sends to channel one span, the
// exchange's: the server side of the agency's call, continuing the
// agency's trace when it sent a traceparent. The channel's work (parsing,
// verifying the signature, storing, a sync subscriber's call) are its
// children; the answer's status ends it.
func (t *Tracing) Inbound(channel string, h http.Handler) http.Handler {
	tr := t.Tracer()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tr.Start(Extract(r.Context(), r.Header), "inbound "+channel, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(adapters.AttrChannel.String(channel), attribute.String("http.request.method", r.Method),
				attribute.String("url.path", r.URL.Path)))
		defer span.End()
		rec := &status{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r.WithContext(ctx))
		span.SetAttributes(adapters.AttrStatusCode.Int(rec.code))
		if rec.code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.code))
		}
	})
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// Unwrap lets http.ResponseController reach the listener's writer
// (deadlines, flushing) through the recorder.
func (s *status) Unwrap() http.ResponseWriter { return s.ResponseWriter }
