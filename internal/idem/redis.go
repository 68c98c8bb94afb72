package idem

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ttlMS turns a TTL into the milliseconds PX wants (at least 1).
func ttlMS(ttl, def time.Duration) int64 {
	if ttl <= 0 {
		ttl = def
	}
	return max(int64(ttl/time.Millisecond), 1)
}

type redisClaims struct {
	rdb    redis.UniversalClient
	prefix string
}

// key escapes ':' and '%' in the caller name so that caller "a:b" with key
// "c" and caller "a" with key "b:c" stay two keys.
func (r *redisClaims) key(caller, key string) string {
	if strings.ContainsAny(caller, ":%") {
		caller = url.QueryEscape(caller)
	}
	return r.prefix + caller + ":" + key
}

// A claimed key holds "" until Bind stores the message id. Claiming and
// reading the holder happen in one script so a repeat never sees the key
// vanish between a failed SET NX and the GET.
var claimScript = redis.NewScript(`
if redis.call('SET', KEYS[1], '', 'NX', 'PX', ARGV[1]) then
  return {1, ''}
end
return {0, redis.call('GET', KEYS[1]) or ''}
`)

func (r *redisClaims) Claim(ctx context.Context, caller, key string, ttl time.Duration) (bool, string, error) {
	if key == "" {
		return false, "", errNoKey
	}
	res, err := claimScript.Run(ctx, r.rdb, []string{r.key(caller, key)}, ttlMS(ttl, DefaultClaimTTL)).Slice()
	if err != nil {
		return false, "", fmt.Errorf("idem: claiming key: %w", err)
	}
	if len(res) != 2 {
		return false, "", fmt.Errorf("idem: claim script answered %v", res)
	}
	claimed, _ := res[0].(int64)
	existing, _ := res[1].(string)
	return claimed == 1, existing, nil
}

// Binding refuses to overwrite another message's id: that happens only if
// our claim expired and someone else's call was stored meanwhile, and then
// theirs is the one repeats must see.
var bindScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= '' and v ~= ARGV[1] then
  return v
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ''
`)

// ErrBoundElsewhere is Bind finding the key bound to another message.
var ErrBoundElsewhere = errors.New("idem: key bound to another message")

func (r *redisClaims) Bind(ctx context.Context, caller, key, messageID string, ttl time.Duration) error {
	if key == "" {
		return errNoKey
	}
	other, err := bindScript.Run(ctx, r.rdb, []string{r.key(caller, key)}, messageID, ttlMS(ttl, DefaultClaimTTL)).Text()
	if err != nil {
		return fmt.Errorf("idem: binding key: %w", err)
	}
	if other != "" {
		return fmt.Errorf("%w %s", ErrBoundElsewhere, other)
	}
	return nil
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == '' then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func (r *redisClaims) Release(ctx context.Context, caller, key string) error {
	if key == "" {
		return errNoKey
	}
	if err := releaseScript.Run(ctx, r.rdb, []string{r.key(caller, key)}).Err(); err != nil {
		return fmt.Errorf("idem: releasing key: %w", err)
	}
	return nil
}
