package adapters

import (
	"context"
	"time"

	"github.com/minfin-kz/kopir/internal/units"
)

// Transport is how an adapter (or a channel's own client, such as a poller)
// reaches the agency: the core's layered transport with retries, circuit
// breakers and attempt recording. Components never build an http.Client
// of their own.
//
// The core keeps one breaker per endpoint and WireRequest.Service. Where
// several services sit behind one URL (the registries behind the SHEP
// gateway), the adapter names the service on each request, so that one
// service's outage opens its own breaker and the others still answer; a
// request without a Service shares the endpoint's breaker.
type Transport interface {
	Do(ctx context.Context, w *WireRequest) (*WireResponse, error)
}

// TransportSpec is the outbound policy of a route, or of the calls a
// channel makes on its own (a poller).
type TransportSpec struct {
	Endpoints []string       // tried in order; at least one
	Timeout   units.Duration // per attempt
	Retry     RetrySpec
	Breaker   BreakerSpec
	// Name labels the transport for operators (e.g. "shep-poll"). Breakers
	// are not keyed by it: they follow the endpoint and each request's
	// Service, so a route and a poller calling one service share one.
	Name string
}

// RetrySpec is exponential backoff with full jitter, capped.
type RetrySpec struct {
	Attempts int            `yaml:"attempts"` // total tries including the first
	Backoff  units.Duration `yaml:"backoff"`  // first wait
	Cap      units.Duration `yaml:"cap"`      // longest wait
}

// BreakerSpec configures the gobreaker of each endpoint (and service).
type BreakerSpec struct {
	// Failures in a row that open the breaker.
	Failures int `yaml:"failures"`
	// OpenFor is how long it stays open before letting a probe through.
	OpenFor units.Duration `yaml:"openFor"`
	// HalfOpenProbes is how many calls a half-open breaker lets through.
	HalfOpenProbes int `yaml:"halfOpenProbes"`
}

// AttemptInfo is one physical try at an endpoint, as the audit trail and
// the attempt metrics need it. Bodies are the bytes as sent and received;
// they are shared with the call, so observers must not modify them.
type AttemptInfo struct {
	Endpoint     string
	Attempt      int // 1 for the first try at this endpoint in this call
	StartedAt    time.Time
	StatusCode   int // 0 when no response arrived
	Latency      time.Duration
	Err          error
	RequestBody  []byte
	ResponseBody []byte
}

type observerKey struct{}

// WithAttemptObserver makes every physical attempt a Transport makes under
// ctx, retries included, be reported to fn. The observer travels in the
// context rather than in the Transport because a Transport is shared by a
// route while the record it feeds belongs to one exchange. fn runs
// synchronously on the calling goroutine, once per attempt, in order.
func WithAttemptObserver(ctx context.Context, fn func(AttemptInfo)) context.Context {
	return context.WithValue(ctx, observerKey{}, fn)
}

// AttemptObserver is the observer set on ctx, or nil; a Transport calls it.
func AttemptObserver(ctx context.Context) func(AttemptInfo) {
	fn, _ := ctx.Value(observerKey{}).(func(AttemptInfo))
	return fn
}
