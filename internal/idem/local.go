package idem

import (
	"container/list"
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// localIdem claims every key: with no shared state the message store's
// unique (caller, idempotency_key) constraint decides (see the package
// comment), and a second in-process record would only be a copy of it that
// disagrees after a restart.
type localIdem struct{}

func (localIdem) Claim(context.Context, string, string, time.Duration) (bool, string, error) {
	return true, "", nil
}
func (localIdem) Bind(context.Context, string, string, string, time.Duration) error { return nil }
func (localIdem) Release(context.Context, string, string) error                     { return nil }

// Bounds of the in-process cache. Cached answers are agency responses of a
// few kilobytes; the byte bound is what protects the process when some are
// not.
const (
	DefaultLocalCacheEntries = 10_000
	DefaultLocalCacheBytes   = 64 << 20
)

// lru is the in-process Cache: least recently used entries go first when
// either bound is reached, expired ones as soon as they are looked at.
type lru struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int
	bytes      int
	ll         list.List // front = most recently used
	m          map[string]*list.Element
}

type lruEntry struct {
	key     string
	value   []byte
	expires time.Time
}

func newLRU(maxEntries, maxBytes int) *lru {
	return &lru{maxEntries: maxEntries, maxBytes: maxBytes, m: make(map[string]*list.Element)}
}

func (c *lru) Get(_ context.Context, key string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return nil, false, nil
	}
	e := el.Value.(*lruEntry)
	if !time.Now().Before(e.expires) {
		c.remove(el)
		return nil, false, nil
	}
	c.ll.MoveToFront(el)
	return e.value, true, nil
}

// Set copies value: the caller's buffer may be reused after it returns.
func (c *lru) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 || len(value) > c.maxBytes {
		return nil
	}
	e := &lruEntry{key: key, value: append([]byte(nil), value...), expires: time.Now().Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[key]; ok {
		c.remove(old)
	}
	c.m[key] = c.ll.PushFront(e)
	c.bytes += len(e.value)
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		c.remove(c.ll.Back())
	}
	return nil
}

func (c *lru) remove(el *list.Element) {
	e := c.ll.Remove(el).(*lruEntry)
	delete(c.m, e.key)
	c.bytes -= len(e.value)
}

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
