// Package idem holds the state bus nodes share through Redis: claimed
// idempotency keys, cached answers and the cluster-wide rate limit.
//
// Redis is optional. Without it (KOPIR_REDIS_URL empty) every piece falls
// back to something in-process that keeps a single node correct:
//
//   - Idempotency claims always succeed. The message store's unique
//     (caller, idempotency_key) constraint is then the source of truth:
//     a repeat is found by looking the key up in the store, and a race
//     between two first calls is settled by the constraint. Redis only
//     settles that race earlier, before either call reaches an agency.
//   - The cache is a bounded LRU per process, so a node answers from what
//     it cached itself.
//   - The rate limit is a token bucket per process; with several nodes and
//     no Redis each node allows the full rate.
package idem

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Idempotency claims an (caller, Idempotency-Key) pair before the call is
// stored, so two nodes receiving the same key at the same moment do not
// both reach the agency.
type Idempotency interface {
	// Claim atomically takes the key for the caller. When someone already
	// holds it, claimed is false and existingMessageID is the message it
	// was bound to, or "" while the first call has not been stored yet
	// (answer 409, in progress).
	Claim(ctx context.Context, caller, key string, ttl time.Duration) (claimed bool, existingMessageID string, err error)
	// Bind records which message a claimed key produced, for the repeats.
	Bind(ctx context.Context, caller, key, messageID string, ttl time.Duration) error
	// Release gives up a claim that produced no message (the call failed
	// before it was stored), so the caller may try again at once. A key
	// already bound stays: it stands for a stored message.
	Release(ctx context.Context, caller, key string) error
}

// Cache keeps answers for a while. A value with ttl <= 0 is not stored:
// nothing the bus caches may live for ever. Values returned by Get must
// not be modified.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Limiter is a rate limit shared by every node. A rate of one second's
// worth of requests may arrive at once (burst = ceil(rate), at least 1), so
// "10/s" lets ten requests through together rather than one each 100ms.
type Limiter interface {
	// Allow takes one request from key's budget. When refused, retryAfter
	// is how long until the next one would be allowed. ratePerSec <= 0
	// means unlimited.
	Allow(ctx context.Context, key string, ratePerSec float64) (allowed bool, retryAfter time.Duration, err error)
}

// DefaultPrefix starts every key the bus writes, so it can share a Redis
// with other programs.
const DefaultPrefix = "kopir:"

// DefaultClaimTTL applies when Claim or Bind is given no TTL: a claim that
// never expires would block the key for good after a crash.
const DefaultClaimTTL = 24 * time.Hour

// Set is the three pieces, all backed by one Redis or all in-process.
type Set struct {
	Idempotency Idempotency
	Cache       Cache
	Limiter     Limiter
	// Redis is the client behind the Set; nil when it is in-process.
	Redis redis.UniversalClient
}

// New connects to redisURL (redis://, rediss:// or unix://) and returns a
// Redis-backed Set, or an in-process one when redisURL is empty. A URL that
// is given but unreachable is an error rather than a silent fallback: nodes
// that each thought they were alone would each allow the full rate and
// claim the same keys.
func New(ctx context.Context, redisURL string) (*Set, error) {
	if redisURL == "" {
		return NewLocal(), nil
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("idem: redis URL %s: %w", redact(redisURL), err)
	}
	rdb := redis.NewClient(opts)
	pctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("idem: redis at %s unreachable: %w", redact(redisURL), err)
	}
	return NewRedis(rdb, DefaultPrefix), nil
}

// NewRedis builds a Set on an existing client, its keys under prefix (tests
// give each run its own).
func NewRedis(rdb redis.UniversalClient, prefix string) *Set {
	return &Set{
		Idempotency: &redisIdem{rdb: rdb, prefix: prefix + "idem:"},
		Cache:       &redisCache{rdb: rdb, prefix: prefix + "cache:"},
		Limiter:     &redisLimiter{rdb: rdb, prefix: prefix + "ratelimit:"},
		Redis:       rdb,
	}
}

// NewLocal builds the in-process fallbacks (see the package comment).
func NewLocal() *Set {
	return &Set{
		Idempotency: localIdem{},
		Cache:       newLRU(DefaultLocalCacheEntries, DefaultLocalCacheBytes),
		Limiter:     newLocalLimiter(),
	}
}

// Distributed tells whether the Set is shared across nodes, for the
// readiness report and start-up log.
func (s *Set) Distributed() bool { return s.Redis != nil }

// Close releases the Redis connections, if any.
func (s *Set) Close() error {
	if s.Redis == nil {
		return nil
	}
	return s.Redis.Close()
}

// redact hides a password in a Redis URL so it never reaches a log.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

var errNoKey = errors.New("idem: empty key")
