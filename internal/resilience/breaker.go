package resilience

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/sony/gobreaker/v2"
)

// Breaker defaults for a adapters.BreakerSpec that leaves fields out.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerOpenFor  = 30 * time.Second
	DefaultBreakerProbes   = 1
)

// ErrBreakerOpen is what every refusal by an open breaker unwraps to, so the
// core can answer 503 with Retry-After without knowing about gobreaker.
var ErrBreakerOpen = errors.New("circuit breaker open")

// BreakerOpenError is a call refused without touching the network because
// the breaker of the endpoint (and service) is open, or half-open with its
// probes in flight.
type BreakerOpenError struct {
	Endpoint string
	// Service is the service behind the endpoint the breaker is for, ""
	// for the endpoint as a whole.
	Service string
	// RetryAfter is how long the breaker stays open, as far as is known:
	// the rest of OpenFor, or all of it when the breaker is half-open.
	RetryAfter time.Duration
}

func (e *BreakerOpenError) Error() string {
	return fmt.Sprintf("circuit breaker open for %s (retry after %s)", breakerName(e.Endpoint, e.Service), e.RetryAfter.Round(time.Millisecond))
}

func (e *BreakerOpenError) Unwrap() error { return ErrBreakerOpen }

// Unavailable marks the refusal as "not now" for the route pipeline, which
// counts it apart from a failed call without knowing this package.
func (e *BreakerOpenError) Unavailable() bool { return true }

// Breakers holds one breaker per endpoint URL and service, shared by every
// route that names both: an agency that is down is down for all its
// routes, while services behind one gateway URL (the registries behind
// SHEP) fail apart, because one registry's outage says nothing of
// another's. A request names its service in adapters.WireRequest.Service;
// without one, the breaker is the endpoint's. One registry is what the
// admin API lists.
type Breakers struct {
	m        sync.Map // breakerKey → *breaker
	onChange func(name, from, to string)
}

type breakerKey struct{ endpoint, service string }

// breakerName is how a breaker is shown in logs, metrics and errors: the
// endpoint, with the service as a fragment (which never goes on the wire).
func breakerName(endpoint, service string) string {
	if service == "" {
		return endpoint
	}
	return endpoint + "#" + service
}

// NewBreakers returns an empty registry. onStateChange (may be nil) is
// called on every transition with the breaker's name (the endpoint, or
// endpoint#service) and the state names "closed", "open" and "half-open",
// so the caller can export a gauge or log the event. gobreaker calls it
// while holding that breaker's lock: it must be quick and must not call
// back into the registry (Snapshot would deadlock).
func NewBreakers(onStateChange func(endpoint, from, to string)) *Breakers {
	return &Breakers{onChange: onStateChange}
}

type breaker struct {
	endpoint string
	service  string
	openFor  time.Duration
	openedAt atomic.Int64 // UnixNano of the last transition to open
	cb       *gobreaker.CircuitBreaker[*http.Response]
}

func (b *breaker) isOpen() bool { return b.cb.State() == gobreaker.StateOpen }

// retryAfter is computed from our own record of when the breaker opened
// because gobreaker does not expose its expiry.
func (b *breaker) retryAfter() time.Duration {
	if at := b.openedAt.Load(); at != 0 {
		if d := b.openFor - time.Since(time.Unix(0, at)); d > 0 {
			return d
		}
	}
	return b.openFor
}

// Breaker returns the breaker of the endpoint and service ("" for the
// endpoint as a whole), creating it from spec the first time. The first
// spec wins: a later route naming the same endpoint and service with a
// different spec shares the existing breaker.
func (bs *Breakers) Breaker(endpoint, service string, spec adapters.BreakerSpec) *gobreaker.CircuitBreaker[*http.Response] {
	return bs.get(endpoint, service, spec).cb
}

func (bs *Breakers) get(endpoint, service string, spec adapters.BreakerSpec) *breaker {
	key := breakerKey{endpoint, service}
	if v, ok := bs.m.Load(key); ok {
		return v.(*breaker)
	}
	failures, openFor, probes := spec.Failures, spec.OpenFor.D(), spec.HalfOpenProbes
	if failures <= 0 {
		failures = DefaultBreakerFailures
	}
	if openFor <= 0 {
		openFor = DefaultBreakerOpenFor
	}
	if probes <= 0 {
		probes = DefaultBreakerProbes
	}
	b := &breaker{endpoint: endpoint, service: service, openFor: openFor}
	name := breakerName(endpoint, service)
	onChange := bs.onChange
	b.cb = gobreaker.NewCircuitBreaker[*http.Response](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(probes),
		Timeout:     openFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= uint32(failures) },
		IsExcluded:  func(err error) bool { _, ok := err.(excluded); return ok },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if to == gobreaker.StateOpen {
				b.openedAt.Store(time.Now().UnixNano())
			}
			if onChange != nil {
				onChange(name, from.String(), to.String())
			}
		},
	})
	v, _ := bs.m.LoadOrStore(key, b)
	return v.(*breaker)
}

// BreakerStatus is one row of GET /admin/v1/breakers. Counts are those
// gobreaker keeps: since the last state change.
type BreakerStatus struct {
	Endpoint             string     `json:"endpoint"`
	Service              string     `json:"service,omitempty"`
	State                string     `json:"state"` // closed, open, half-open
	Requests             uint32     `json:"requests"`
	TotalSuccesses       uint32     `json:"totalSuccesses"`
	TotalFailures        uint32     `json:"totalFailures"`
	ConsecutiveSuccesses uint32     `json:"consecutiveSuccesses"`
	ConsecutiveFailures  uint32     `json:"consecutiveFailures"`
	OpenUntil            *time.Time `json:"openUntil,omitempty"`
}

// Name is the breaker's name: the endpoint, or endpoint#service.
func (s BreakerStatus) Name() string { return breakerName(s.Endpoint, s.Service) }

// Snapshot lists every breaker created so far, sorted by endpoint and
// service.
func (bs *Breakers) Snapshot() []BreakerStatus {
	var out []BreakerStatus
	bs.m.Range(func(_, v any) bool {
		b := v.(*breaker)
		state := b.cb.State()
		c := b.cb.Counts()
		s := BreakerStatus{
			Endpoint:             b.endpoint,
			Service:              b.service,
			State:                state.String(),
			Requests:             c.Requests,
			TotalSuccesses:       c.TotalSuccesses,
			TotalFailures:        c.TotalFailures,
			ConsecutiveSuccesses: c.ConsecutiveSuccesses,
			ConsecutiveFailures:  c.ConsecutiveFailures,
		}
		if state == gobreaker.StateOpen {
			t := time.Now().Add(b.retryAfter())
			s.OpenUntil = &t
		}
		out = append(out, s)
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Endpoint != out[j].Endpoint {
			return out[i].Endpoint < out[j].Endpoint
		}
		return out[i].Service < out[j].Service
	})
	return out
}

// excluded marks an outcome that says nothing about the endpoint's health
// (the caller gave up, or the answer was merely too big), so gobreaker
// counts it neither way.
type excluded struct{ err error }

func (e excluded) Error() string { return e.err.Error() }

// errFailureStatus tells gobreaker that a response arrived but counts as a
// failure; the response itself still goes back to the retry layer.
var errFailureStatus = errors.New("failure status")

// breakerFailure is the breaker's notion of an unhealthy answer: the
// agency is down (5xx) or shedding load (429). Other 4xx mean the agency is
// up and judged the request, so they count as successes.
// A 500 is not an outage signal: SOAP 1.1 answers every fault, business
// faults included, with 500, and those must not open an agency's breaker.
func breakerFailure(status int) bool {
	switch status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}

// BreakerTransport refuses requests while the endpoint's breaker is open
// and feeds every outcome of Next into it. The endpoint is the one the
// Client is trying; used on its own, it is the request's scheme and host.
type BreakerTransport struct {
	Next     http.RoundTripper
	Breakers *Breakers
	Spec     adapters.BreakerSpec
}

func (t *BreakerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var b *breaker
	if st := stateFrom(req.Context()); st != nil && st.breaker != nil {
		b = st.breaker
	} else {
		b = t.Breakers.get(req.URL.Scheme+"://"+req.URL.Host, "", t.Spec)
	}
	resp, err := b.cb.Execute(func() (*http.Response, error) {
		resp, err := t.Next.RoundTrip(req)
		if err != nil {
			if req.Context().Err() != nil || errors.Is(err, ErrResponseTooLarge) {
				return nil, excluded{err}
			}
			return nil, err
		}
		if breakerFailure(resp.StatusCode) {
			return resp, errFailureStatus
		}
		return resp, nil
	})
	switch {
	case err == nil:
		return resp, nil
	case err == errFailureStatus:
		return resp, nil
	case err == gobreaker.ErrOpenState, err == gobreaker.ErrTooManyRequests:
		return nil, &BreakerOpenError{Endpoint: b.endpoint, Service: b.service, RetryAfter: b.retryAfter()}
	}
	if ex, ok := err.(excluded); ok {
		return nil, ex.err
	}
	return nil, err
}
