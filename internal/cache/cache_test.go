package cache

import (
	"context"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/redisconn/redistest"
)

func TestRedisCache(t *testing.T) {
	testCache(t, New(redistest.Conn(t)))
}

func testCache(t *testing.T, c Cache) {
	ctx := context.Background()
	if _, ok, err := c.Get(ctx, "a"); ok || err != nil {
		t.Fatalf("empty cache: %v %v", ok, err)
	}
	if err := c.Set(ctx, "a", []byte("answer"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := c.Get(ctx, "a"); !ok || err != nil || string(v) != "answer" {
		t.Fatalf("get: %q %v %v", v, ok, err)
	}
	c.Set(ctx, "short", []byte("x"), 50*time.Millisecond)
	c.Set(ctx, "forever", []byte("x"), 0)
	time.Sleep(120 * time.Millisecond)
	if _, ok, _ := c.Get(ctx, "short"); ok {
		t.Error("entry outlived its TTL")
	}
	if _, ok, _ := c.Get(ctx, "forever"); ok {
		t.Error("entry without TTL was stored")
	}
	if v, ok, _ := c.Get(ctx, "a"); !ok || string(v) != "answer" {
		t.Error("long-lived entry lost")
	}
}

func TestLocalCache(t *testing.T) {
	testCache(t, NewLocal())
}

func TestLocalCacheBounds(t *testing.T) {
	ctx := context.Background()
	c := newLRU(3, 10)
	for _, k := range []string{"a", "b", "c"} {
		c.Set(ctx, k, []byte("1"), time.Minute)
	}
	c.Get(ctx, "a") // a is now the most recently used
	c.Set(ctx, "d", []byte("1"), time.Minute)
	if _, ok, _ := c.Get(ctx, "b"); ok {
		t.Error("least recently used entry kept past the entry bound")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok, _ := c.Get(ctx, k); !ok {
			t.Errorf("%s evicted", k)
		}
	}
	c.Set(ctx, "big", []byte("123456789"), time.Minute) // 9 bytes: older ones must go
	if _, ok, _ := c.Get(ctx, "big"); !ok || c.bytes > 10 || c.ll.Len() != 2 {
		t.Errorf("after a large entry: kept=%v, %d entries, %d bytes", ok, c.ll.Len(), c.bytes)
	}
	c.Set(ctx, "huge", make([]byte, 11), time.Minute)
	if _, ok, _ := c.Get(ctx, "huge"); ok {
		t.Error("entry over the byte bound cached")
	}
	buf := []byte("orig")
	c.Set(ctx, "copy", buf, time.Minute)
	buf[0] = 'X'
	if v, _, _ := c.Get(ctx, "copy"); string(v) != "orig" {
		t.Errorf("cache shares the caller's buffer: %q", v)
	}
}
