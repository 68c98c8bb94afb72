package securities

import (
	"fmt"
	"math/big"
	"time"
)

// Basis is a day-count convention: how a span of dates becomes a fraction
// of a year.
type Basis int

// The exchange's announcements name three bases: "actual / actual",
// "30 / 360" and "actual / 365". The zero Basis is none of them.
const (
	// ActualActualICMA is actual/actual as ICMA Rule 251 defines it:
	// actual days accrued divided by the coupon frequency times the
	// actual days of the coupon period. Chosen over
	// actual/actual ISDA because the notices attach the basis to a coupon
	// schedule, and under ICMA every full regular period pays exactly
	// rate/frequency, which is what a holder is promised.
	ActualActualICMA Basis = iota + 1
	// Thirty360 is 30E/360 (the Eurobond basis, ISDA 2006 §4.16(g),
	// ICMA's 30/360): a day 31 counts as 30 at either end. Chosen over
	// the US bond basis and 30E/360 ISDA because it needs nothing but the
	// two dates — neither whether the end is the maturity date nor the
	// other end's day — so the bus and the mock depository cannot differ
	// on context.
	Thirty360
	// Actual365Fixed is actual days divided by 365, leap year or not.
	Actual365Fixed
)

func (b Basis) String() string {
	switch b {
	case ActualActualICMA:
		return "actual/actual"
	case Thirty360:
		return "30/360"
	case Actual365Fixed:
		return "actual/365"
	}
	return fmt.Sprintf("Basis(%d)", int(b))
}

// ParseBasis reads the basis as the exchange writes it, with or without
// spaces around the slash: "actual / actual", "30/360", "actual / 365".
func ParseBasis(s string) (Basis, error) {
	compact := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			compact = append(compact, s[i])
		}
	}
	switch string(compact) {
	case "actual/actual":
		return ActualActualICMA, nil
	case "30/360":
		return Thirty360, nil
	case "actual/365":
		return Actual365Fixed, nil
	}
	return 0, fmt.Errorf("day basis %q is not actual/actual, 30/360 or actual/365", s)
}

// Period is the coupon period an accrual falls in. Only actual/actual
// reads it; for a first or last period shorter than regular, pass the
// notional regular period that contains it (ICMA's rule), e.g. the period
// ending on the first coupon date and starting one regular step earlier.
type Period struct {
	Start, End time.Time
	Frequency  int
}

// Fraction is the year fraction from start to end under the basis,
// exactly. Dates are calendar dates: only the year, month and day of each
// time in its own location are read.
func (b Basis) Fraction(start, end time.Time, p Period) (*big.Rat, error) {
	s, e := civilDay(start), civilDay(end)
	if e < s {
		return nil, fmt.Errorf("accrual end %s is before its start %s", formatDate(end), formatDate(start))
	}
	switch b {
	case Actual365Fixed:
		return big.NewRat(e-s, 365), nil
	case Thirty360:
		return big.NewRat(days30E360(start, end), 360), nil
	case ActualActualICMA:
		if !validFrequency(p.Frequency) {
			return nil, fmt.Errorf("actual/actual needs the coupon frequency; %d is not 1, 2, 4 or 12", p.Frequency)
		}
		ps, pe := civilDay(p.Start), civilDay(p.End)
		if pe <= ps {
			return nil, fmt.Errorf("coupon period %s–%s is empty", formatDate(p.Start), formatDate(p.End))
		}
		if s < ps || e > pe {
			return nil, fmt.Errorf("accrual %s–%s lies outside its coupon period %s–%s", formatDate(start), formatDate(end), formatDate(p.Start), formatDate(p.End))
		}
		return big.NewRat(e-s, int64(p.Frequency)*(pe-ps)), nil
	}
	return nil, fmt.Errorf("day basis %v is not one of actual/actual, 30/360, actual/365", b)
}

func days30E360(start, end time.Time) int64 {
	y1, m1, d1 := start.Date()
	y2, m2, d2 := end.Date()
	d1 = min(d1, 30)
	d2 = min(d2, 30)
	return int64(360*(y2-y1) + 30*(int(m2)-int(m1)) + (d2 - d1))
}

// CouponAmount is the coupon on one security: face value × annual rate ×
// year fraction, computed exactly and rounded half up to the tiyn once at
// the end, so no intermediate rounding can make the bus and the
// depository disagree by a tiyn.
func CouponAmount(face Amount, rate Percent, fraction *big.Rat) (Amount, error) {
	v := new(big.Rat).Mul(face.Rat(), rate.Fraction())
	v.Mul(v, fraction)
	return RoundAmount(v)
}

func validFrequency(f int) bool { return f == 1 || f == 2 || f == 4 || f == 12 }

// civilDay numbers a calendar date (read in its own location) as days
// since 1970-01-01, so differences are whole days regardless of zones.
func civilDay(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func formatDate(t time.Time) string { return t.Format(time.DateOnly) }

// DiscountYield is the simple annual yield of a discount note (MEKKAM)
// bought at a clean price in % of face value on settlement and redeemed
// at par on maturity: (100 − price) / price × 365 / days, in % a year,
// rounded half up to four decimals. The exchange publishes yields but not
// its formula; actual days over a 365-day year is Köpir's assumption.
// Coupon bonds need a yield to maturity over their cash flows, which this
// package does not compute.
func DiscountYield(price Percent, settlement, maturity time.Time) (Percent, error) {
	if price <= 0 {
		return 0, fmt.Errorf("price %s is not positive", price)
	}
	days := civilDay(maturity) - civilDay(settlement)
	if days <= 0 {
		return 0, fmt.Errorf("maturity %s is not after settlement %s", formatDate(maturity), formatDate(settlement))
	}
	hundred := big.NewRat(100, 1)
	y := new(big.Rat).Sub(hundred, price.Rat())
	y.Quo(y, price.Rat())
	y.Mul(y, big.NewRat(365*100, days))
	if y.Sign() < 0 {
		return 0, fmt.Errorf("price %s above par gives a negative yield, which a percentage here cannot hold", price)
	}
	return RoundPercent(y)
}
