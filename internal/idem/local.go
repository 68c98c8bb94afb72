package idem

import (
	"context"
	"time"
)

// localClaims claims every key: with no shared state the message store's
// unique (caller, idempotency_key) constraint decides (see the package
// comment), and a second in-process record would only be a copy of it that
// disagrees after a restart.
type localClaims struct{}

func (localClaims) Claim(context.Context, string, string, time.Duration) (bool, string, error) {
	return true, "", nil
}
func (localClaims) Bind(context.Context, string, string, string, time.Duration) error { return nil }
func (localClaims) Release(context.Context, string, string) error                     { return nil }
