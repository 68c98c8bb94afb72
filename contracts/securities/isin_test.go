package securities

import (
	"strings"
	"testing"
)

func TestISINCheckDigit(t *testing.T) {
	tests := []struct {
		isin string
		note string
	}{
		{"US0378331005", "Apple, published"},
		{"AU0000XVGZA3", "letters in the body, published"},
		{"GB0002634946", "BAE Systems, published"},
		{"KZK100000241", "MEKKAM-12 issue 148, from the exchange's notice"},
		{"KZMJ00000883", "local government bond, from the exchange's notice"},
		{"KZ2C00007524", "corporate bond, from the exchange's notice"},
		{"KZKD00001236", "computed independently for a MEUKAM body"},
	}
	for _, tt := range tests {
		t.Run(tt.isin, func(t *testing.T) {
			got, err := ISINCheckDigit(tt.isin[:11])
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.isin[11]; got != want {
				t.Fatalf("ISINCheckDigit(%q) = %c, want %c (%s)", tt.isin[:11], got, want, tt.note)
			}
		})
	}
}

func TestISINCheckDigitRejects(t *testing.T) {
	tests := []struct{ body, wantErr string }{
		{"US03783310", "has 10 characters, want 11"},
		{"us037833100", `character 1 is 'u'`},
		{"1S037833100", "character 1 is '1', the country code is two letters"},
		{"US03783310-", `character 11 is '-'`},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			_, err := ISINCheckDigit(tt.body)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateISIN(t *testing.T) {
	tests := []struct{ isin, wantErr string }{
		{"KZK100000241", ""},
		{"KZKD00001236", ""},
		{"KZK10000024", "has 11 characters, want 12"},
		{"KZK1000002411", "has 13 characters, want 12"},
		{"US0378331005", `country code "US", want KZ`},
		{"KZK1000002a1", "character 11 is 'a'"},
		{"KZK10000024X", "character 12 is 'X', the check digit must be a digit"},
		{"KZK100000242", "check digit is 2, want 1"},
		// Two adjacent digits swapped: the Luhn check catches it.
		{"KZK100000421", "check digit is 1, want 3"},
	}
	for _, tt := range tests {
		t.Run(tt.isin, func(t *testing.T) {
			err := ValidateISIN(tt.isin)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateISIN: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateISIN error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateISINForType(t *testing.T) {
	tests := []struct {
		isin    string
		typ     Type
		wantErr string
	}{
		{"KZK100000241", MEKKAM, ""},
		{"KZKD00001236", MEUKAM, ""},
		{"KZKA00000108", MEUZHKAM, ""},
		{"KZK100000241", MEOKAM, "does not start with KZK2, the prefix of MEOKAM"},
		{"KZMJ00000883", MEKKAM, "does not start with KZK1"},
		{"KZK100000242", MEKKAM, "check digit"},
		{"KZK100000241", Type(0), "not a government security type"},
	}
	for _, tt := range tests {
		t.Run(tt.isin+"/"+tt.typ.String(), func(t *testing.T) {
			err := ValidateISINForType(tt.isin, tt.typ)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateISINForType: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateISINForType error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
