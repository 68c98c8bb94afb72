package securities

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Amount is a non-negative sum of tenge held exactly as a count of tiyn
// (1/100 tenge). Never float64: coupons and placement totals are compared
// with the depository's to the tiyn, and binary floating point cannot hold
// 0.01. An int64 of tiyn reaches about 92 quadrillion tenge, far beyond any
// issue; products that could exceed it are computed in big.Rat and checked
// when they come back.
type Amount int64

// Percent is a non-negative percentage held exactly in units of 0.0001 %:
// the exchange quotes clean prices in % of par and coupon rates in % a
// year, both to four decimals.
type Percent int64

const (
	amountDecimals  = 2
	percentDecimals = 4
	percentScale    = 10_000
)

// ParseAmount reads a tenge amount such as "1000", "1000.5" or "1000.00":
// digits, optionally a dot and at most two more digits. Signs, exponents,
// grouping and spaces are refused rather than guessed at.
func ParseAmount(s string) (Amount, error) {
	v, err := parseFixed(s, amountDecimals)
	if err != nil {
		return 0, fmt.Errorf("amount %w", err)
	}
	return Amount(v), nil
}

// ParsePercent reads a percentage such as "98.1234" or "12.5" with at most
// four decimals; the value is in percent, so "100" is par.
func ParsePercent(s string) (Percent, error) {
	v, err := parseFixed(s, percentDecimals)
	if err != nil {
		return 0, fmt.Errorf("percentage %w", err)
	}
	return Percent(v), nil
}

func parseFixed(s string, decimals int) (int64, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return 0, fmt.Errorf("%q is not a decimal number (digits, optionally a dot and more digits)", s)
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, fmt.Errorf("%q is not a decimal number (digits, optionally a dot and more digits)", s)
			}
		}
	}
	if len(frac) > decimals {
		return 0, fmt.Errorf("%q has %d decimals, at most %d are allowed", s, len(frac), decimals)
	}
	digits := strings.TrimLeft(intPart, "0") + frac + strings.Repeat("0", decimals-len(frac))
	var v int64
	for i := 0; i < len(digits); i++ {
		d := int64(digits[i] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, fmt.Errorf("%q is too large", s)
		}
		v = v*10 + d
	}
	return v, nil
}

func formatFixed(v int64, decimals int) string {
	s := fmt.Sprintf("%0*d", decimals+1, v)
	return s[:len(s)-decimals] + "." + s[len(s)-decimals:]
}

// String writes the amount with exactly two decimals, e.g. "1000.00".
func (a Amount) String() string { return formatFixed(int64(a), amountDecimals) }

// Tiyn is the amount in tiyn.
func (a Amount) Tiyn() int64 { return int64(a) }

// Rat is the amount in tenge as an exact fraction.
func (a Amount) Rat() *big.Rat { return big.NewRat(int64(a), 100) }

// String writes the percentage with exactly four decimals, e.g. "98.5000".
func (p Percent) String() string { return formatFixed(int64(p), percentDecimals) }

// Rat is the percentage as a number of percent, e.g. 98.5 for "98.5000".
func (p Percent) Rat() *big.Rat { return big.NewRat(int64(p), percentScale) }

// Fraction is the percentage as a fraction of one, e.g. 0.985 for 98.5 %.
func (p Percent) Fraction() *big.Rat { return big.NewRat(int64(p), 100*percentScale) }

var errNegative = errors.New("is negative")

// RoundAmount rounds an exact tenge value to the tiyn, half up (0.005
// tenge becomes 0.01): the one rounding a payment computation makes, at
// its end.
func RoundAmount(tenge *big.Rat) (Amount, error) {
	v, err := roundHalfUp(tenge, 100)
	if err != nil {
		return 0, fmt.Errorf("amount %s tenge %w", tenge.FloatString(4), err)
	}
	return Amount(v), nil
}

// RoundPercent rounds an exact number of percent to four decimals, half up.
func RoundPercent(percent *big.Rat) (Percent, error) {
	v, err := roundHalfUp(percent, percentScale)
	if err != nil {
		return 0, fmt.Errorf("percentage %s %w", percent.FloatString(6), err)
	}
	return Percent(v), nil
}

// roundHalfUp returns round(r × scale) with halves away from zero; r must
// not be negative, so away from zero is up.
func roundHalfUp(r *big.Rat, scale int64) (int64, error) {
	if r.Sign() < 0 {
		return 0, errNegative
	}
	scaled := new(big.Rat).Mul(r, big.NewRat(scale, 1))
	twice := new(big.Int).Mul(scaled.Num(), big.NewInt(2))
	twice.Add(twice, scaled.Denom())
	q := twice.Quo(twice, new(big.Int).Mul(scaled.Denom(), big.NewInt(2)))
	if !q.IsInt64() {
		return 0, errors.New("is too large")
	}
	return q.Int64(), nil
}

// Total is the face value of units securities, failing rather than
// overflowing.
func (a Amount) Total(units int64) (Amount, error) {
	if units < 0 {
		return 0, fmt.Errorf("%d units %w", units, errNegative)
	}
	if units != 0 && int64(a) > math.MaxInt64/units {
		return 0, fmt.Errorf("%s tenge × %d units is too large", a, units)
	}
	return Amount(int64(a) * units), nil
}

// UnitsForVolume is how many whole securities of the given face value a
// volume in tenge buys, rounded down: the exchange announces volumes in
// money, the auction allocates whole securities.
func UnitsForVolume(volume, face Amount) (int64, error) {
	if face <= 0 {
		return 0, fmt.Errorf("face value %s is not positive", face)
	}
	return int64(volume) / int64(face), nil
}

// Consideration is what a buyer pays for units securities at a price in %
// of face value, rounded half up to the tiyn once, on the total (not per
// security).
func Consideration(face Amount, price Percent, units int64) (Amount, error) {
	total := new(big.Rat).Mul(face.Rat(), price.Fraction())
	total.Mul(total, new(big.Rat).SetInt64(units))
	return RoundAmount(total)
}
