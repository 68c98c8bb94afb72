// Package ratelimit is the rate limit of a route's endpoint across the
// cluster: a GCRA in the Redis the nodes share (internal/redisconn), or
// without Redis a token bucket per process, with which each of several
// nodes allows the full rate.
package ratelimit

import (
	"context"
	"math"
	"time"

	"github.com/minfin-kz/kopir/internal/redisconn"
)

// Limiter is a rate limit shared by every node. A rate of one second's
// worth of requests may arrive at once (burst = ceil(rate), at least 1), so
// "10/s" lets ten requests through together rather than one each 100ms.
type Limiter interface {
	// Allow takes one request from key's budget. When refused, retryAfter
	// is how long until the next one would be allowed. ratePerSec <= 0
	// means unlimited.
	Allow(ctx context.Context, key string, ratePerSec float64) (allowed bool, retryAfter time.Duration, err error)
}

// New limits through conn's Redis, or in this process (NewLocal) when conn
// is nil.
func New(conn *redisconn.Conn) Limiter {
	if conn == nil {
		return NewLocal()
	}
	return &redisLimiter{rdb: conn.Client, prefix: conn.Prefix + "ratelimit:"}
}

// NewLocal is a token bucket per key in this process.
func NewLocal() Limiter { return newLocalLimiter() }

func burstFor(ratePerSec float64) int {
	return max(1, int(math.Ceil(ratePerSec)))
}
