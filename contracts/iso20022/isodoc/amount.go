package isodoc

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Amount is a non-negative money amount held exactly, as a count of
// 10^-5 units: ISO 20022 amounts are xs:decimal with at most 5 fraction
// digits and 18 digits in all, so every valid one fits in an int64.
//
// Not float64: 0.1 + 0.2 is not 0.3 in binary floating point, a total
// compared with the sum of its parts would fail for no reason, and Go would
// print one million as 1e+06, which is not an xs:decimal. Not a general
// decimal library either: parsing, adding, comparing and printing with a
// currency's minor units is all a payment needs, and the bounds above make
// overflow a checked, impossible case rather than a silent one.
type Amount int64

const scale = 100000 // 10^5

// maxAmount is the largest value with 18 digits in all (13 integer + 5
// fraction digits).
const maxAmount = Amount(999_999_999_999_999_999)

// ParseAmount reads a decimal such as "150000", "150000.5" or "0.01". No
// sign, exponent, grouping or surrounding space is accepted: each would be
// a guess about what the caller meant.
func ParseAmount(s string) (Amount, error) {
	if s == "" {
		return 0, errors.New("amount is empty")
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return 0, fmt.Errorf("amount %q is not a decimal number (digits, optionally a dot and more digits)", s)
	}
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			if part[i] < '0' || part[i] > '9' {
				return 0, fmt.Errorf("amount %q is not a decimal number (digits, optionally a dot and more digits)", s)
			}
		}
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > 5 {
		return 0, fmt.Errorf("amount %q has more than 5 fraction digits", s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 13 {
		return 0, fmt.Errorf("amount %q has more than 18 digits", s)
	}
	var v int64
	for i := 0; i < len(intPart); i++ {
		v = v*10 + int64(intPart[i]-'0')
	}
	v *= scale
	f := frac + strings.Repeat("0", 5-len(frac))
	var fv int64
	for i := 0; i < 5; i++ {
		fv = fv*10 + int64(f[i]-'0')
	}
	return Amount(v + fv), nil
}

// Decimals is the number of fraction digits the amount needs (0-5).
func (a Amount) Decimals() int {
	r := int64(a) % scale
	if r == 0 {
		return 0
	}
	n := 5
	for r%10 == 0 {
		r /= 10
		n--
	}
	return n
}

// Format prints the amount with exactly digits fraction digits (a
// currency's minor units). It panics if the amount needs more: callers
// check Decimals first, and printing a rounded amount would move money.
func (a Amount) Format(digits int) string {
	if digits < 0 || digits > 5 || a.Decimals() > digits {
		panic(fmt.Sprintf("isodoc: amount %s cannot be printed with %d fraction digits", a, digits))
	}
	ip, fp := int64(a)/scale, int64(a)%scale
	if digits == 0 {
		return fmt.Sprint(ip)
	}
	f := fmt.Sprintf("%05d", fp)[:digits]
	return fmt.Sprintf("%d.%s", ip, f)
}

// String prints the amount with as few fraction digits as it needs.
func (a Amount) String() string { return a.Format(a.Decimals()) }

// Add returns a+b, or an error if the sum no longer fits ISO 20022's 18
// digits.
func (a Amount) Add(b Amount) (Amount, error) {
	if a < 0 || b < 0 || int64(a) > math.MaxInt64-int64(b) || a+b > maxAmount {
		return 0, errors.New("sum exceeds 18 digits")
	}
	return a + b, nil
}

// minorUnits are ISO 4217 minor units that differ from 2, for currencies
// the treasury may meet; any other currency gets 2.
var minorUnits = map[string]int{
	"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "UGX": 0, "XOF": 0, "XAF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// MinorUnits is the number of fraction digits a currency allows
// (KZT: 2, tiyn).
func MinorUnits(ccy string) int {
	if n, ok := minorUnits[ccy]; ok {
		return n
	}
	return 2
}

// ValidCurrency reports whether ccy has the shape of an ISO 4217 code
// (ActiveCurrencyCode: three capital letters).
func ValidCurrency(ccy string) bool {
	if len(ccy) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if ccy[i] < 'A' || ccy[i] > 'Z' {
			return false
		}
	}
	return true
}
