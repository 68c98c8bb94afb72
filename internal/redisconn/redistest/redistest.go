// Package redistest connects tests to the test Redis
// (KOPIR_TEST_REDIS_URL, by default the local one), following the rule of
// internal/testenv: without it a test is skipped, except under CI=true.
package redistest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/minfin-kz/kopir/internal/redisconn"
	"github.com/minfin-kz/kopir/internal/testenv"
)

// URL is the test Redis.
func URL() string {
	if u := os.Getenv("KOPIR_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// down probes the test Redis once, without go-redis's retries, so a
// machine without Redis skips quickly.
var down = sync.OnceValue(func() error {
	opts, err := redis.ParseURL(URL())
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

// Require ends the test unless the test Redis answers.
func Require(t testing.TB) {
	t.Helper()
	if err := down(); err != nil {
		testenv.Unavailable(t, "redis at %s unreachable: %v", URL(), err)
	}
}

// Client connects a fresh client to the test Redis, closed after the test.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	Require(t)
	opts, err := redis.ParseURL(URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// Conn is a fresh client whose keys are under a prefix of their own, all
// removed after the test, so tests never see each other's keys.
func Conn(t testing.TB) *redisconn.Conn {
	t.Helper()
	rdb := Client(t)
	prefix := fmt.Sprintf("kopir-test:%s:%d:", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return &redisconn.Conn{Client: rdb, Prefix: prefix}
}
