package securities

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

func d(y int, m time.Month, day int) time.Time { return Date(y, m, day) }

// The 30E/360 (Eurobond basis) examples of ISDA's spreadsheet accompanying
// the 2006 ISDA Definitions (§4.16(g)).
func TestThirty360ISDAExamples(t *testing.T) {
	tests := []struct {
		start, end time.Time
		days       int64
	}{
		{d(2007, 1, 15), d(2007, 1, 30), 15},
		{d(2007, 1, 15), d(2007, 2, 15), 30},
		{d(2007, 1, 15), d(2007, 7, 15), 180},
		{d(2007, 9, 30), d(2008, 3, 31), 180},
		{d(2007, 9, 30), d(2007, 10, 31), 30},
		{d(2007, 9, 30), d(2008, 9, 30), 360},
		{d(2007, 1, 15), d(2007, 1, 31), 15},
		{d(2007, 1, 31), d(2007, 2, 28), 28},
		{d(2007, 2, 28), d(2007, 3, 31), 32},
		{d(2006, 8, 31), d(2007, 2, 28), 178},
		{d(2007, 2, 28), d(2007, 8, 31), 182},
		{d(2007, 2, 14), d(2007, 2, 28), 14},
		{d(2007, 2, 26), d(2008, 2, 29), 363},
		{d(2008, 2, 29), d(2009, 2, 28), 359},
		{d(2008, 2, 29), d(2008, 3, 30), 31},
		{d(2008, 2, 29), d(2008, 3, 31), 31},
		{d(2007, 2, 28), d(2007, 3, 5), 7},
		{d(2007, 10, 31), d(2007, 11, 28), 28},
		{d(2007, 8, 31), d(2008, 2, 29), 179},
		{d(2008, 2, 29), d(2008, 8, 31), 181},
		{d(2008, 8, 31), d(2009, 2, 28), 178},
		{d(2009, 2, 28), d(2009, 8, 31), 182},
	}
	for _, tt := range tests {
		t.Run(formatDate(tt.start)+"_"+formatDate(tt.end), func(t *testing.T) {
			got, err := Thirty360.Fraction(tt.start, tt.end, Period{})
			if err != nil {
				t.Fatal(err)
			}
			if want := big.NewRat(tt.days, 360); got.Cmp(want) != 0 {
				t.Fatalf("30E/360 = %s, want %s", got.RatString(), want.RatString())
			}
		})
	}
}

func TestActualActualICMA(t *testing.T) {
	tests := []struct {
		name       string
		start, end time.Time
		period     Period
		want       *big.Rat
	}{
		// ISDA's "EMU and market conventions" (1998) examples, ICMA column:
		// a regular semi-annual period accrues exactly half a year although
		// it has 182 days in a leap year...
		{"regular semi-annual", d(2003, 11, 1), d(2004, 5, 1),
			Period{d(2003, 11, 1), d(2004, 5, 1), 2}, big.NewRat(1, 2)},
		// ...and a short first annual period counts within its notional
		// period 1 Jul 1998 – 1 Jul 1999: 150/365 = 0.41095890.
		{"short first annual", d(1999, 2, 1), d(1999, 7, 1),
			Period{d(1998, 7, 1), d(1999, 7, 1), 1}, big.NewRat(150, 365)},
		{"part of a period", d(2003, 11, 1), d(2004, 2, 10),
			Period{d(2003, 11, 1), d(2004, 5, 1), 2}, big.NewRat(101, 364)},
		{"quarterly", d(2025, 1, 15), d(2025, 4, 15),
			Period{d(2025, 1, 15), d(2025, 4, 15), 4}, big.NewRat(1, 4)},
		{"zero days", d(2025, 1, 15), d(2025, 1, 15),
			Period{d(2025, 1, 15), d(2025, 4, 15), 4}, new(big.Rat)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ActualActualICMA.Fraction(tt.start, tt.end, tt.period)
			if err != nil {
				t.Fatal(err)
			}
			if got.Cmp(tt.want) != 0 {
				t.Fatalf("fraction = %s, want %s", got.RatString(), tt.want.RatString())
			}
		})
	}
}

func TestFractionRejects(t *testing.T) {
	period := Period{d(2025, 1, 15), d(2025, 7, 15), 2}
	tests := []struct {
		name       string
		basis      Basis
		start, end time.Time
		period     Period
		wantErr    string
	}{
		{"end before start", Actual365Fixed, d(2025, 2, 1), d(2025, 1, 1), Period{}, "is before its start"},
		{"no frequency", ActualActualICMA, d(2025, 2, 1), d(2025, 3, 1), Period{d(2025, 1, 15), d(2025, 7, 15), 0}, "needs the coupon frequency"},
		{"frequency 3", ActualActualICMA, d(2025, 2, 1), d(2025, 3, 1), Period{d(2025, 1, 15), d(2025, 7, 15), 3}, "3 is not 1, 2, 4 or 12"},
		{"outside period", ActualActualICMA, d(2025, 1, 1), d(2025, 3, 1), period, "outside its coupon period"},
		{"empty period", ActualActualICMA, d(2025, 1, 15), d(2025, 1, 15), Period{d(2025, 1, 15), d(2025, 1, 15), 2}, "is empty"},
		{"no basis", Basis(0), d(2025, 1, 1), d(2025, 3, 1), Period{}, "is not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.basis.Fraction(tt.start, tt.end, tt.period)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestActual365Fixed(t *testing.T) {
	tests := []struct {
		start, end time.Time
		days       int64
	}{
		{d(2007, 1, 15), d(2007, 7, 15), 181},
		{d(2007, 9, 30), d(2008, 3, 31), 183},
		{d(2008, 1, 1), d(2009, 1, 1), 366},
		// Times of day and zones do not matter, only calendar dates.
		{time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC), time.Date(2025, 3, 2, 0, 1, 0, 0, Astana), 1},
	}
	for _, tt := range tests {
		got, err := Actual365Fixed.Fraction(tt.start, tt.end, Period{})
		if err != nil {
			t.Fatal(err)
		}
		if want := big.NewRat(tt.days, 365); got.Cmp(want) != 0 {
			t.Errorf("%s–%s: actual/365 = %s, want %s", tt.start, tt.end, got.RatString(), want.RatString())
		}
	}
}

func TestParseBasis(t *testing.T) {
	tests := []struct {
		in   string
		want Basis
	}{
		{"actual / actual", ActualActualICMA},
		{"actual/actual", ActualActualICMA},
		{"30 / 360", Thirty360},
		{"actual / 365", Actual365Fixed},
	}
	for _, tt := range tests {
		if got, err := ParseBasis(tt.in); err != nil || got != tt.want {
			t.Errorf("ParseBasis(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseBasis("actual/360"); err == nil {
		t.Error("ParseBasis accepted actual/360")
	}
}

func TestCouponAmount(t *testing.T) {
	pct := func(s string) Percent {
		p, err := ParsePercent(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name     string
		face     Amount
		rate     Percent
		fraction *big.Rat
		want     string
	}{
		{"MEUKAM semi-annual full period", MEUKAM.FaceValue(), pct("12.5"), big.NewRat(1, 2), "62.50"},
		{"0.35 % semi-annual on 30/360", MEOKAM.FaceValue(), pct("0.35"), big.NewRat(180, 360), "1.75"},
		{"actual/365, 31 days: 8.4082… rounds up", MEOKAM.FaceValue(), pct("9.9"), big.NewRat(31, 365), "8.41"},
		{"actual/actual part period: 34.2540…", MEOKAM.FaceValue(), pct("12.345"), big.NewRat(101, 364), "34.25"},
		{"exactly half a tiyn rounds up", MEKKAM.FaceValue(), pct("0.01"), big.NewRat(1, 2), "0.01"},
		{"just under half a tiyn rounds down", MEKKAM.FaceValue(), pct("0.01"), big.NewRat(49, 100), "0.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CouponAmount(tt.face, tt.rate, tt.fraction)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Fatalf("CouponAmount = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestDiscountYield(t *testing.T) {
	tests := []struct {
		price      string
		settlement time.Time
		maturity   time.Time
		want       string
	}{
		// (100 − 95) / 95 × 365 / 365 = 5.263157…%
		{"95", d(2025, 3, 13), d(2026, 3, 13), "5.2632"},
		// (100 − 98) / 98 × 365 / 91 = 8.18569…%
		{"98", d(2025, 1, 1), d(2025, 4, 2), "8.1857"},
		{"100", d(2025, 1, 1), d(2025, 4, 2), "0.0000"},
	}
	for _, tt := range tests {
		p, _ := ParsePercent(tt.price)
		got, err := DiscountYield(p, tt.settlement, tt.maturity)
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != tt.want {
			t.Errorf("DiscountYield(%s) = %s, want %s", tt.price, got, tt.want)
		}
	}
	p, _ := ParsePercent("101")
	if _, err := DiscountYield(p, d(2025, 1, 1), d(2025, 4, 2)); err == nil {
		t.Error("a price above par gave a yield")
	}
	if _, err := DiscountYield(p, d(2025, 4, 2), d(2025, 4, 2)); err == nil {
		t.Error("settlement on maturity gave a yield")
	}
}
