// Package clock is where the bus reads the time of day its business rules
// depend on (a trading session's order window, a cut-off deadline, a
// record date): components get it as Resources.Clock. In production it is
// the system's. A demo or an end-to-end test may run the bus on a
// simulated clock instead, set and advanced through the admin API, so that
// a whole trading day, or the life of a bond, passes in seconds.
package clock

import (
	"errors"
	"sync"
	"time"
)

// System is the system's clock.
func System() time.Time { return time.Now() }

// Simulated is a clock that runs at the system clock's pace from a time
// it was set to. Its zero value is not usable: make one with NewSimulated.
type Simulated struct {
	mu sync.Mutex
	// at is the simulated time at the system time since.
	at, since time.Time
}

// NewSimulated is a clock showing start now.
func NewSimulated(start time.Time) *Simulated {
	return &Simulated{at: start, since: time.Now()}
}

// Now is the simulated time.
func (s *Simulated) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.at.Add(time.Since(s.since))
}

// Set moves the clock to t, forward or back.
func (s *Simulated) Set(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at, s.since = t, time.Now()
}

// ErrBackwards refuses an advance by a negative duration: Set is the way
// back, said explicitly.
var ErrBackwards = errors.New("clock: advance by a negative duration (set the time instead)")

// Advance moves the clock forward by d and returns the new time.
func (s *Simulated) Advance(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, ErrBackwards
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	s.at, s.since = s.at.Add(now.Sub(s.since)+d), now
	return s.at, nil
}
