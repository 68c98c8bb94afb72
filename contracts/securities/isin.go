package securities

import (
	"fmt"
	"strings"
)

// ISINCheckDigit computes the ISO 6166 check digit of an ISIN's first 11
// characters: each letter becomes two digits (A=10 … Z=35), then the Luhn
// mod-10 check is taken over the resulting digit string, doubling the
// rightmost digit. The body is not required to start with KZ, so the
// function can be checked against any published ISIN.
func ISINCheckDigit(body string) (byte, error) {
	if len(body) != 11 {
		return 0, fmt.Errorf("ISIN body %q has %d characters, want 11", body, len(body))
	}
	expanded := make([]byte, 0, 22)
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= '0' && c <= '9':
			expanded = append(expanded, c-'0')
		case c >= 'A' && c <= 'Z':
			v := c - 'A' + 10
			expanded = append(expanded, v/10, v%10)
		default:
			return 0, fmt.Errorf("ISIN body %q: character %d is %q, want a digit or an upper-case Latin letter", body, i+1, c)
		}
		if i < 2 && !(c >= 'A' && c <= 'Z') {
			return 0, fmt.Errorf("ISIN body %q: character %d is %q, the country code is two letters", body, i+1, c)
		}
	}
	sum := 0
	double := true
	for i := len(expanded) - 1; i >= 0; i-- {
		d := int(expanded[i])
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10), nil
}

// ValidateISIN checks that s is a Kazakh ISIN: KZ, nine digits or
// upper-case letters, and the right check digit. The error names the first
// thing wrong.
func ValidateISIN(s string) error {
	if len(s) != 12 {
		return fmt.Errorf("ISIN %q has %d characters, want 12", s, len(s))
	}
	if s[:2] != "KZ" {
		return fmt.Errorf("ISIN %q has country code %q, want KZ", s, s[:2])
	}
	for i := 2; i < 12; i++ {
		c := s[i]
		isDigit := c >= '0' && c <= '9'
		if i == 11 && !isDigit {
			return fmt.Errorf("ISIN %q: character 12 is %q, the check digit must be a digit", s, c)
		}
		if !isDigit && !(c >= 'A' && c <= 'Z') {
			return fmt.Errorf("ISIN %q: character %d is %q, want a digit or an upper-case Latin letter", s, i+1, c)
		}
	}
	want, err := ISINCheckDigit(s[:11])
	if err != nil {
		return err
	}
	if got := s[11]; got != want {
		return fmt.Errorf("ISIN %q: check digit is %c, want %c", s, got, want)
	}
	return nil
}

// ValidateISINForType checks the ISIN and that it starts with the type's
// prefix.
func ValidateISINForType(isin string, t Type) error {
	if !t.Valid() {
		return fmt.Errorf("ISIN %q checked against %v, which is not a government security type", isin, t)
	}
	if err := ValidateISIN(isin); err != nil {
		return err
	}
	if p := t.ISINPrefix(); !strings.HasPrefix(isin, p) {
		return fmt.Errorf("ISIN %q does not start with %s, the prefix of %v", isin, p, t)
	}
	return nil
}
