package securities

import (
	"strings"
	"testing"
	"time"
)

func TestTypeFacts(t *testing.T) {
	tests := []struct {
		typ         Type
		name        string
		face        string
		isinPrefix  string
		tradePrefix string
	}{
		{MEKKAM, "MEKKAM", "100.00", "KZK1", "MKM"},
		{MEOKAM, "MEOKAM", "1000.00", "KZK2", "MOM"},
		{MEUKAM, "MEUKAM", "1000.00", "KZKD", "MUM"},
		{MEUZHKAM, "MEUZHKAM", "1000.00", "KZKA", "MUJ"},
		{MEIKAM, "MEIKAM", "1000.00", "KZKB", "MIM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parsed, err := ParseType(tt.name)
			if err != nil || parsed != tt.typ {
				t.Fatalf("ParseType(%q) = %v, %v; want %v", tt.name, parsed, err, tt.typ)
			}
			if got := tt.typ.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			if got := tt.typ.FaceValue().String(); got != tt.face {
				t.Errorf("FaceValue() = %s, want %s", got, tt.face)
			}
			if got := tt.typ.ISINPrefix(); got != tt.isinPrefix {
				t.Errorf("ISINPrefix() = %s, want %s", got, tt.isinPrefix)
			}
			if got := tt.typ.TradeCodePrefix(); got != tt.tradePrefix {
				t.Errorf("TradeCodePrefix() = %s, want %s", got, tt.tradePrefix)
			}
		})
	}
	if _, err := ParseType("MEKAM"); err == nil {
		t.Error("ParseType accepted MEKAM")
	}
	all := Types()
	if len(all) != len(tests) {
		t.Errorf("Types() lists %d instruments, want %d", len(all), len(tests))
	}
	all[0] = 0
	if Types()[0] != MEKKAM {
		t.Error("changing the slice Types returned changed the package's list")
	}
	if Type(0).Valid() {
		t.Error("the zero Type is valid")
	}
}

func TestParseTradeCode(t *testing.T) {
	tests := []struct {
		code    string
		want    TradeCode
		wantErr string
	}{
		{code: "MKM012_0161", want: TradeCode{MEKKAM, 12, 161}},
		{code: "MOM060_0055", want: TradeCode{MEOKAM, 60, 55}},
		{code: "MUM240_0001", want: TradeCode{MEUKAM, 240, 1}},
		{code: "MUJ120_0003", want: TradeCode{MEUZHKAM, 120, 3}},
		{code: "MIM084_0002", want: TradeCode{MEIKAM, 84, 2}},
		{code: "MKM12_0161", wantErr: "has 10 bytes, want 11"},
		{code: "TKK024_0088", wantErr: `prefix "TKK"`},
		// The exchange's notices sometimes print a Cyrillic К inside MKM.
		{code: "MКM012_0148", wantErr: "has 12 bytes"},
		{code: "MKM012-0161", wantErr: "character 7 is '-'"},
		{code: "MKM0A2_0161", wantErr: "character 5 is 'A', want a digit"},
		{code: "MKM012_01x1", wantErr: "character 10 is 'x'"},
		{code: "MKM000_0161", wantErr: "term is zero"},
		{code: "MKM012_0000", wantErr: "issue number is zero"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			got, err := ParseTradeCode(tt.code)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTradeCode(%q) error = %v, want one containing %q", tt.code, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("ParseTradeCode(%q) = %+v, want %+v", tt.code, got, tt.want)
			}
			if s := got.String(); s != tt.code {
				t.Errorf("String() = %q, want %q", s, tt.code)
			}
		})
	}
}

func TestCheckTradeCode(t *testing.T) {
	tests := []struct {
		code    string
		typ     Type
		term    int
		wantErr string
	}{
		{"MKM012_0161", MEKKAM, 12, ""},
		{"MKM003_0170", MEKKAM, 3, ""},
		{"MOM060_0055", MEOKAM, 60, ""},
		{"MOM024_0090", MEOKAM, 24, ""},
		{"MUM240_0001", MEUKAM, 240, ""},
		{"MUM240_0001", MEOKAM, 240, "is a MEUKAM code (prefix MUM), the issue is MEOKAM (prefix MOM)"},
		{"MKM012_0161", MEKKAM, 6, "has a term of 12 months, the issue's term is 6 months"},
		{"MKM024_0161", MEKKAM, 24, "a MEKKAM has a term of 1 to 12 months, not 24"},
		{"MOM012_0055", MEOKAM, 12, "a MEOKAM has a term of 13 to 60 months, not 12"},
		{"MUM060_0001", MEUKAM, 60, "a MEUKAM has a term of 61 to 360 months, not 60"},
		{"MKM012_0161", Type(9), 12, "not a government security type"},
	}
	for _, tt := range tests {
		t.Run(tt.code+"/"+tt.typ.String(), func(t *testing.T) {
			err := CheckTradeCode(tt.code, tt.typ, tt.term)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckTradeCode: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckTradeCode error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// A term counts whole months: a day short of the month's anniversary is
// one month less.
func TestTermMonths(t *testing.T) {
	for _, c := range []struct {
		start, maturity string
		want            int
	}{
		{"2026-12-03", "2036-12-03", 120},
		{"2026-12-10", "2031-12-10", 60},
		{"2026-12-10", "2031-12-09", 59},
		{"2026-01-31", "2026-02-28", 0},
		{"2026-01-15", "2027-01-16", 12},
	} {
		s, _ := time.Parse("2006-01-02", c.start)
		m, _ := time.Parse("2006-01-02", c.maturity)
		if got := TermMonths(s, m); got != c.want {
			t.Errorf("%s to %s: %d months, want %d", c.start, c.maturity, got, c.want)
		}
	}
}
