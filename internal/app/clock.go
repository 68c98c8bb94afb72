package app

import (
	"time"

	"github.com/minfin-kz/kopir/internal/clock"
	"github.com/minfin-kz/kopir/internal/config"
)

// setClock chooses the clock components read: the system's, or the
// simulated one a demo config asks for.
func (a *App) setClock() error {
	c := a.Config.Clock
	if !c.Simulated {
		a.clock = clock.System
		return nil
	}
	start, err := c.StartTime()
	if err != nil {
		return &config.FieldError{File: a.Config.File(), Field: "clock.start", Msg: err.Error()}
	}
	if start.IsZero() {
		start = time.Now()
	}
	a.sim = clock.NewSimulated(start)
	a.clock = a.sim.Now
	a.Log.Warn("the bus runs on a simulated clock (clock.simulated); move it with PUT /admin/v1/clock", "now", start)
	return nil
}

// now is the time of day by the bus's clock.
func (a *App) now() time.Time {
	if a.clock == nil {
		return time.Now()
	}
	return a.clock()
}
