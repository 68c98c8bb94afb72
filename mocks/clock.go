package mocks

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/minfin-kz/kopir/internal/clock"
)

// TickEvery is how often the mocks' clock wakes its watchers when nobody
// moves it: scheduled events fall due as simulated time runs at the
// system's pace too.
const TickEvery = 100 * time.Millisecond

// Clock is the simulated time of the agencies whose business depends on
// the time of day (the exchange's order window, the depository's
// settlement and coupon dates). It starts at the system time and runs at
// its pace until moved through the control API; a test or a demo then
// lives through a trading day, or the life of a bond, in seconds.
//
// Watchers are called from one goroutine, after each move and every
// TickEvery, never from a request: a watcher producing a backlog of
// events cannot hold up the request that moved the clock.
type Clock struct {
	sim  *clock.Simulated
	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	watchers []func(now time.Time)
	started  bool
	stopped  bool
}

func newClock() *Clock {
	return &Clock{sim: clock.NewSimulated(time.Now()), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// Now is the mocks' simulated time.
func (c *Clock) Now() time.Time { return c.sim.Now() }

// Set moves the clock to t (forward or back) and wakes the watchers.
func (c *Clock) Set(t time.Time) {
	c.sim.Set(t)
	c.Kick()
}

// Advance moves the clock forward by d and wakes the watchers.
func (c *Clock) Advance(d time.Duration) (time.Time, error) {
	t, err := c.sim.Advance(d)
	if err == nil {
		c.Kick()
	}
	return t, err
}

// Watch registers f to be called with the current time after every move
// and tick. The first watcher starts the ticking goroutine, so a server
// with no time-driven agency runs none.
func (c *Clock) Watch(f func(now time.Time)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.watchers = append(c.watchers, f)
	if !c.started {
		c.started = true
		go c.run()
	}
}

// Kick wakes the watchers soon without moving the clock: an agency that
// just scheduled something already due.
func (c *Clock) Kick() {
	select {
	case c.kick <- struct{}{}:
	default: // a wake-up is already pending; it will see the latest time
	}
}

func (c *Clock) run() {
	defer close(c.done)
	t := time.NewTicker(TickEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		case <-c.kick:
		}
		c.mu.Lock()
		ws := append([]func(time.Time){}, c.watchers...)
		c.mu.Unlock()
		for _, w := range ws {
			w(c.Now())
		}
	}
}

// close stops the ticking goroutine and waits for a round in progress.
func (c *Clock) close() {
	c.mu.Lock()
	started, stopped := c.started, c.stopped
	c.stopped = true
	c.mu.Unlock()
	if stopped {
		return
	}
	close(c.stop)
	if started {
		<-c.done
	}
}

// ClockRequest moves the mocks' clock: now (RFC 3339) or advance (a
// duration such as 90m or 26h), not both; the bus's admin clock takes the
// same body.
type ClockRequest struct {
	Now     string `json:"now"`
	Advance string `json:"advance"`
}

// ClockAnswer is the mocks' time.
type ClockAnswer struct {
	Now time.Time `json:"now"`
}

func (c *Clock) apply(req ClockRequest) error {
	switch {
	case req.Now != "" && req.Advance != "":
		return errors.New("clock: give now or advance, not both")
	case req.Now != "":
		t, err := time.Parse(time.RFC3339, req.Now)
		if err != nil {
			return fmt.Errorf("clock: now %q is not an RFC 3339 time (e.g. 2026-12-08T09:00:00+05:00)", req.Now)
		}
		c.Set(t)
	case req.Advance != "":
		d, err := time.ParseDuration(req.Advance)
		if err != nil {
			return fmt.Errorf("clock: advance %q is not a duration (e.g. 90m, 26h)", req.Advance)
		}
		if _, err := c.Advance(d); err != nil {
			return err
		}
	default:
		return errors.New("clock: give now or advance")
	}
	return nil
}

func (s *Server) getClock(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, ClockAnswer{Now: s.clock.Now()})
}

func (s *Server) putClock(w http.ResponseWriter, r *http.Request) {
	var req ClockRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "clock: " + err.Error()})
		return
	}
	if err := s.clock.apply(req); err != nil {
		WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	WriteJSON(w, http.StatusOK, ClockAnswer{Now: s.clock.Now()})
}
