package securities

import (
	"fmt"
	"time"
)

// Coupon is one coupon period of an issue.
type Coupon struct {
	Number int
	// Start and End bound the accrual period. They are not moved for
	// holidays, so every regular period accrues the same fraction.
	Start, End time.Time
	// Payment is End, or the next business day when End is not one; the
	// holder is not paid for the extra days.
	Payment time.Time
	// Record is the business day before Payment: holders on the
	// depository's register at its close receive the coupon.
	Record time.Time
	// Regular is false for a short first period, when circulation does
	// not start on a coupon date counted back from maturity. Under
	// actual/actual its fraction is taken within NotionalStart–End.
	Regular       bool
	NotionalStart time.Time
}

// Schedule lists the coupon periods of an issue paying frequency coupons
// a year (1, 2, 4 or 12) from circulationStart to maturity.
//
// Dates are counted back from maturity in steps of 12/frequency months,
// each computed from maturity itself rather than from the previous date,
// so a short month does not shorten every later one. End-of-month rule: if
// maturity is the last day of its month, every coupon date is the last
// day of its month; otherwise it keeps maturity's day, or the month's last
// day when the month is shorter (maturity on the 30th pays on 28 or 29
// February). Counting stops at circulationStart; if it does not fall on a
// counted date the first period is short, which is the usual case for an
// issue whose circulation starts after the nominal issue date.
func Schedule(circulationStart, maturity time.Time, frequency int, cal *Calendar) ([]Coupon, error) {
	if !validFrequency(frequency) {
		return nil, fmt.Errorf("coupon frequency %d is not 1, 2, 4 or 12 a year", frequency)
	}
	start := asDate(circulationStart)
	if civilDay(maturity) <= civilDay(start) {
		return nil, fmt.Errorf("maturity %s is not after circulation start %s", formatDate(maturity), formatDate(circulationStart))
	}
	step := 12 / frequency
	var ends []time.Time
	for k := 0; ; k++ {
		d := monthsBefore(maturity, k*step)
		if civilDay(d) <= civilDay(start) {
			break
		}
		ends = append(ends, d)
	}
	coupons := make([]Coupon, len(ends))
	for i := range ends {
		end := ends[len(ends)-1-i]
		notional := monthsBefore(maturity, (len(ends)-i)*step)
		periodStart := notional
		if i == 0 {
			periodStart = start
		}
		payment := cal.Following(end)
		coupons[i] = Coupon{
			Number:        i + 1,
			Start:         periodStart,
			End:           end,
			Payment:       payment,
			Record:        cal.PreviousBusinessDay(payment),
			Regular:       civilDay(periodStart) == civilDay(notional),
			NotionalStart: notional,
		}
	}
	return coupons, nil
}

// monthsBefore applies the end-of-month rule described at Schedule.
func monthsBefore(maturity time.Time, months int) time.Time {
	y, m, d := maturity.Date()
	endOfMonth := d == daysIn(y, m)
	first := time.Date(y, m-time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	ty, tm := first.Year(), first.Month()
	last := daysIn(ty, tm)
	if endOfMonth || d > last {
		d = last
	}
	return Date(ty, tm, d)
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Period is the coupon's period for Basis.Fraction: the notional regular
// period for a short first coupon.
func (c Coupon) Period(frequency int) Period {
	return Period{Start: c.NotionalStart, End: c.End, Frequency: frequency}
}

// CheckSchedule checks announced coupon dates against the schedule the
// issue's terms give. Each announced date may be the coupon date itself
// or its business-day adjustment, since notices print either.
func CheckSchedule(circulationStart, maturity time.Time, frequency int, cal *Calendar, announced []time.Time) error {
	want, err := Schedule(circulationStart, maturity, frequency, cal)
	if err != nil {
		return err
	}
	if len(announced) != len(want) {
		return fmt.Errorf("schedule has %d coupon dates; %d a year from %s to %s gives %d", len(announced), frequency, formatDate(circulationStart), formatDate(maturity), len(want))
	}
	for i, d := range announced {
		w := want[i]
		if day := civilDay(d); day != civilDay(w.End) && day != civilDay(w.Payment) {
			if civilDay(w.End) == civilDay(w.Payment) {
				return fmt.Errorf("coupon %d is dated %s, want %s", i+1, formatDate(d), formatDate(w.End))
			}
			return fmt.Errorf("coupon %d is dated %s, want %s or its payment date %s", i+1, formatDate(d), formatDate(w.End), formatDate(w.Payment))
		}
	}
	return nil
}
