package idem

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/redisconn/redistest"
)

func TestRedisClaim(t *testing.T) {
	conn := redistest.Conn(t)
	id := New(conn)
	ctx := context.Background()

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
	if ttl := conn.Client.PTTL(ctx, conn.Prefix+"idem:erp:k1").Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("key TTL %s", ttl)
	}
	if err := id.Bind(ctx, "erp", "k1", "msg-2", time.Minute); !errors.Is(err, ErrBoundElsewhere) {
		t.Errorf("re-binding to another message: %v", err)
	}
}

func TestRedisRelease(t *testing.T) {
	id := New(redistest.Conn(t))
	ctx := context.Background()
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
	id := New(redistest.Conn(t))
	ctx := context.Background()
	if claimed, _, err := id.Claim(ctx, "erp", "k", 50*time.Millisecond); err != nil || !claimed {
		t.Fatal(claimed, err)
	}
	time.Sleep(120 * time.Millisecond)
	if claimed, _, err := id.Claim(ctx, "erp", "k", time.Minute); err != nil || !claimed {
		t.Fatalf("claim after expiry: %v %v", claimed, err)
	}
}

func TestLocalIdempotencyDefersToStore(t *testing.T) {
	id := NewLocal()
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
