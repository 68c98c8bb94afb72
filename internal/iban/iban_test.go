package iban

import (
	"strings"
	"testing"
)

func TestValidateIBAN(t *testing.T) {
	for _, ok := range []string{
		"KZ86125KZT5004100100", // the registry's example for Kazakhstan
		"KZ77070105KZT0000001",
		"DE89370400440532013000",
		"GB82WEST12345698765432",
		"XK051212012345678906", // a country not in the length table: shape and check digits only
	} {
		if err := ValidateIBAN(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for in, want := range map[string]string{
		"KZ87125KZT5004100100":   "check digits",
		"KZ86125KZT500410010":    "must be 20 characters",
		"KZ86125KZT50041001000":  "must be 20 characters",
		"KZ8612AKZT5004100100":   "bank code",
		"kz86125KZT5004100100":   "country code",
		"KZ86125kzt5004100100":   "A-Z and 0-9",
		"KZ86 125KZT500410010":   "A-Z and 0-9",
		"KZX6125KZT5004100100":   "check digits (characters 3-4)",
		"KZ86":                   "15 to 34",
		"DE89370400440532013001": "check digits",
	} {
		err := ValidateIBAN(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to mention %q", in, err, want)
		}
	}
}

func TestCheckDigitsBuildsValidIBANs(t *testing.T) {
	for _, bban := range []string{"125KZT5004100100", "070105KZT0000001", "601KZT0000123456"} {
		s := "KZ" + CheckDigits("KZ", bban) + bban
		if err := ValidateIBAN(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	if got := CheckDigits("KZ", "125KZT5004100100"); got != "86" {
		t.Errorf("CheckDigits = %s, want 86", got)
	}
}

func TestValidateBIC(t *testing.T) {
	for _, ok := range []string{"KKMFKZ2A", "HSBKKZKX", "HSBKKZKXXXX", "NBRKKZKX", "DEUTDEFF500", "1234KZ12"} {
		if err := ValidateBIC(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for in, want := range map[string]string{
		"KKMFKZ2":      "8 or 11",
		"KKMFKZ2AXX":   "8 or 11",
		"KKMF1Z2A":     "country",
		"kkmfkz2a":     "A-Z and 0-9",
		"KKMFKZ2A-XX":  "A-Z and 0-9",
		"KKMFKZ2AXXXX": "8 or 11",
	} {
		err := ValidateBIC(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to mention %q", in, err, want)
		}
	}
}

func TestKazakhstanPaymentCodes(t *testing.T) {
	if err := ValidateKNP("911"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"91", "9111", "91A", ""} {
		if ValidateKNP(bad) == nil {
			t.Errorf("KNP %q accepted", bad)
		}
	}
	for _, ok := range []string{"11", "19", "21", "29", "15"} {
		if err := ValidateSectorCode(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for in, want := range map[string]string{"31": "resident", "10": "sector", "1": "2 digits", "1A": "2 digits", "011": "2 digits"} {
		if err := ValidateSectorCode(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", in, err)
		}
	}
	if err := ValidateKBK("105102"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"10510", "1051020", "10510X"} {
		if ValidateKBK(bad) == nil {
			t.Errorf("KBK %q accepted", bad)
		}
	}
}
