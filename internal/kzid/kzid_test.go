package kzid

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// withCheck completes 11 digits with their check digit, so tests can build
// valid numbers for any date without hard-coding real people's IINs.
func withCheck(t testing.TB, first11 string) string {
	t.Helper()
	d, ok := CheckDigit(first11)
	if !ok {
		t.Fatalf("%s has no check digit", first11)
	}
	return first11 + strconv.Itoa(d)
}

func TestSampleIIN(t *testing.T) {
	// The IIN in shared/samples/shep_sync_sendmessage_gbdfl_request.xml.
	const iin = "931002451325"
	if err := ValidateIIN(iin); err != nil {
		t.Fatalf("sample IIN rejected: %v", err)
	}
	d, err := IINBirthDate(iin)
	if err != nil || !d.Equal(time.Date(1993, 10, 2, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("birth date = %v, %v", d, err)
	}
	if !IINFemale(iin) {
		t.Fatal("digit 4 is a woman born in the 1900s")
	}
}

func TestValidateIIN(t *testing.T) {
	valid := []string{
		withCheck(t, "93100245132"),
		withCheck(t, "00022950001"), // 2000-02-29, leap year
		withCheck(t, "99123110001"), // 1899-12-31
		withCheck(t, "24010160001"), // 2024-01-01
	}
	for _, s := range valid {
		if err := ValidateIIN(s); err != nil {
			t.Errorf("ValidateIIN(%s) = %v", s, err)
		}
	}
	good := withCheck(t, "93100245132")
	wrong := good[:11] + strconv.Itoa((int(good[11]-'0')+1)%10)
	cases := []struct{ in, want string }{
		{"93100245132", "IIN must be 12 digits, got 11"},
		{"9310024513255", "IIN must be 12 digits, got 13"},
		{"", "IIN must be 12 digits, got 0"},
		{"93100245132a", `IIN must be 12 digits, found 'a' at position 12`},
		{"93130245132" + "0", "IIN month 13 is not a month"},
		{"93000245132" + "0", "IIN month 00 is not a month"},
		{"93023045132" + "0", "IIN birth date 1993-02-30 is not a calendar date"},
		{"01022950001" + "0", "IIN birth date 2001-02-29 is not a calendar date"},
		{"93100045132" + "0", "IIN birth date 1993-10-00 is not a calendar date"},
		{"93100205132" + "0", "IIN century/sex digit 0 is not 1-6"},
		{"93100275132" + "0", "IIN century/sex digit 7 is not 1-6"},
		{wrong, "IIN check digit is " + wrong[11:] + ", expected " + good[11:]},
	}
	for _, c := range cases {
		err := ValidateIIN(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("ValidateIIN(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestCheckDigitSecondRound(t *testing.T) {
	// Find numbers where the first weighting gives 10, to cover the second
	// round and the never-issued case.
	second, none := false, false
	for n := 0; n < 200000 && !(second && none); n++ {
		s := "9001014" + leftPad(n, 4)
		s1 := 0
		for i := 0; i < 11; i++ {
			s1 += int(s[i]-'0') * weights1[i]
		}
		if s1%11 != 10 {
			continue
		}
		d, ok := CheckDigit(s)
		if ok {
			second = true
			if err := ValidateIIN(s + strconv.Itoa(d)); err != nil {
				t.Fatalf("second-round IIN %s%d rejected: %v", s, d, err)
			}
			continue
		}
		none = true
		for d := 0; d < 10; d++ {
			err := ValidateIIN(s + strconv.Itoa(d))
			if err == nil || !strings.Contains(err.Error(), "no valid check digit") {
				t.Fatalf("never-issued %s%d: %v", s, d, err)
			}
		}
	}
	if !second || !none {
		t.Fatalf("did not reach both cases: second=%v none=%v", second, none)
	}
}

func leftPad(n, w int) string {
	s := strconv.Itoa(n)
	return strings.Repeat("0", w-len(s)) + s
}

func TestValidateBIN(t *testing.T) {
	for _, s := range []string{withCheck(t, "08044000123"), withCheck(t, "19125300001"), withCheck(t, "21016100001")} {
		if err := ValidateBIN(s); err != nil {
			t.Errorf("ValidateBIN(%s) = %v", s, err)
		}
	}
	good := withCheck(t, "08044000123")
	wrong := good[:11] + strconv.Itoa((int(good[11]-'0')+1)%10)
	cases := []struct{ in, want string }{
		{"0804400012", "BIN must be 12 digits, got 10"},
		{"08134000123" + "0", "BIN month 13 is not a month"},
		{"08043000123" + "0", "BIN type digit 3 is not 4-6"},
		{"08047000123" + "0", "BIN type digit 7 is not 4-6"},
		{"08044400123" + "0", "BIN attribute digit 4 is not 0-3"},
		{wrong, "BIN check digit is " + wrong[11:] + ", expected " + good[11:]},
	}
	for _, c := range cases {
		err := ValidateBIN(c.in)
		if err == nil || err.Error() != c.want {
			t.Errorf("ValidateBIN(%q) = %v, want %q", c.in, err, c.want)
		}
	}
}

func TestIINBirthDateCenturies(t *testing.T) {
	for c, year := range map[string]int{"1": 1855, "2": 1855, "3": 1955, "4": 1955, "5": 2055, "6": 2055} {
		s := withCheck(t, "550101"+c+"0001")
		d, err := IINBirthDate(s)
		if err != nil || d.Year() != year {
			t.Errorf("%s: %v %v, want year %d", s, d, err, year)
		}
		if IINFemale(s) != (c == "2" || c == "4" || c == "6") {
			t.Errorf("%s: IINFemale wrong", s)
		}
	}
}

func FuzzValidateIIN(f *testing.F) {
	f.Add("931002451325")
	f.Add("000229500012")
	f.Add("")
	f.Add("99999999999999")
	f.Add("93100245132я")
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateIIN(s)
		if err != nil {
			if _, derr := IINBirthDate(s); derr == nil {
				t.Fatalf("IINBirthDate accepted %q that ValidateIIN rejected", s)
			}
			return
		}
		if len(s) != 12 {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
		d, ok := CheckDigit(s[:11])
		if !ok || int(s[11]-'0') != d {
			t.Fatalf("accepted %q with bad check digit", s)
		}
		bd, err := IINBirthDate(s)
		if err != nil || bd.Format("060102") != s[:6] {
			t.Fatalf("accepted %q but birth date %v, %v", s, bd, err)
		}
	})
}
