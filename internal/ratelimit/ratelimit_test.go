package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/redisconn"
	"github.com/minfin-kz/kopir/internal/redisconn/redistest"
)

func TestRedisLimiterIsClusterWide(t *testing.T) {
	// Two clients with their own connections stand for two bus nodes.
	a := redistest.Conn(t)
	b := &redisconn.Conn{Client: redistest.Client(t), Prefix: a.Prefix}
	nodes := []Limiter{New(a), New(b)}
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

func TestLocalLimiter(t *testing.T) {
	l := NewLocal()
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
