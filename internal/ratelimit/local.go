package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// localLimiter is a token bucket per key in this process. Keys are route
// endpoints, a set fixed by the configuration, so the map is not pruned.
type localLimiter struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLocalLimiter() *localLimiter { return &localLimiter{m: make(map[string]*rate.Limiter)} }

func (l *localLimiter) Allow(_ context.Context, key string, ratePerSec float64) (bool, time.Duration, error) {
	if ratePerSec <= 0 {
		return true, 0, nil
	}
	limit, burst := rate.Limit(ratePerSec), burstFor(ratePerSec)
	l.mu.Lock()
	lim := l.m[key]
	if lim == nil {
		lim = rate.NewLimiter(limit, burst)
		l.m[key] = lim
	} else if lim.Limit() != limit {
		lim.SetLimit(limit)
		lim.SetBurst(burst)
	}
	l.mu.Unlock()
	now := time.Now()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d, nil
	}
	return true, 0, nil
}
