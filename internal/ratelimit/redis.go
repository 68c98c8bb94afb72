package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

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

func (l *redisLimiter) Allow(ctx context.Context, key string, ratePerSec float64) (bool, time.Duration, error) {
	if ratePerSec <= 0 {
		return true, 0, nil
	}
	interval := 1e6 / ratePerSec
	res, err := gcraScript.Run(ctx, l.rdb, []string{l.prefix + key}, interval, burstFor(ratePerSec)).Int64Slice()
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: %w", err)
	}
	if len(res) != 2 {
		return false, 0, fmt.Errorf("ratelimit: script answered %v", res)
	}
	if res[0] == 1 {
		return true, 0, nil
	}
	return false, time.Duration(res[1]) * time.Microsecond, nil
}
