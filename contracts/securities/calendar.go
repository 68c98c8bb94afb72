package securities

import (
	"fmt"
	"time"
)

// Astana is the time of the exchange and the depository. Kazakhstan has
// kept UTC+5 nationwide since 2024; a fixed zone, not the tz database,
// keeps the rules independent of the host's zone files.
var Astana = time.FixedZone("ALMT", 5*3600)

// Date is midnight in Astana of the given calendar day, the form in which
// this package returns dates.
func Date(year int, month time.Month, day int) time.Time {
	return time.Date(year, month, day, 0, 0, 0, 0, Astana)
}

// ParseDate reads an ISO date (YYYY-MM-DD) as that calendar day in Astana.
func ParseDate(s string) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, s, Astana)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return d, nil
}

// ParseCalendar is the calendar of holidays written as YYYY-MM-DD, as
// configs give them; the error names the bad entry.
func ParseCalendar(holidays []string) (*Calendar, error) {
	days := make([]time.Time, 0, len(holidays))
	for i, h := range holidays {
		d, err := ParseDate(h)
		if err != nil {
			return nil, fmt.Errorf("holidays[%d]: %w", i, err)
		}
		days = append(days, d)
	}
	return NewCalendar(days), nil
}

func asDate(t time.Time) time.Time {
	y, m, d := t.Date()
	return Date(y, m, d)
}

// Calendar says which days the exchange and the depository work: Monday
// to Friday, except the public holidays it was given. Kazakhstan
// sometimes moves a working day to a Saturday; such a Saturday is not
// modelled and stays a day off.
type Calendar struct {
	holidays map[int64]bool
}

// NewCalendar makes a calendar with the given public holidays; only each
// time's calendar date (in its own location) counts.
func NewCalendar(holidays []time.Time) *Calendar {
	c := &Calendar{holidays: make(map[int64]bool, len(holidays))}
	for _, h := range holidays {
		c.holidays[civilDay(h)] = true
	}
	return c
}

// IsBusinessDay reports whether d's calendar date is neither a weekend
// day nor a holiday.
func (c *Calendar) IsBusinessDay(d time.Time) bool {
	switch d.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	return !c.holidays[civilDay(d)]
}

// AddBusinessDays moves n business days from d (backwards when n is
// negative), counting only days after (or before) d itself, so T+2 from a
// Friday is the next Tuesday. With n = 0 it returns d's date unchanged,
// business day or not.
func (c *Calendar) AddBusinessDays(d time.Time, n int) time.Time {
	day := asDate(d)
	step := 1
	if n < 0 {
		step, n = -1, -n
	}
	for n > 0 {
		day = day.AddDate(0, 0, step)
		if c.IsBusinessDay(day) {
			n--
		}
	}
	return day
}

// PreviousBusinessDay is the last business day strictly before d.
func (c *Calendar) PreviousBusinessDay(d time.Time) time.Time {
	return c.AddBusinessDays(d, -1)
}

// NextBusinessDay is the first business day strictly after d.
func (c *Calendar) NextBusinessDay(d time.Time) time.Time {
	return c.AddBusinessDays(d, 1)
}

// Following is d's date if it is a business day, else the next business
// day: the rule for payment dates.
func (c *Calendar) Following(d time.Time) time.Time {
	if c.IsBusinessDay(d) {
		return asDate(d)
	}
	return c.NextBusinessDay(d)
}
