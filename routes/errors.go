package routes

import (
	"errors"
	"fmt"
	"time"
)

// Kind names why the pipeline itself refused or could not finish a call.
// The HTTP APIs turn a Kind into a status and a problem type; the pipeline
// never speaks HTTP.
type Kind string

const (
	KindInProgress        Kind = "idempotency-in-progress"   // the same key is being served now
	KindKeyReused         Kind = "idempotency-key-reused"    // the key was used for another body or route
	KindKeyTaken          Kind = "idempotency-key-in-use"    // another process stored the key first
	KindEarlierFailed     Kind = "earlier-call-failed"       // the key's first call did not succeed
	KindResultExpired     Kind = "idempotent-result-expired" // succeeded, but its answer is no longer held
	KindBusy              Kind = "route-busy"                // the route's concurrency limit
	KindRateLimited       Kind = "rate-limited"              // the endpoint's cluster-wide rate
	KindStoreUnavailable  Kind = "store-unavailable"         // the message could not be recorded
	KindBrokerUnavailable Kind = "broker-unavailable"        // stored, not yet queued
)

// Error is a refusal or failure of the pipeline's own layers.
type Error struct {
	Kind       Kind
	Route      string
	Field      string // the request part at fault, e.g. Idempotency-Key
	Detail     string
	MessageID  string        // the message the refusal refers to, when not the caller's new one
	Differs    []string      // KindKeyReused: what differs from the key's first call ("route", "body")
	RetryAfter time.Duration // when repeating the call may succeed
	Err        error         // the cause, if any
}

func (e *Error) Error() string {
	if e.Route != "" {
		return fmt.Sprintf("route %s: %s", e.Route, e.Detail)
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// AboutKey reports whether the call was refused because of its
// Idempotency-Key, which then belongs to another message.
func (e *Error) AboutKey() bool {
	switch e.Kind {
	case KindInProgress, KindKeyReused, KindKeyTaken, KindEarlierFailed, KindResultExpired:
		return true
	}
	return false
}

// Unavailable reports whether the call may succeed later unchanged.
func (e *Error) Unavailable() bool {
	switch e.Kind {
	case KindBusy, KindRateLimited, KindStoreUnavailable, KindBrokerUnavailable:
		return true
	}
	return false
}

// unavailable is implemented by errors meaning "not now" — the pipeline's
// own, and a transport's open circuit breaker — without this package
// knowing the transport.
type unavailable interface{ Unavailable() bool }

// IsUnavailable reports whether err means the call may succeed later.
func IsUnavailable(err error) bool {
	var u unavailable
	return errors.As(err, &u) && u.Unavailable()
}
