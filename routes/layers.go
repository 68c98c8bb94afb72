package routes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/minfin-kz/kopir/adapters"
	"go.opentelemetry.io/otel/trace"
)

// Ledger is the record of every exchange. internal/ledger implements it;
// it is the only writer of messages and audit entries, and the one place
// where bodies are masked before they are kept.
type Ledger interface {
	// Exchanged records a call that ended in the pipeline: answered,
	// failed or refused.
	Exchanged(ctx context.Context, x *Exchange, err error) error
	// Queued records an async call (with its payload, for delivery and
	// replay) and returns the message to hand to the queue.
	Queued(ctx context.Context, x *Exchange) (*Message, error)
	// Repeated notes on the earlier message that x repeated its
	// Idempotency-Key.
	Repeated(ctx context.Context, earlier *Message, x *Exchange)
	// ByIdempotencyKey finds the caller's message with key, or ErrNotFound.
	ByIdempotencyKey(ctx context.Context, caller, key string) (*Message, error)
}

// ErrNotFound is what a Ledger lookup returns (wrapped) when nothing matches.
var ErrNotFound = errors.New("not found")

// Meter counts and times finished calls.
type Meter interface {
	Observe(x *Exchange, elapsed time.Duration)
}

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

// Queue takes an async message that is already recorded and makes sure it
// will be delivered; it returns only once the broker holds it durably. The
// publish must not end with ctx's cancellation (see PublishTimeout).
type Queue interface {
	Enqueue(ctx context.Context, m *Message) error
}

// PublishTimeout bounds handing a recorded message to the broker. The
// publish does not depend on the caller's context: a caller that hangs up
// right after the record must not leave its message stored but unqueued.
const PublishTimeout = 10 * time.Second

// IdempotencyWindow is how long an Idempotency-Key's answer is kept.
const IdempotencyWindow = 24 * time.Hour

// claimTTL is how long a key is claimed before its call is stored: what
// the call may take until then (a sync route's deadline; an async route's
// store and publish), with room to spare. Bind then keeps it for the
// window. A claim whose node died before storing anything so frees the
// key within seconds; held for the window, it would refuse the caller's
// repeat on every other node (409, in progress) for a day.
func claimTTL(r *Route) time.Duration {
	if r == nil {
		return IdempotencyWindow
	}
	if r.Mode == Async {
		return PublishTimeout + 20*time.Second
	}
	return r.Deadline.D() + 10*time.Second
}

// Traced makes the call one span, the exchange's, with the route, the
// caller and the message id, ended with the outcome; every layer inside
// starts its own spans as its children. The span continues the caller's
// trace when ctx carries one (a traceparent the API or the agency
// listener extracted). An internal caller's call is the server side of its
// request; a call an agency's message made is a step inside the agency
// listener's span.
func Traced(t trace.Tracer) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			kind := trace.SpanKindServer
			if x.Inbound {
				kind = trace.SpanKindInternal
			}
			ctx, span := t.Start(ctx, "call "+x.Route.Name, trace.WithSpanKind(kind), trace.WithAttributes(
				adapters.AttrRoute.String(x.Route.Name), adapters.AttrCaller.String(x.Caller),
				adapters.AttrMessageID.String(x.Request.MessageID), adapters.AttrCorrelationID.String(x.Request.CorrelationID)))
			defer span.End()
			if sc := span.SpanContext(); sc.HasTraceID() {
				x.TraceID = sc.TraceID().String()
			}
			err := next(ctx, x)
			span.SetAttributes(adapters.AttrOutcome.String(string(x.Outcome)))
			adapters.SpanFailed(span, err)
			return err
		}
	}
}

// Measure counts calls and times them.
func Measure(m Meter) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			err := next(ctx, x)
			m.Observe(x, time.Since(x.Started))
			return err
		}
	}
}

// Record writes the finished exchange to the ledger — message, attempts
// and its audit trail — before the caller is answered, so that no answer
// leaves the bus without its record, refusals included. A call that could
// not be recorded is answered "store unavailable", never with the store's
// own error text: that stays in the error's cause, for the log.
func Record(l Ledger) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			err := next(ctx, x)
			if x.Outcome == OutcomeDuplicate || x.stored() {
				return err // an earlier message holds the exchange, or Enqueue recorded it
			}
			rerr := l.Exchanged(context.WithoutCancel(ctx), x, err)
			if rerr == nil {
				return err
			}
			var own *Error
			if errors.As(rerr, &own) {
				return rerr // the ledger's refusal, e.g. the key taken by another process
			}
			x.Outcome = OutcomeUnavailable
			return storeUnavailable(x, errors.Join(rerr, err))
		}
	}
}

// stored tells whether the exchange's own message is in the store
// already (Enqueue recorded it).
func (x *Exchange) stored() bool { return x.Message != nil && x.Message.ID == x.Request.MessageID }

func storeUnavailable(x *Exchange, cause error) *Error {
	return &Error{Kind: KindStoreUnavailable, RetryAfter: time.Second, Err: cause,
		Detail: fmt.Sprintf("message %s could not be recorded, so it is not answered; repeat the call", x.Request.MessageID)}
}

// Validate lets the adapter refuse a request before anything leaves the bus.
func Validate(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) error {
		if v, ok := x.Route.Adapter.(adapters.Validator); ok {
			vctx, span := adapters.ChildSpan(ctx, "validate")
			err := v.Validate(vctx, &x.Request)
			adapters.SpanFailed(span, err)
			span.End()
			if err != nil {
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
// while the first is still running in this process. A key stands for one
// request: a call under a known key with another body or route is refused
// (KeyReuse), never answered with the first call's result.
//
// Refusals about the key itself (reused, in progress) are the new call's
// own: recorded as REJECTED under its message id, without taking the key.
//
// An async call stores its message before anything leaves the bus, and the
// store refuses a second message under the key; so its key is looked up
// only when the call is refused, not before every call. The answer is the
// same as looking first, and a new key, the common case, costs no read.
func Idempotent(l Ledger, cache Cache, claims Claims) Middleware {
	var inflight sync.Map // caller, key → the *Exchange holding it
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) (err error) {
			key := x.Request.IdempotencyKey
			if key == "" {
				return next(ctx, x)
			}
			x.RequestFingerprint()
			slot := x.Caller + "\x00" + key
			if holder, busy := inflight.LoadOrStore(slot, x); busy {
				first := holder.(*Exchange)
				if differs := KeyReuse(first.asEarlier(), x); len(differs) > 0 {
					return x.keyReused(first.Request.MessageID, differs)
				}
				return x.inProgress(fmt.Sprintf("a call with Idempotency-Key %q is still in progress; repeat it later", key))
			}
			defer inflight.Delete(slot)
			lookup := func() (found bool, err error) {
				prev, err := l.ByIdempotencyKey(ctx, x.Caller, key)
				if err == nil {
					return true, x.answerRepeat(ctx, l, cache, prev)
				}
				if !errors.Is(err, ErrNotFound) {
					x.Outcome = OutcomeUnavailable
					return false, &Error{Kind: KindStoreUnavailable, RetryAfter: time.Second, Err: err,
						Detail: fmt.Sprintf("the earlier use of Idempotency-Key %q could not be looked up; repeat the call", key)}
				}
				return false, nil
			}
			storedFirst := x.Route.Mode == Async
			if !storedFirst {
				if found, err := lookup(); found || err != nil {
					return err
				}
			}
			if claims != nil {
				claimed, holder, cerr := claims.Claim(ctx, x.Caller, key, claimTTL(x.Route))
				if cerr == nil && !claimed {
					if storedFirst {
						if found, err := lookup(); found || err != nil {
							return err
						}
					}
					return x.inProgress(fmt.Sprintf("a call with Idempotency-Key %q is in progress on another bus instance (message %s); repeat it later", key, holder))
				}
				if cerr == nil {
					// A key whose call failed is released so the caller may try
					// again; a successful one stays bound for the window. A
					// repeat found after its call was refused holds no claim:
					// the store holds its key.
					defer func() {
						if err == nil && x.Outcome != OutcomeDuplicate {
							claims.Bind(context.WithoutCancel(ctx), x.Caller, key, x.Request.MessageID, IdempotencyWindow)
						} else {
							claims.Release(context.WithoutCancel(ctx), x.Caller, key)
						}
					}()
				}
			}
			err = next(ctx, x)
			if err != nil && storedFirst && !x.stored() {
				// Refused before it was stored, perhaps because the key was
				// taken: a repeat gets the first call's answer, as if it had
				// been looked up first. The call's own refusal stands when
				// the key is new or the lookup fails.
				outcome := x.Outcome
				if found, lerr := lookup(); found {
					return lerr
				}
				x.Outcome = outcome
				return err
			}
			if err == nil && x.Response != nil && cache != nil && x.Route.Mode == Sync {
				_ = cache.Set(ctx, idemCacheKey(x.Caller, key), x.Response.Body, IdempotencyWindow)
			}
			return err
		}
	}
}

func idemCacheKey(caller, key string) string { return "idem:" + caller + ":" + key }

// asEarlier is an exchange still in flight as the earlier message its
// repeats are compared with.
func (x *Exchange) asEarlier() *Message {
	return &Message{ID: x.Request.MessageID, Route: x.Route.Name, Fingerprint: x.Fingerprint}
}

func (x *Exchange) inProgress(detail string) error {
	x.Outcome = OutcomeRejected
	return &Error{Kind: KindInProgress, Field: "Idempotency-Key", RetryAfter: time.Second, Detail: detail}
}

// keyReused refuses x, whose key an earlier call took with another body or
// route.
func (x *Exchange) keyReused(earlier string, differs []string) error {
	x.Outcome = OutcomeRejected
	return &Error{Kind: KindKeyReused, Field: "Idempotency-Key", Differs: differs,
		Detail: fmt.Sprintf("Idempotency-Key %q was first used by message %s with a different %s; a new request needs a new key",
			x.Request.IdempotencyKey, earlier, strings.Join(differs, " and "))}
}

func (x *Exchange) answerRepeat(ctx context.Context, l Ledger, cache Cache, prev *Message) error {
	l.Repeated(context.WithoutCancel(ctx), prev, x)
	if differs := KeyReuse(prev, x); len(differs) > 0 {
		return x.keyReused(prev.ID, differs)
	}
	if x.Route.Mode == Async {
		x.Outcome, x.Message = OutcomeDuplicate, prev
		return nil // the API answers with the recorded message's id and status
	}
	// A repeat that cannot be given the first result is refused, and the
	// refusal recorded under its own id like any other; the detail names
	// the earlier message.
	if !prev.Delivered {
		x.Outcome = OutcomeRejected
		return &Error{Kind: KindEarlierFailed, Field: "Idempotency-Key",
			Detail: fmt.Sprintf("the first call with this key, message %s, ended %s: %s", prev.ID, prev.Status, prev.Error)}
	}
	if cache != nil {
		if body, ok, _ := cache.Get(ctx, idemCacheKey(x.Caller, x.Request.IdempotencyKey)); ok {
			x.Outcome, x.Message = OutcomeDuplicate, prev
			x.Response = &adapters.Response{Body: body}
			return nil
		}
	}
	x.Outcome = OutcomeRejected
	return &Error{Kind: KindResultExpired, Field: "Idempotency-Key",
		Detail: fmt.Sprintf("message %s was delivered, but its answer is no longer held (kept %s); the agency is not called twice", prev.ID, IdempotencyWindow)}
}

// Cached answers repeated identical requests of a route with a cacheTTL
// from the cache instead of the agency. An answer is kept for the route's
// cacheTTL, or less when the adapter says so (Response.CacheTTL).
//
// Identical requests that miss the cache together make one call: the
// first caller asks the agency and the others wait for its answer (or its
// failure) instead of asking too, so a thousand callers asking for the
// same thing when its entry has just expired cost the agency one call.
// The coalescing is per process; across bus instances sharing a Redis
// cache, each instance makes at most one call. A waiting caller whose
// leader gave up (hung up, not failed) makes the call itself.
func Cached(cache Cache) Middleware { return cached(cache, &flightGroup{}) }

func cached(cache Cache, flights *flightGroup) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, x *Exchange) error {
			ttl := x.Route.CacheTTL.D()
			if ttl <= 0 || cache == nil {
				return next(ctx, x)
			}
			sum := sha256.Sum256(x.Request.Body)
			key := "resp:" + x.Route.Name + ":" + hex.EncodeToString(sum[:])
			for {
				if body, ok, err := cache.Get(ctx, key); err == nil && ok {
					x.Response = &adapters.Response{Body: body}
					x.Outcome = OutcomeCached
					return nil
				}
				f, leader := flights.join(key)
				if leader {
					return flights.lead(ctx, key, f, x, func() error {
						// The flight before may have filled the entry
						// between the miss above and join.
						if body, ok, err := cache.Get(ctx, key); err == nil && ok {
							x.Response = &adapters.Response{Body: body}
							x.Outcome = OutcomeCached
							return nil
						}
						err := next(ctx, x)
						if err == nil {
							if d := x.Response.CacheTTL; d > 0 && d < ttl {
								ttl = d
							}
							_ = cache.Set(ctx, key, x.Response.Body, ttl)
						}
						return err
					})
				}
				select {
				case <-f.ready:
				case <-ctx.Done():
					return ctx.Err()
				}
				switch {
				case f.abandoned:
					continue // the leader hung up; its failure is not this caller's
				case f.err != nil:
					return f.err
				}
				x.Response = &adapters.Response{Body: f.body}
				x.Outcome = OutcomeCached
				return nil
			}
		}
	}
}

// flightGroup tracks the calls in progress by cache key.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

// flight is one call others wait for; its fields are set before ready is
// closed and only read after.
type flight struct {
	ready     chan struct{}
	waiters   int // joined after the leader, under the group's lock
	body      []byte
	err       error
	abandoned bool
}

// join returns the flight for key and whether the caller leads it (must
// make the call and then call done).
func (g *flightGroup) join(key string) (*flight, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.m[key]; ok {
		f.waiters++
		return f, false
	}
	if g.m == nil {
		g.m = map[string]*flight{}
	}
	f := &flight{ready: make(chan struct{})}
	g.m[key] = f
	return f, true
}

// lead makes the call for the flight's waiters and hands them its outcome,
// even if call panics.
func (g *flightGroup) lead(ctx context.Context, key string, f *flight, x *Exchange, call func() error) (err error) {
	f.abandoned = true // unless call returns
	defer func() {
		g.mu.Lock()
		delete(g.m, key)
		g.mu.Unlock()
		close(f.ready)
	}()
	err = call()
	f.err, f.abandoned = err, err != nil && ctx.Err() != nil
	if err == nil {
		f.body = x.Response.Body
	}
	return err
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
				return &Error{Kind: KindBusy, RetryAfter: time.Second,
					Detail: fmt.Sprintf("route %s has %d calls in flight (its concurrency limit) and no slot freed before the deadline", x.Route.Name, n)}
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
				return &Error{Kind: KindRateLimited, RetryAfter: wait,
					Detail: fmt.Sprintf("endpoint %s of route %s is limited to %g requests/s across the cluster", x.Route.Endpoints[0], x.Route.Name, rate)}
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

// Classify sets the outcome of a call that no layer classified.
func Classify(next Handler) Handler {
	return func(ctx context.Context, x *Exchange) error {
		err := next(ctx, x)
		if x.Outcome == "" {
			x.Outcome = classify(err)
		}
		return err
	}
}

func classify(err error) Outcome {
	var ae *adapters.Error
	var pe *Error
	switch {
	case err == nil:
		return OutcomeDelivered
	case IsUnavailable(err):
		return OutcomeUnavailable
	case errors.As(err, &ae):
		if ae.Status < 500 {
			return OutcomeRejected
		}
	case errors.As(err, &pe):
		return OutcomeRejected // a refusal of the pipeline's own, e.g. a key taken
	}
	return OutcomeFailed
}

// Enqueue records an async message (with its payload, for delivery and
// replay) and hands it to the queue; the caller gets 202 only after both.
func Enqueue(l Ledger, q Queue) Handler {
	return func(ctx context.Context, x *Exchange) error {
		m, err := l.Queued(ctx, x)
		if err != nil {
			x.Outcome = OutcomeUnavailable
			var pe *Error
			if errors.As(err, &pe) {
				x.Outcome = classify(err)
				return err
			}
			return storeUnavailable(x, err)
		}
		x.Message = m
		qctx, span := adapters.ChildSpan(ctx, "enqueue", adapters.AttrMessageID.String(m.ID))
		err = q.Enqueue(qctx, m)
		adapters.SpanFailed(span, err)
		span.End()
		if err != nil {
			// Recorded as QUEUED: the recovery sweep queues it within
			// seconds, so the caller is told to check, not to resend.
			x.Outcome = OutcomeUnavailable
			return &Error{Kind: KindBrokerUnavailable, MessageID: m.ID, RetryAfter: time.Second, Err: err,
				Detail: fmt.Sprintf("message %s is stored but not yet queued; the recovery sweep will queue it", m.ID)}
		}
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

// ValidMessageID tells whether id can be a message id at all (ids are
// UUIDs), so that a lookup of anything else is answered as unknown
// without reaching the store.
func ValidMessageID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return true
}
