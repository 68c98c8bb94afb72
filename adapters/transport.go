package adapters

import (
	"context"

	"github.com/minfin-kz/kopir/internal/units"
)

// Transport is how an adapter (or a channel's own client, such as a poller)
// reaches the agency: the core's layered transport with retries, a circuit
// breaker per endpoint and attempt recording. Components never build an
// http.Client of their own.
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
	// Name qualifies the breakers of these endpoints, so that two services
	// behind one gateway URL do not share one.
	Name string
}

// RetrySpec is exponential backoff with full jitter, capped.
type RetrySpec struct {
	Attempts int            `yaml:"attempts"` // total tries including the first
	Backoff  units.Duration `yaml:"backoff"`  // first wait
	Cap      units.Duration `yaml:"cap"`      // longest wait
}

// BreakerSpec configures one gobreaker per endpoint.
type BreakerSpec struct {
	// Failures in a row that open the breaker.
	Failures int `yaml:"failures"`
	// OpenFor is how long it stays open before letting a probe through.
	OpenFor units.Duration `yaml:"openFor"`
	// HalfOpenProbes is how many calls a half-open breaker lets through.
	HalfOpenProbes int `yaml:"halfOpenProbes"`
}
