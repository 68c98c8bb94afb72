// Package admission lets large request bodies through a few at a time.
//
// A large XML document costs many times its size while it is parsed,
// validated and translated (libxml2's tree, the decoded structure, the JSON
// made of it). Admitting them one or two at a time bounds the memory of the
// whole process by what one document costs, whatever the number of senders;
// small requests never wait here.
package admission

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/internal/problem"
)

// Gate admits requests whose body is larger than Threshold (or of unknown
// length) at most Slots at a time. A request that waits longer than Wait is
// answered 503 with Retry-After. The zero Gate admits everything.
type Gate struct {
	Threshold int64
	Slots     int
	Wait      time.Duration
	// Busy runs when the first large request is admitted, Idle when the last
	// one leaves: the process adjusts its memory pacing around them.
	Busy, Idle func()

	once   sync.Once
	slots  chan struct{}
	mu     sync.Mutex
	inside int
}

// Large reports whether r's body counts as large.
func (g *Gate) Large(r *http.Request) bool {
	if g.Threshold <= 0 || r.Body == nil || r.Body == http.NoBody {
		return false
	}
	return r.ContentLength < 0 || r.ContentLength > g.Threshold
}

// Wrap puts h behind the gate.
func (g *Gate) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.Large(r) || g.Slots <= 0 {
			h.ServeHTTP(w, r)
			return
		}
		g.once.Do(func() { g.slots = make(chan struct{}, g.Slots) })
		timer := time.NewTimer(g.Wait)
		defer timer.Stop()
		select {
		case g.slots <- struct{}{}:
		case <-timer.C:
			g.refuse(w)
			return
		case <-r.Context().Done():
			return
		}
		g.enter()
		defer func() {
			g.leave()
			<-g.slots
		}()
		h.ServeHTTP(w, r)
	})
}

func (g *Gate) refuse(w http.ResponseWriter) {
	wait := max(g.Wait, time.Second)
	p := problem.New(http.StatusServiceUnavailable, "Busy with large documents",
		fmt.Sprintf("%d large documents (over %d bytes) are being processed; send this one again after %d s", g.Slots, g.Threshold, int(wait/time.Second)))
	p.Type, p.RetryAfter = "urn:kopir:problem:busy", wait
	problem.Write(w, p)
}

func (g *Gate) enter() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inside++
	if g.inside == 1 && g.Busy != nil {
		g.Busy()
	}
}

func (g *Gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inside--
	if g.inside == 0 && g.Idle != nil {
		g.Idle()
	}
}
