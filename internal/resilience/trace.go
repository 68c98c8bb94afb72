package resilience

import (
	"net/http"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/tracing"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// TraceTransport makes each physical attempt a client span under the
// exchange's span (endpoint, attempt number, HTTP status, error) and sends
// the trace on to the agency or subscriber in traceparent and tracestate.
// It sits inside the breaker, so a refused call is no attempt, and outside
// AttemptTransport, so the span covers reading the whole answer. A request
// made outside any trace passes untouched.
type TraceTransport struct {
	Next http.RoundTripper
}

func (t *TraceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return t.Next.RoundTrip(req)
	}
	endpoint, n := req.URL.Scheme+"://"+req.URL.Host, 1
	if st := stateFrom(ctx); st != nil {
		endpoint, n = st.endpoint, st.attempts+1 // AttemptTransport counts it next
	}
	ctx, span := adapters.ChildSpan(ctx, "attempt "+req.Method,
		adapters.AttrEndpoint.String(endpoint), adapters.AttrAttempt.Int(n))
	defer span.End()
	// The header map is the adapter's and may be shared between calls:
	// the trace context goes on a copy.
	out := req.WithContext(ctx)
	out.Header = req.Header.Clone()
	if out.Header == nil {
		out.Header = http.Header{}
	}
	tracing.Inject(ctx, out.Header)
	resp, err := t.Next.RoundTrip(out)
	if resp != nil {
		span.SetAttributes(adapters.AttrStatusCode.Int(resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, resp.Status)
		}
	}
	adapters.SpanFailed(span, err)
	return resp, err
}
