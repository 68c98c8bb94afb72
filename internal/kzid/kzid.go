// Package kzid validates Kazakhstan's 12-digit identifiers: the IIN of a
// person and the BIN of a legal entity. Both end in the same check digit.
//
// The bus rejects a malformed identifier before it reaches an agency: a bad
// IIN sent to GBD FL costs a SHEP round trip and comes back as an opaque
// fault, while here the caller gets a message saying which digit is wrong.
package kzid

import (
	"fmt"
	"time"
)

var (
	weights1 = [11]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	weights2 = [11]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
)

// CheckDigit computes the check digit of the first 11 digits. ok is false
// when first11 is not 11 ASCII digits or when both weight rounds give 10:
// such numbers are never issued.
func CheckDigit(first11 string) (digit int, ok bool) {
	if len(first11) != 11 {
		return 0, false
	}
	for i := 0; i < 11; i++ {
		if first11[i] < '0' || first11[i] > '9' {
			return 0, false
		}
	}
	sum := func(w *[11]int) int {
		s := 0
		for i := 0; i < 11; i++ {
			s += int(first11[i]-'0') * w[i]
		}
		return s % 11
	}
	if d := sum(&weights1); d != 10 {
		return d, true
	}
	if d := sum(&weights2); d != 10 {
		return d, true
	}
	return 0, false
}

// ValidateIIN checks an individual identification number: YYMMDD birth date,
// century/sex digit 1-6, 4-digit serial, check digit.
func ValidateIIN(s string) error {
	if err := shape("IIN", s); err != nil {
		return err
	}
	if _, err := iinDate(s); err != nil {
		return err
	}
	return checkDigit("IIN", s)
}

// IINBirthDate returns the birth date encoded in an IIN (UTC midnight),
// after validating the whole number.
func IINBirthDate(s string) (time.Time, error) {
	if err := ValidateIIN(s); err != nil {
		return time.Time{}, err
	}
	return iinDate(s)
}

// IINFemale reports whether the century/sex digit of a valid IIN is even
// (2, 4, 6 are women born in the 19th, 20th, 21st century).
func IINFemale(s string) bool {
	return len(s) == 12 && (s[6]-'0')%2 == 0
}

// ValidateBIN checks a business identification number: YYMM registration
// month, type digit 4-6 (resident entity, non-resident, individual
// entrepreneur), attribute digit 0-3, 5-digit serial, check digit.
func ValidateBIN(s string) error {
	if err := shape("BIN", s); err != nil {
		return err
	}
	if m := num(s[2:4]); m < 1 || m > 12 {
		return fmt.Errorf("BIN month %02d is not a month", m)
	}
	if t := s[4]; t < '4' || t > '6' {
		return fmt.Errorf("BIN type digit %c is not 4-6", t)
	}
	if a := s[5]; a > '3' {
		return fmt.Errorf("BIN attribute digit %c is not 0-3", a)
	}
	return checkDigit("BIN", s)
}

func shape(kind, s string) error {
	if len(s) != 12 {
		return fmt.Errorf("%s must be 12 digits, got %d", kind, len([]rune(s)))
	}
	for i := 0; i < 12; i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("%s must be 12 digits, found %q at position %d", kind, s[i], i+1)
		}
	}
	return nil
}

func iinDate(s string) (time.Time, error) {
	c := s[6]
	if c < '1' || c > '6' {
		return time.Time{}, fmt.Errorf("IIN century/sex digit %c is not 1-6", c)
	}
	year := 1800 + 100*int((c-'1')/2) + num(s[0:2])
	month, day := num(s[2:4]), num(s[4:6])
	if month < 1 || month > 12 {
		return time.Time{}, fmt.Errorf("IIN month %02d is not a month", month)
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if day < 1 || t.Day() != day {
		return time.Time{}, fmt.Errorf("IIN birth date %04d-%02d-%02d is not a calendar date", year, month, day)
	}
	return t, nil
}

func checkDigit(kind, s string) error {
	want, ok := CheckDigit(s[:11])
	if !ok {
		return fmt.Errorf("%s has no valid check digit: both weightings give 10", kind)
	}
	if got := int(s[11] - '0'); got != want {
		return fmt.Errorf("%s check digit is %d, expected %d", kind, got, want)
	}
	return nil
}

// num parses a run of ASCII digits already checked by shape.
func num(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}
