// Package cache keeps answers for a while: the translated answers of
// routes with a cacheTTL and the first answer to an Idempotency-Key, for
// its repeats. They are kept in the Redis the nodes share
// (internal/redisconn), or without Redis in a bounded LRU per process, so
// that a node answers from what it cached itself.
package cache

import (
	"context"
	"time"

	"github.com/minfin-kz/kopir/internal/redisconn"
)

// Cache keeps answers for a while. A value with ttl <= 0 is not stored:
// nothing the bus caches may live for ever. Values returned by Get must
// not be modified.
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// New keeps answers in conn's Redis, or in this process (NewLocal) when
// conn is nil.
func New(conn *redisconn.Conn) Cache {
	if conn == nil {
		return NewLocal()
	}
	return &redisCache{rdb: conn.Client, prefix: conn.Prefix + "cache:"}
}

// Bounds of the in-process cache. Cached answers are agency responses of a
// few kilobytes; the byte bound is what protects the process when some are
// not.
const (
	DefaultLocalEntries = 10_000
	DefaultLocalBytes   = 64 << 20
)

// NewLocal is the in-process cache, within the default bounds.
func NewLocal() Cache { return newLRU(DefaultLocalEntries, DefaultLocalBytes) }
