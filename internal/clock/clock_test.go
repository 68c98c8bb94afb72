package clock

import (
	"errors"
	"testing"
	"time"
)

func TestSimulatedIsSetAndAdvanced(t *testing.T) {
	start := time.Date(2026, 12, 1, 8, 59, 0, 0, time.FixedZone("Astana", 5*3600))
	c := NewSimulated(start)
	if got := c.Now(); got.Before(start) || got.Sub(start) > time.Minute {
		t.Fatalf("a new clock shows %s, want about %s", got, start)
	}
	at, err := c.Advance(3 * time.Hour)
	if err != nil || at.Sub(start) < 3*time.Hour || at.Sub(start) > 3*time.Hour+time.Minute {
		t.Fatalf("advanced 3h from %s: %s %v", start, at, err)
	}
	if _, err := c.Advance(-time.Second); !errors.Is(err, ErrBackwards) {
		t.Fatalf("a negative advance: %v", err)
	}
	back := start.Add(-24 * time.Hour)
	c.Set(back)
	if got := c.Now(); got.Before(back) || got.After(start) {
		t.Fatalf("set back to %s, shows %s", back, got)
	}
}
