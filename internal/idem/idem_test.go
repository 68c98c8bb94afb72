package idem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/testenv"
	"github.com/redis/go-redis/v9"
)

func testRedisURL() string {
	if u := os.Getenv("KOPIR_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// redisDown probes the test Redis once, without go-redis's retries, so a
// machine without Redis skips quickly.
var redisDown = sync.OnceValue(func() error {
	opts, err := redis.ParseURL(testRedisURL())
	if err != nil {
		return err
	}
	opts.MaxRetries = -1
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
})

// testRedis connects a fresh client to the test Redis, or skips the test
// when there is none — except in CI, where a missing Redis is a failure.
func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	if err := redisDown(); err != nil {
		testenv.Unavailable(t, "redis at %s unreachable: %v", testRedisURL(), err)
	}
	opts, err := redis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// testPrefix is unique per test run and removed afterwards.
func testPrefix(t *testing.T, rdb *redis.Client) string {
	p := fmt.Sprintf("kopir-test:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, p+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return p
}

func TestRedisClaim(t *testing.T) {
	rdb := testRedis(t)
	prefix := testPrefix(t, rdb)
	s := NewRedis(rdb, prefix)
	ctx := context.Background()
	id := s.Idempotency

	claimed, existing, err := id.Claim(ctx, "erp", "k1", time.Minute)
	if err != nil || !claimed || existing != "" {
		t.Fatalf("first claim: %v %q %v", claimed, existing, err)
	}
	claimed, existing, err = id.Claim(ctx, "erp", "k1", time.Minute)
	if err != nil || claimed || existing != "" {
		t.Fatalf("claim while in progress: %v %q %v", claimed, existing, err)
	}
	if err := id.Bind(ctx, "erp", "k1", "msg-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	claimed, existing, err = id.Claim(ctx, "erp", "k1", time.Minute)
	if err != nil || claimed || existing != "msg-1" {
		t.Fatalf("repeat claim: %v %q %v, want the first message id", claimed, existing, err)
	}
	// Keys are per caller, and caller names cannot collide through ':'.
	for _, c := range [][2]string{{"crm", "k1"}, {"erp:k1", "x"}, {"erp", "k1:x"}} {
		if claimed, _, err := id.Claim(ctx, c[0], c[1], time.Minute); err != nil || !claimed {
			t.Errorf("caller %q key %q: claimed=%v err=%v", c[0], c[1], claimed, err)
		}
	}
	if ttl := rdb.PTTL(ctx, prefix+"idem:erp:k1").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("key TTL %s", ttl)
	}
	if err := id.Bind(ctx, "erp", "k1", "msg-2", time.Minute); !errors.Is(err, ErrBoundElsewhere) {
		t.Errorf("re-binding to another message: %v", err)
	}
}

func TestRedisRelease(t *testing.T) {
	rdb := testRedis(t)
	s := NewRedis(rdb, testPrefix(t, rdb))
	ctx := context.Background()
	id := s.Idempotency
	if claimed, _, _ := id.Claim(ctx, "erp", "k", time.Minute); !claimed {
		t.Fatal("not claimed")
	}
	if err := id.Release(ctx, "erp", "k"); err != nil {
		t.Fatal(err)
	}
	if claimed, _, _ := id.Claim(ctx, "erp", "k", time.Minute); !claimed {
		t.Fatal("released key not claimable")
	}
	id.Bind(ctx, "erp", "k", "msg-1", time.Minute)
	if err := id.Release(ctx, "erp", "k"); err != nil {
		t.Fatal(err)
	}
	if claimed, existing, _ := id.Claim(ctx, "erp", "k", time.Minute); claimed || existing != "msg-1" {
		t.Fatalf("release dropped a bound key: %v %q", claimed, existing)
	}
}

func TestRedisClaimExpires(t *testing.T) {
	rdb := testRedis(t)
	s := NewRedis(rdb, testPrefix(t, rdb))
	ctx := context.Background()
	if claimed, _, err := s.Idempotency.Claim(ctx, "erp", "k", 50*time.Millisecond); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	time.Sleep(120 * time.Millisecond)
	if claimed, _, err := s.Idempotency.Claim(ctx, "erp", "k", time.Minute); err != nil || !claimed {
		t.Fatalf("claim after expiry: %v %v", claimed, err)
	}
}

func TestRedisCache(t *testing.T) {
	rdb := testRedis(t)
	s := NewRedis(rdb, testPrefix(t, rdb))
	testCache(t, s.Cache)
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

func TestRedisLimiterIsClusterWide(t *testing.T) {
	// Two clients with their own connections stand for two bus nodes.
	a := testRedis(t)
	b := testRedis(t)
	prefix := testPrefix(t, a)
	nodes := []Limiter{NewRedis(a, prefix).Limiter, NewRedis(b, prefix).Limiter}
	ctx := context.Background()
	const rate = 5
	for i := range rate {
		ok, _, err := nodes[i%2].Allow(ctx, "rate:http://agency", rate)
		if err != nil || !ok {
			t.Fatalf("request %d of %d refused: %v", i+1, rate, err)
		}
	}
	ok, wait, err := nodes[1].Allow(ctx, "rate:http://agency", rate)
	if err != nil || ok {
		t.Fatalf("request %d allowed (%v) at %d/s", rate+1, err, rate)
	}
	if wait <= 0 || wait > time.Second/rate {
		t.Fatalf("retryAfter %s, want within (0, %s]", wait, time.Second/rate)
	}
	if ok, _, _ := nodes[0].Allow(ctx, "rate:http://other", rate); !ok {
		t.Error("another key shares the budget")
	}
	time.Sleep(wait + 10*time.Millisecond)
	if ok, _, err := nodes[0].Allow(ctx, "rate:http://agency", rate); !ok || err != nil {
		t.Fatalf("refused after waiting retryAfter: %v", err)
	}
	if ok, _, _ := nodes[0].Allow(ctx, "rate:http://agency", 0); !ok {
		t.Error("rate 0 should be unlimited")
	}
}

func TestNew(t *testing.T) {
	ctx := context.Background()
	s, err := New(ctx, "")
	if err != nil || s.Distributed() {
		t.Fatalf("no URL: %v, distributed=%v", err, s.Distributed())
	}
	s.Close()

	_, err = New(ctx, "redis://kopir:s3cret@127.0.0.1:1/0")
	if err == nil || !strings.Contains(err.Error(), "unreachable") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("unreachable Redis: %v", err)
	}
	if _, err := New(ctx, "http://nope"); err == nil {
		t.Fatal("non-Redis URL accepted")
	}

	testRedis(t)
	s, err = New(ctx, testRedisURL())
	if err != nil || !s.Distributed() {
		t.Fatalf("with Redis: %v", err)
	}
	defer s.Close()
	if err := s.Redis.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestLocalIdempotencyDefersToStore(t *testing.T) {
	id := NewLocal().Idempotency
	ctx := context.Background()
	for range 2 {
		if claimed, existing, err := id.Claim(ctx, "erp", "k", time.Minute); !claimed || existing != "" || err != nil {
			t.Fatalf("local claim: %v %q %v", claimed, existing, err)
		}
	}
	if id.Bind(ctx, "erp", "k", "m", time.Minute) != nil || id.Release(ctx, "erp", "k") != nil {
		t.Fatal("local bind/release failed")
	}
}

func TestLocalCache(t *testing.T) {
	testCache(t, NewLocal().Cache)
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

func TestLocalLimiter(t *testing.T) {
	l := NewLocal().Limiter
	ctx := context.Background()
	const rate = 5
	for i := range rate {
		if ok, _, _ := l.Allow(ctx, "k", rate); !ok {
			t.Fatalf("request %d refused", i+1)
		}
	}
	ok, wait, err := l.Allow(ctx, "k", rate)
	if ok || err != nil || wait <= 0 || wait > time.Second/rate {
		t.Fatalf("request %d: allowed=%v wait=%s err=%v", rate+1, ok, wait, err)
	}
	if ok, _, _ := l.Allow(ctx, "other", rate); !ok {
		t.Error("another key shares the budget")
	}
	time.Sleep(wait + 10*time.Millisecond)
	if ok, _, _ := l.Allow(ctx, "k", rate); !ok {
		t.Error("refused after waiting retryAfter")
	}
	if ok, _, _ := l.Allow(ctx, "k", 0); !ok {
		t.Error("rate 0 should be unlimited")
	}
}
