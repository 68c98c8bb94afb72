package routes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/metrics"
	"github.com/minfin-kz/kopir/internal/problem"
	"github.com/minfin-kz/kopir/internal/store"
)

// Cache holds translated answers of routes with a cacheTTL, and the answers
// of idempotent calls so a repeat gets the first result.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Claims reserve an Idempotency-Key across bus processes (Redis SET NX),
// so two instances never both call the agency for one key.
type Claims interface {
	Claim(ctx context.Context, caller, key string, ttl time.Duration) (claimed bool, existingMessageID string, err error)
	Bind(ctx context.Context, caller, key, messageID string, ttl time.Duration) error
	Release(ctx context.Context, caller, key string) error
}

// Limiter is a cluster-wide rate limit.
type Limiter interface {
	Allow(ctx context.Context, key string, perSecond float64) (bool, time.Duration, error)
}

// Queue takes an async message that is already stored and makes sure it
// will be delivered; it returns only once the broker holds it durably.
type Queue interface {
	Enqueue(ctx context.Context, m *store.Message) error
}

// IdempotencyWindow is how long an Idempotency-Key's answer is kept.
const IdempotencyWindow = 24 * time.Hour

// Measure counts calls and times them.
func Measure(m *metrics.Metrics) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			err := next(ctx, x)
			route := x.Route.Name
			m.Requests.WithLabelValues(route, string(x.Outcome)).Inc()
			m.RequestDuration.WithLabelValues(route).Observe(time.Since(x.Started).Seconds())
			for _, a := range x.Attempts() {
				code := "error"
				if a.HTTPStatus > 0 {
					code = fmt.Sprint(a.HTTPStatus)
				}
				m.Attempts.WithLabelValues(route, a.Endpoint, code).Inc()
				m.AttemptDuration.WithLabelValues(route, a.Endpoint).Observe(a.LatencyMS / 1000)
				if a.N > 1 {
					m.Retries.WithLabelValues(route, a.Endpoint).Inc()
				}
			}
			return err
		}
	}
}

// RecordSync writes the finished exchange to the store — message, attempts,
// and its audit trail — before the caller is answered, so that no answer
// leaves the bus without its record.
func RecordSync(st store.Store) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			err := next(ctx, x)
			if x.Outcome == OutcomeDuplicate {
				return err // the original message already holds the exchange
			}
			status, detail := store.Delivered, ""
			switch x.Outcome {
			case OutcomeRejected:
				status = store.Rejected
			case OutcomeFailed, OutcomeUnavailable:
				status = store.Failed
			}
			if err != nil {
				detail = err.Error()
			}
			m := x.newMessage(status, detail, HTTPStatus(err))
			if x.Response != nil {
				m.ResponseBody = x.Route.PII.JSON(x.Response.Body)
			}
			ev := store.Event{Message: m, Attempts: x.maskedAttempts(), Audit: []store.AuditEntry{
				{MessageID: m.ID, Actor: x.Caller, Action: string(store.Received), At: x.Started},
				{MessageID: m.ID, Actor: "bus", Action: string(status), Detail: outcomeDetail(x, detail)},
			}}
			if rerr := st.Record(context.WithoutCancel(ctx), ev); rerr != nil {
				if err == nil {
					return fmt.Errorf("recording message %s: %w", m.ID, rerr)
				}
				return errors.Join(err, fmt.Errorf("recording message %s: %w", m.ID, rerr))
			}
			return err
		}
	}
}

func outcomeDetail(x *Exchange, errText string) string {
	if errText != "" {
		return errText
	}
	if x.Outcome == OutcomeCached {
		return "answered from cache"
	}
	return ""
}

func (x *Exchange) newMessage(status store.Status, errText string, httpStatus int) *store.Message {
	now := time.Now().UTC()
	dir := x.Direction
	if dir == "" {
		dir = store.Outbound
	}
	return &store.Message{
		ID:             x.Request.MessageID,
		Route:          x.Route.Name,
		Direction:      dir,
		Caller:         x.Caller,
		CorrelationID:  x.Request.CorrelationID,
		IdempotencyKey: x.Request.IdempotencyKey,
		ExternalID:     x.Request.ExternalID,
		Status:         status,
		HTTPStatus:     httpStatus,
		Error:          errText,
		RequestBody:    x.Route.PII.JSON(x.Request.Body),
		CreatedAt:      x.Started.UTC(),
		UpdatedAt:      now,
	}
}

func (x *Exchange) maskedAttempts() []store.Attempt {
	at := x.Attempts()
	for i := range at {
		at[i].MessageID = x.Request.MessageID
		at[i].RequestBody = x.Route.PII.Body(at[i].RequestBody)
		at[i].ResponseBody = x.Route.PII.Body(at[i].ResponseBody)
	}
	return at
}

// Validate lets the adapter refuse a request before anything leaves the bus.
func Validate(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) error {
		if v, ok := x.Route.Adapter.(adapters.Validator); ok {
			if err := v.Validate(ctx, &x.Request); err != nil {
				x.Outcome = OutcomeRejected
				return err
			}
		}
		return next(ctx, x)
	}
}

// Idempotent makes a repeated Idempotency-Key get the first result and
// never a second call to the agency. The store's unique (caller, key) is
// the source of truth; the cache holds sync answers for the window, since
// the store keeps only masked bodies. inflight catches repeats that arrive
// while the first is still running in this process.
func Idempotent(st store.Store, cache Cache, claims Claims) Middleware {
	var inflight sync.Map
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) (err error) {
			key := x.Request.IdempotencyKey
			if key == "" {
				return next(ctx, x)
			}
			slot := x.Caller + "\x00" + key
			if _, busy := inflight.LoadOrStore(slot, struct{}{}); busy {
				x.Outcome = OutcomeDuplicate
				return &problem.Problem{Type: "urn:kopir:problem:idempotency-in-progress", Title: "Idempotency-Key in progress", Status: http.StatusConflict,
					Detail: fmt.Sprintf("a call with Idempotency-Key %q is still in progress; repeat it later", key), RetryAfter: time.Second}
			}
			defer inflight.Delete(slot)
			prev, err := st.FindByIdempotencyKey(ctx, x.Caller, key)
			if err == nil {
				return x.answerRepeat(ctx, st, cache, prev)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("looking up Idempotency-Key %q: %w", key, err)
			}
			if claims != nil {
				claimed, holder, cerr := claims.Claim(ctx, x.Caller, key, IdempotencyWindow)
				if cerr == nil && !claimed {
					x.Outcome = OutcomeDuplicate
					return &problem.Problem{Type: "urn:kopir:problem:idempotency-in-progress", Title: "Idempotency-Key in progress", Status: http.StatusConflict,
						Detail: fmt.Sprintf("a call with Idempotency-Key %q is in progress on another bus instance (message %s); repeat it later", key, holder), RetryAfter: time.Second}
				}
				if cerr == nil {
					// A key whose call failed is released so the caller may try
					// again; a successful one stays bound for the window.
					defer func() {
						if err == nil {
							claims.Bind(context.WithoutCancel(ctx), x.Caller, key, x.Request.MessageID, IdempotencyWindow)
						} else {
							claims.Release(context.WithoutCancel(ctx), x.Caller, key)
						}
					}()
				}
			}
			err = next(ctx, x)
			if err == nil && x.Response != nil && cache != nil && x.Route.Mode == Sync {
				_ = cache.Set(ctx, idemCacheKey(x.Caller, key), x.Response.Body, IdempotencyWindow)
			}
			return err
		}
	}
}

func idemCacheKey(caller, key string) string { return "idem:" + caller + ":" + key }

func (x *Exchange) answerRepeat(ctx context.Context, st store.Store, cache Cache, prev *store.Message) error {
	x.Outcome = OutcomeDuplicate
	x.Message = prev
	_ = st.Record(context.WithoutCancel(ctx), store.Event{Audit: []store.AuditEntry{{
		MessageID: prev.ID, Actor: x.Caller, Action: "DUPLICATE",
		Detail: fmt.Sprintf("Idempotency-Key %q repeated; answered with the first result", x.Request.IdempotencyKey),
	}}})
	if prev.Route != x.Route.Name {
		return &problem.Problem{Type: "urn:kopir:problem:idempotency-key-reused", Title: "Idempotency-Key reused", Status: http.StatusUnprocessableEntity,
			Field: "Idempotency-Key", Detail: fmt.Sprintf("key %q was already used for route %s (message %s)", x.Request.IdempotencyKey, prev.Route, prev.ID), MessageID: prev.ID}
	}
	if x.Route.Mode == Async {
		return nil // the API answers with the stored message's id and status
	}
	if prev.Status != store.Delivered {
		return &problem.Problem{Type: "urn:kopir:problem:earlier-call-failed", Title: "Earlier call with this Idempotency-Key failed", Status: http.StatusConflict,
			Detail: fmt.Sprintf("message %s ended %s: %s", prev.ID, prev.Status, prev.Error), MessageID: prev.ID}
	}
	if cache != nil {
		if body, ok, _ := cache.Get(ctx, idemCacheKey(x.Caller, x.Request.IdempotencyKey)); ok {
			x.Response = &adapters.Response{Body: body}
			return nil
		}
	}
	return &problem.Problem{Type: "urn:kopir:problem:idempotent-result-expired", Title: "Idempotent result no longer held", Status: http.StatusConflict,
		Detail: fmt.Sprintf("message %s was delivered, but its answer is no longer held (kept %s); the agency is not called twice", prev.ID, IdempotencyWindow), MessageID: prev.ID}
}

// Cached answers repeated identical requests of a route with a cacheTTL
// from the cache instead of the agency.
func Cached(cache Cache) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			ttl := x.Route.CacheTTL.D()
			if ttl <= 0 || cache == nil {
				return next(ctx, x)
			}
			sum := sha256.Sum256(x.Request.Body)
			key := "resp:" + x.Route.Name + ":" + hex.EncodeToString(sum[:])
			if body, ok, err := cache.Get(ctx, key); err == nil && ok {
				x.Response = &adapters.Response{Body: body}
				x.Outcome = OutcomeCached
				return nil
			}
			if err := next(ctx, x); err != nil {
				return err
			}
			_ = cache.Set(ctx, key, x.Response.Body, ttl)
			return nil
		}
	}
}

// Bulkhead caps in-flight calls of a route; a call waits for a slot until
// its deadline, then gets 503.
func Bulkhead(n int) Middleware {
	if n <= 0 {
		return func(next Handler) Handler { return next }
	}
	slots := make(chan struct{}, n)
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			busy := func() error {
				x.Outcome = OutcomeUnavailable
				return &problem.Problem{Type: "urn:kopir:problem:route-busy", Title: "Route busy", Status: http.StatusServiceUnavailable,
					Detail: fmt.Sprintf("route %s has %d calls in flight (its concurrency limit) and no slot freed before the deadline", x.Route.Name, n), RetryAfter: time.Second}
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return busy()
			}
			defer func() { <-slots }()
			if ctx.Err() != nil { // won a slot freed at the deadline instant: too late to call
				return busy()
			}
			return next(ctx, x)
		}
	}
}

// RateLimited enforces the route's cluster-wide requests per second at its
// endpoint.
func RateLimited(l Limiter) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			rate := x.Route.RateLimit
			if rate <= 0 || l == nil {
				return next(ctx, x)
			}
			ok, wait, err := l.Allow(ctx, "rate:"+x.Route.Endpoints[0], rate)
			if err == nil && !ok {
				x.Outcome = OutcomeUnavailable
				return &problem.Problem{Type: "urn:kopir:problem:rate-limited", Title: "Rate limit reached", Status: http.StatusServiceUnavailable,
					Detail: fmt.Sprintf("endpoint %s of route %s is limited to %g requests/s across the cluster", x.Route.Endpoints[0], x.Route.Name, rate), RetryAfter: wait}
			}
			return next(ctx, x)
		}
	}
}

// Deadline bounds the whole call, every attempt included.
func Deadline(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next(ctx, x)
		}
	}
}

// Classify sets the outcome of a failed call that no layer classified.
func Classify(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) error {
		err := next(ctx, x)
		if x.Outcome == "" {
			switch {
			case err == nil:
				x.Outcome = OutcomeDelivered
			case HTTPStatus(err) == http.StatusServiceUnavailable:
				x.Outcome = OutcomeUnavailable
			case HTTPStatus(err) < 500:
				x.Outcome = OutcomeRejected
			default:
				x.Outcome = OutcomeFailed
			}
		}
		return err
	}
}

// Enqueue stores an async message (with its payload, for delivery and
// replay) and hands it to the queue; the caller gets 202 only after both.
func Enqueue(st store.Store, q Queue) Handler {
	return func(ctx context.Context, x *Exchange) error {
		m := x.newMessage(store.Queued, "", http.StatusAccepted)
		m.Payload = x.Request.Body
		err := st.Record(ctx, store.Event{Message: m, Audit: []store.AuditEntry{
			{MessageID: m.ID, Actor: x.Caller, Action: string(store.Received), At: x.Started},
			{MessageID: m.ID, Actor: "bus", Action: string(store.Queued)},
		}})
		if err != nil {
			x.Outcome = OutcomeUnavailable
			return &problem.Problem{Type: "urn:kopir:problem:store-unavailable", Title: "Message store unavailable", Status: http.StatusServiceUnavailable,
				Detail: fmt.Sprintf("message %s could not be stored: %v", m.ID, err), RetryAfter: time.Second}
		}
		if err := q.Enqueue(ctx, m); err != nil {
			// Stored as QUEUED: the start-up sweep re-enqueues it, so the
			// caller is told to check the status rather than resend.
			x.Outcome = OutcomeUnavailable
			return &problem.Problem{Type: "urn:kopir:problem:broker-unavailable", Title: "Broker unavailable", Status: http.StatusServiceUnavailable,
				Detail: fmt.Sprintf("message %s is stored but not yet queued (%v); it will be queued at the next start", m.ID, err), MessageID: m.ID, RetryAfter: time.Second}
		}
		x.Message = m
		x.Outcome = OutcomeQueued
		return nil
	}
}

// NewMessageID returns a time-ordered UUID (v7), so ids sort by arrival.
func NewMessageID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
