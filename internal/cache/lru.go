package cache

import (
	"container/list"
	"context"
	"sync"
	"time"
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
