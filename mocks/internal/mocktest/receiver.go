package mocktest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Receiver stands in for the bus's agency listener: it takes every push
// with 200 and keeps the bodies in arrival order.
type Receiver struct {
	URL    string
	mu     sync.Mutex
	bodies [][]byte
	more   chan struct{}
}

// NewReceiver starts a receiver, closed with the test.
func NewReceiver(t *testing.T) *Receiver {
	t.Helper()
	r := &Receiver{more: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.mu.Unlock()
		select {
		case r.more <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Bodies is what arrived so far.
func (r *Receiver) Bodies() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte{}, r.bodies...)
}

// Wait returns once n pushes arrived; the test fails if they do not
// within a generous bound (a stuck mock, not a slow one).
func (r *Receiver) Wait(t *testing.T, n int) [][]byte {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		if b := r.Bodies(); len(b) >= n {
			return b
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("waited for %d pushes, %d arrived", n, len(r.Bodies()))
		}
	}
}
