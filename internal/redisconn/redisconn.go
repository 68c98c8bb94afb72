// Package redisconn opens the Redis through which bus nodes share state:
// idempotency claims (internal/idem), cached answers (internal/cache) and
// the cluster-wide rate limit (internal/ratelimit). Each of them takes the
// one Conn the app opens, or nil when there is no Redis; it then falls back
// to something in-process that keeps a single node correct, as its own
// package comment explains.
package redisconn

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key the bus writes, so it can share a Redis
// with other programs.
const DefaultPrefix = "kopir:"

// Conn is a Redis client and the prefix of every key the bus keeps in it.
type Conn struct {
	Client redis.UniversalClient
	Prefix string
}

// Open connects to redisURL (redis://, rediss:// or unix://), or returns
// nil when redisURL is empty. A URL that is given but unreachable is an
// error rather than a silent fallback: nodes that each thought they were
// alone would each allow the full rate and claim the same keys.
func Open(ctx context.Context, redisURL string) (*Conn, error) {
	if redisURL == "" {
		return nil, nil
	}
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("redisconn: URL %s: %w", redact(redisURL), err)
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
		return nil, fmt.Errorf("redisconn: redis at %s unreachable: %w", redact(redisURL), err)
	}
	return &Conn{Client: rdb, Prefix: DefaultPrefix}, nil
}

// Close releases the connections; a nil Conn holds none.
func (c *Conn) Close() error {
	if c == nil {
		return nil
	}
	return c.Client.Close()
}

// redact hides a password in a Redis URL so it never reaches a log.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
