package securities

import (
	"math/big"
	"strings"
	"testing"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "1000.00", want: "1000.00"},
		{in: "1000", want: "1000.00"},
		{in: "1000.5", want: "1000.50"},
		{in: "0.01", want: "0.01"},
		{in: "007", want: "7.00"},
		{in: "0", want: "0.00"},
		{in: "92233720368547758.07", want: "92233720368547758.07"},
		{in: "92233720368547758.08", wantErr: "too large"},
		{in: "1000.001", wantErr: "has 3 decimals, at most 2"},
		{in: "", wantErr: "not a decimal number"},
		{in: ".5", wantErr: "not a decimal number"},
		{in: "5.", wantErr: "not a decimal number"},
		{in: "-1", wantErr: "not a decimal number"},
		{in: "1e3", wantErr: "not a decimal number"},
		{in: "1 000", wantErr: "not a decimal number"},
		{in: "1,5", wantErr: "not a decimal number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseAmount(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAmount(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Fatalf("ParseAmount(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{in: "98.1234", want: "98.1234"},
		{in: "100", want: "100.0000"},
		{in: "0.35", want: "0.3500"},
		{in: "12.5", want: "12.5000"},
		{in: "98.12345", wantErr: "has 5 decimals, at most 4"},
		{in: "98,5", wantErr: "not a decimal number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePercent(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePercent(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Fatalf("ParsePercent(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
	p, _ := ParsePercent("98.5")
	if got := p.Fraction().RatString(); got != "197/200" {
		t.Errorf("98.5 %% as a fraction = %s, want 197/200", got)
	}
}

func TestRoundAmountHalfUp(t *testing.T) {
	tests := []struct {
		tenge *big.Rat
		want  string
	}{
		{big.NewRat(5, 1000), "0.01"},
		{big.NewRat(49, 10000), "0.00"},
		{big.NewRat(1249, 1000), "1.25"},
		{big.NewRat(1245, 1000), "1.25"},
		{big.NewRat(12449, 10000), "1.24"},
		{big.NewRat(2, 3), "0.67"},
		{big.NewRat(1, 3), "0.33"},
	}
	for _, tt := range tests {
		t.Run(tt.tenge.RatString(), func(t *testing.T) {
			got, err := RoundAmount(tt.tenge)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != tt.want {
				t.Fatalf("RoundAmount(%s) = %s, want %s", tt.tenge.RatString(), got, tt.want)
			}
		})
	}
	if _, err := RoundAmount(big.NewRat(-1, 100)); err == nil {
		t.Error("RoundAmount accepted a negative amount")
	}
	if _, err := RoundAmount(new(big.Rat).SetFloat64(1e18)); err == nil {
		t.Error("RoundAmount accepted an amount beyond int64 tiyn")
	}
}

func TestConsiderationAndUnits(t *testing.T) {
	face := MEOKAM.FaceValue()
	price, _ := ParsePercent("98.1234")
	// 1,000 × 98.1234 % = 981.234 tenge a security; rounding the total
	// once gives 2943.70, rounding each security first would give 2943.69.
	got, err := Consideration(face, price, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != "2943.70" {
		t.Errorf("Consideration = %s, want 2943.70", got)
	}
	volume, _ := ParseAmount("15000000000")
	units, err := UnitsForVolume(volume, MEKKAM.FaceValue())
	if err != nil || units != 150_000_000 {
		t.Errorf("UnitsForVolume(15 bn, 100) = %d, %v; want 150000000", units, err)
	}
	odd, _ := ParseAmount("2999.99")
	if units, _ := UnitsForVolume(odd, face); units != 2 {
		t.Errorf("UnitsForVolume(2999.99, 1000) = %d, want 2", units)
	}
	if _, err := UnitsForVolume(volume, 0); err == nil {
		t.Error("UnitsForVolume accepted a zero face value")
	}
	if _, err := Amount(1 << 62).Total(4); err == nil {
		t.Error("Total did not report overflow")
	}
	if total, err := face.Total(3); err != nil || total.String() != "3000.00" {
		t.Errorf("Total(3) = %s, %v; want 3000.00", total, err)
	}
}
