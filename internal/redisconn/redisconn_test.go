package redisconn_test

import (
	"context"
	"strings"
	"testing"

	"github.com/minfin-kz/kopir/internal/redisconn"
	"github.com/minfin-kz/kopir/internal/redisconn/redistest"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	c, err := redisconn.Open(ctx, "")
	if err != nil || c != nil {
		t.Fatalf("no URL: %v, conn %v", err, c)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("closing no connection: %v", err)
	}

	_, err = redisconn.Open(ctx, "redis://kopir:s3cret@127.0.0.1:1/0")
	if err == nil || !strings.Contains(err.Error(), "unreachable") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("unreachable Redis: %v", err)
	}
	if _, err := redisconn.Open(ctx, "http://nope"); err == nil {
		t.Fatal("non-Redis URL accepted")
	}

	redistest.Require(t)
	c, err = redisconn.Open(ctx, redistest.URL())
	if err != nil || c == nil {
		t.Fatalf("with Redis: %v", err)
	}
	defer c.Close()
	if c.Prefix != redisconn.DefaultPrefix {
		t.Errorf("prefix %q", c.Prefix)
	}
	if err := c.Client.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
}
