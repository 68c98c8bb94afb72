package resilience

import (
	"time"

	"gopkg.in/yaml.v3"
)

// These are the retry and breaker blocks of a route as written in YAML.
// They live here rather than in package routes because routes builds its
// pipeline on this package; routes re-exports them as aliases
// (RetrySpec = resilience.RetrySpec and so on), so config, the route
// table and the delivery worker keep using the routes names.

// RetrySpec is exponential backoff with full jitter, capped.
type RetrySpec struct {
	Attempts int      `yaml:"attempts"` // total tries including the first
	Backoff  Duration `yaml:"backoff"`  // first wait
	Cap      Duration `yaml:"cap"`      // longest wait
}

// BreakerSpec configures one gobreaker per endpoint.
type BreakerSpec struct {
	// Failures in a row that open the breaker.
	Failures int `yaml:"failures"`
	// OpenFor is how long it stays open before letting a probe through.
	OpenFor Duration `yaml:"openFor"`
	// HalfOpenProbes is how many calls a half-open breaker lets through.
	HalfOpenProbes int `yaml:"halfOpenProbes"`
}

// Duration reads "250ms", "5s", "1m" from YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
