package kase

import (
	"fmt"
	"regexp"
)

// isinShape is the schema's ISIN pattern; the check digit is what it cannot
// express.
var isinShape = regexp.MustCompile(`^KZ[A-Z0-9]{9}[0-9]$`)

// CheckISIN reports whether isin is a Kazakh ISIN whose last digit is its
// ISO 6166 check digit: letters become two digits (A=10 … Z=35) and the Luhn
// sum of the resulting digits, check digit included, is a multiple of ten.
// The schema checks the shape only; the adapter calls this before it
// announces an issue, so a typo in the depository's ISIN is caught here
// rather than by the exchange.
func CheckISIN(isin string) error {
	if !isinShape.MatchString(isin) {
		return fmt.Errorf("kase: ISIN %q is not KZ, nine letters or digits and a check digit", isin)
	}
	var digits []byte
	for i := 0; i < len(isin); i++ {
		c := isin[i]
		if c >= 'A' && c <= 'Z' {
			n := int(c-'A') + 10
			digits = append(digits, byte('0'+n/10), byte('0'+n%10))
			continue
		}
		digits = append(digits, c)
	}
	sum := 0
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if (len(digits)-1-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	if sum%10 != 0 {
		return fmt.Errorf("kase: ISIN %q fails its check digit", isin)
	}
	return nil
}
