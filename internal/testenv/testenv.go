// Package testenv is what the project's tests share about their
// environment. Its rule for tests of real servers (PostgreSQL, Redis,
// NATS): on a developer's machine a missing server skips the test, but
// under CI=true it fails it — CI must never pass by skipping them.
package testenv

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

// Unavailable ends the test because a server it needs is not there.
func Unavailable(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s (CI=true: not skipping; make services starts the local servers)", msg)
	}
	tb.Skip(msg)
}

// RequireTCP checks that something listens at addr (host:port).
func RequireTCP(tb testing.TB, name, addr string) {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		Unavailable(tb, "%s at %s is unreachable: %v", name, addr, err)
		return
	}
	c.Close()
}
