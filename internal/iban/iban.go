// Package iban checks the account, bank and payment codes of a payment
// before it is put into an ISO 20022 message: IBAN (ISO 13616, with
// Kazakhstan's 20-character format), BIC (ISO 9362) and Kazakhstan's
// payment codes KNP, KOd/KBe and the budget classification code.
//
// The payment system would reject a wrong one too, but only after the
// message has left the ministry and a day of clearing has passed; a caller
// told at once which field is wrong can fix it while the payment is still
// theirs.
package iban

import (
	"errors"
	"fmt"
	"strings"
)

// lengths of the IBAN of countries whose format is fixed in the SWIFT IBAN
// registry, for the countries the treasury pays to most. Another country's
// IBAN is checked for shape and check digits only.
var lengths = map[string]int{
	"KZ": 20, "AT": 20, "AE": 23, "AZ": 28, "BE": 16, "BG": 22, "BY": 28, "CH": 21,
	"CY": 28, "CZ": 24, "DE": 22, "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27,
	"GB": 22, "GE": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22, "IT": 27, "LT": 20,
	"LU": 20, "LV": 21, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
	"SA": 24, "SE": 24, "SI": 19, "SK": 24, "TR": 26, "UA": 29,
}

// ValidateIBAN checks an IBAN in electronic form (no spaces, upper case):
// country, length, Kazakhstan's BBAN (3!n13!c: a 3-digit bank code and 13
// letters or digits) and the ISO 7064 mod 97-10 check digits.
func ValidateIBAN(s string) error {
	if len(s) < 15 || len(s) > 34 {
		return fmt.Errorf("IBAN must be 15 to 34 characters, got %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i < 2 && (c < 'A' || c > 'Z'):
			return errors.New("IBAN must start with a two-letter country code in upper case")
		case i >= 2 && i < 4 && (c < '0' || c > '9'):
			return errors.New("IBAN check digits (characters 3-4) must be digits")
		case !isUpperAlnum(c):
			return fmt.Errorf("IBAN may only contain A-Z and 0-9, got %q at position %d", c, i+1)
		}
	}
	country := s[:2]
	if n, ok := lengths[country]; ok && len(s) != n {
		return fmt.Errorf("%s IBAN must be %d characters, got %d", country, n, len(s))
	}
	if country == "KZ" {
		for i := 4; i < 7; i++ {
			if s[i] < '0' || s[i] > '9' {
				return errors.New("KZ IBAN bank code (characters 5-7) must be digits")
			}
		}
	}
	if mod97(s[4:]+s[:4]) != 1 {
		return errors.New("IBAN check digits do not match (ISO 7064 mod 97-10)")
	}
	return nil
}

// CheckDigits computes the two check digits of an IBAN for country and bban,
// e.g. to build test accounts.
func CheckDigits(country, bban string) string {
	r := mod97(bban + country + "00")
	return fmt.Sprintf("%02d", 98-r)
}

// mod97 reduces the IBAN's numeric form (letters as 10..35) modulo 97
// digit by digit, so no big integer is needed.
func mod97(s string) int {
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			v := int(c-'A') + 10
			r = (r*100 + v) % 97
		} else {
			r = (r*10 + int(c-'0')) % 97
		}
	}
	return r
}

func isUpperAlnum(c byte) bool { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') }

// ValidateBIC checks a BIC (ISO 9362) as ISO 20022 writes it
// (BICFIDec2014Identifier): 4 letters or digits for the party, a 2-letter
// country, 2 letters or digits for the location and an optional 3-character
// branch code — 8 or 11 characters, upper case.
func ValidateBIC(s string) error {
	if len(s) != 8 && len(s) != 11 {
		return fmt.Errorf("BIC must be 8 or 11 characters, got %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i >= 4 && i < 6 {
			if c < 'A' || c > 'Z' {
				return errors.New("BIC characters 5-6 must be a country code (A-Z)")
			}
			continue
		}
		if !isUpperAlnum(c) {
			return fmt.Errorf("BIC may only contain A-Z and 0-9, got %q at position %d", c, i+1)
		}
	}
	return nil
}

// ValidateKNP checks a payment purpose code (KNP, код назначения платежа):
// three digits.
func ValidateKNP(s string) error {
	if len(s) != 3 || !digits(s) {
		return fmt.Errorf("KNP must be 3 digits, got %q", s)
	}
	return nil
}

// ValidateSectorCode checks a KOd (originator) or KBe (beneficiary) code:
// two digits, the first 1 for a resident or 2 for a non-resident, the
// second the economic sector 1-9.
func ValidateSectorCode(s string) error {
	switch {
	case len(s) != 2 || !digits(s):
		return fmt.Errorf("must be 2 digits, got %q", s)
	case s[0] != '1' && s[0] != '2':
		return fmt.Errorf("first digit must be 1 (resident) or 2 (non-resident), got %q", s)
	case s[1] == '0':
		return fmt.Errorf("second digit is the economic sector 1-9, got %q", s)
	}
	return nil
}

// ValidateKBK checks a budget classification code (KBK, код бюджетной
// классификации) of the budget revenue classification: six digits.
func ValidateKBK(s string) error {
	if len(s) != 6 || !digits(s) {
		return fmt.Errorf("KBK must be 6 digits, got %q", s)
	}
	return nil
}

func digits(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0
}
