package idem

import (
	"context"
	"errors"
	"fmt"
	"math"
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

type redisIdem struct {
	rdb    redis.UniversalClient
	prefix string
}

// key escapes ':' and '%' in the caller name so that caller "a:b" with key
// "c" and caller "a" with key "b:c" stay two keys.
func (r *redisIdem) key(caller, key string) string {
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

func (r *redisIdem) Claim(ctx context.Context, caller, key string, ttl time.Duration) (bool, string, error) {
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

func (r *redisIdem) Bind(ctx context.Context, caller, key, messageID string, ttl time.Duration) error {
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

func (r *redisIdem) Release(ctx context.Context, caller, key string) error {
	if key == "" {
		return errNoKey
	}
	if err := releaseScript.Run(ctx, r.rdb, []string{r.key(caller, key)}).Err(); err != nil {
		return fmt.Errorf("idem: releasing key: %w", err)
	}
	return nil
}

type redisCache struct {
	rdb    redis.UniversalClient
	prefix string
}

func (c *redisCache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := c.rdb.Get(ctx, c.prefix+key).Bytes()
	if err == redis.Nil {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("idem: cache get: %w", err)
	}
	return b, true, nil
}

func (c *redisCache) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	if err := c.rdb.Set(ctx, c.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("idem: cache set: %w", err)
	}
	return nil
}

// gcraScript is the generic cell rate algorithm: the key holds the
// theoretical arrival time (TAT, µs) of the next request; a request is
// allowed when it would not push the TAT more than burst intervals ahead of
// now. One key, one round trip, and the clock is Redis's own TIME, so nodes
// with skewed clocks still share one budget.
//
// ARGV[1] = interval between requests (µs), ARGV[2] = burst.
// Returns {1, 0} when allowed, {0, µs to wait} when not.
var gcraScript = redis.NewScript(`
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then
  return {0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
`)

type redisLimiter struct {
	rdb    redis.UniversalClient
	prefix string
}

func burstFor(ratePerSec float64) int {
	return max(1, int(math.Ceil(ratePerSec)))
}

func (l *redisLimiter) Allow(ctx context.Context, key string, ratePerSec float64) (bool, time.Duration, error) {
	if ratePerSec <= 0 {
		return true, 0, nil
	}
	interval := 1e6 / ratePerSec
	res, err := gcraScript.Run(ctx, l.rdb, []string{l.prefix + key}, interval, burstFor(ratePerSec)).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("idem: rate limit: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("idem: rate limit script answered %v", res)
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}
