// Package idem claims Idempotency-Keys across bus nodes: an (caller,
// Idempotency-Key) pair is taken before the call is stored, so two nodes
// receiving the same key at the same moment do not both reach the agency.
//
// Claims are kept in the Redis the nodes share (internal/redisconn). Without
// Redis every claim succeeds: the message store's unique (caller,
// idempotency_key) constraint is then the source of truth, a repeat is
// found by looking the key up in the store, and a race between two first
// calls is settled by the constraint. Redis only settles that race earlier,
// before either call reaches an agency.
package idem

import (
	"context"
	"errors"
	"time"

	"github.com/minfin-kz/kopir/internal/redisconn"
)

// Claims reserve Idempotency-Keys.
type Claims interface {
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

// DefaultClaimTTL applies when Claim or Bind is given no TTL: a claim that
// never expires would block the key for good after a crash.
const DefaultClaimTTL = 24 * time.Hour

// New keeps claims in conn's Redis, or defers to the store (NewLocal) when
// conn is nil.
func New(conn *redisconn.Conn) Claims {
	if conn == nil {
		return NewLocal()
	}
	return &redisClaims{rdb: conn.Client, prefix: conn.Prefix + "idem:"}
}

// NewLocal claims every key, for a node without Redis (see the package
// comment).
func NewLocal() Claims { return localClaims{} }

var errNoKey = errors.New("idem: empty key")
