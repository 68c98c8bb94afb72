package delivery

import (
	"errors"
	"testing"
	"time"
)

// The oldest queued message's age is found from "any created before t"
// answers alone, within the tolerance, never younger than a message that
// waits is reported older than it is by more than the tolerance, and a
// hint that still holds costs three questions.
func TestOldestQueued(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	for _, c := range []struct {
		name      string
		created   []time.Time
		hint      time.Time
		maxProbes int // 0: not checked
	}{
		{name: "none queued", created: nil, maxProbes: 1},
		{name: "created this instant is not before now", created: []time.Time{now}, maxProbes: 1},
		{name: "seconds old", created: []time.Time{ago(7 * time.Second), ago(2 * time.Second)}},
		{name: "just under a minute", created: []time.Time{ago(59 * time.Second)}},
		{name: "minutes old", created: []time.Time{ago(90 * time.Second), ago(time.Second)}},
		{name: "hours old", created: []time.Time{ago(3*time.Hour + 17*time.Minute), ago(time.Hour)}},
		{name: "a year old", created: []time.Time{ago(400 * 24 * time.Hour)}},
		{name: "hint still waiting", created: []time.Time{ago(20 * time.Minute), ago(time.Minute)}, hint: ago(20 * time.Minute), maxProbes: 3},
		{name: "hint delivered since", created: []time.Time{ago(5 * time.Minute)}, hint: ago(20 * time.Minute)},
		{name: "older message replayed since the hint", created: []time.Time{ago(48 * time.Hour), ago(5 * time.Minute)}, hint: ago(5 * time.Minute)},
		{name: "hint in the future", created: []time.Time{ago(5 * time.Minute)}, hint: now.Add(time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			probes := 0
			anyBefore := func(t time.Time) (bool, error) {
				probes++
				for _, at := range c.created {
					if at.Before(t) {
						return true, nil
					}
				}
				return false, nil
			}
			var want time.Time
			for _, at := range c.created {
				if at.Before(now) && (want.IsZero() || at.Before(want)) {
					want = at
				}
			}
			got, found, err := oldestQueued(now, c.hint, anyBefore)
			if err != nil {
				t.Fatal(err)
			}
			if found != !want.IsZero() {
				t.Fatalf("found = %v, want %v", found, !want.IsZero())
			}
			if found {
				tol := ageTolerance(now.Sub(want))
				if got.After(want) || want.Sub(got) > tol {
					t.Errorf("oldest at %v ago, want %v ago within %v", now.Sub(got), now.Sub(want), tol)
				}
			}
			if c.maxProbes > 0 && probes > c.maxProbes {
				t.Errorf("asked %d times, want at most %d", probes, c.maxProbes)
			}
		})
	}
}

// A store that cannot answer makes the search fail rather than report an
// age it did not find.
func TestOldestQueuedStoreFails(t *testing.T) {
	now := time.Now()
	boom := errors.New("database is locked")
	for _, failAt := range []int{1, 2, 3, 5} {
		calls := 0
		_, found, err := oldestQueued(now, now.Add(-time.Hour), func(time.Time) (bool, error) {
			calls++
			if calls == failAt {
				return false, boom
			}
			return true, nil
		})
		if !errors.Is(err, boom) || found {
			t.Errorf("failing at question %d: found %v, err %v", failAt, found, err)
		}
	}
}
