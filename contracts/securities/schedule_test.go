package securities

import (
	"strings"
	"testing"
	"time"
)

func TestCalendar(t *testing.T) {
	// Nauryz 2025: 21 March (Friday) and 24 March (Monday, in lieu of the
	// 22nd) off; 1 May, 16 December.
	cal := NewCalendar([]time.Time{d(2025, 3, 21), d(2025, 3, 24), d(2025, 5, 1), time.Date(2025, 12, 16, 23, 0, 0, 0, time.UTC)})
	tests := []struct {
		name string
		got  time.Time
		want time.Time
	}{
		{"T+2 over a long weekend", cal.AddBusinessDays(d(2025, 3, 20), 2), d(2025, 3, 26)},
		{"T+2 from a Friday", cal.AddBusinessDays(d(2025, 3, 14), 2), d(2025, 3, 18)},
		{"back over a long weekend", cal.AddBusinessDays(d(2025, 3, 25), -1), d(2025, 3, 20)},
		{"zero days keeps the date", cal.AddBusinessDays(d(2025, 3, 22), 0), d(2025, 3, 22)},
		{"previous of a Monday", cal.PreviousBusinessDay(d(2025, 3, 17)), d(2025, 3, 14)},
		{"previous of a holiday", cal.PreviousBusinessDay(d(2025, 5, 1)), d(2025, 4, 30)},
		{"next of a Friday", cal.NextBusinessDay(d(2025, 4, 25)), d(2025, 4, 28)},
		{"following of a holiday", cal.Following(d(2025, 5, 1)), d(2025, 5, 2)},
		{"following of a business day", cal.Following(d(2025, 5, 2)), d(2025, 5, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.got.Equal(tt.want) {
				t.Fatalf("got %s, want %s", formatDate(tt.got), formatDate(tt.want))
			}
		})
	}
	days := []struct {
		day  time.Time
		want bool
	}{
		{d(2025, 3, 20), true},
		{d(2025, 3, 21), false},
		{d(2025, 3, 22), false},
		{d(2025, 3, 23), false},
		{d(2025, 3, 24), false},
		// The holiday was given as a UTC time; its own calendar date counts.
		{d(2025, 12, 16), false},
		{d(2025, 12, 17), true},
	}
	for _, tt := range days {
		if got := cal.IsBusinessDay(tt.day); got != tt.want {
			t.Errorf("IsBusinessDay(%s) = %v, want %v", formatDate(tt.day), got, tt.want)
		}
	}
}

func TestSchedule(t *testing.T) {
	cal := NewCalendar([]time.Time{d(2026, 3, 2)})
	type coupon struct {
		start, end, payment, record time.Time
		regular                     bool
	}
	tests := []struct {
		name            string
		start, maturity time.Time
		frequency       int
		want            []coupon
	}{
		{
			name: "quarterly on the 30th: February takes its last day", start: d(2025, 5, 30), maturity: d(2026, 5, 30), frequency: 4,
			want: []coupon{
				{d(2025, 5, 30), d(2025, 8, 30), d(2025, 9, 1), d(2025, 8, 29), true},
				{d(2025, 8, 30), d(2025, 11, 30), d(2025, 12, 1), d(2025, 11, 28), true},
				// 28 February 2026 is a Saturday and 2 March a holiday.
				{d(2025, 11, 30), d(2026, 2, 28), d(2026, 3, 3), d(2026, 2, 27), true},
				// May returns to the 30th rather than keeping February's 28th.
				{d(2026, 2, 28), d(2026, 5, 30), d(2026, 6, 1), d(2026, 5, 29), true},
			},
		},
		{
			name: "end of month: maturity on 30 April pays on the 31st of October", start: d(2025, 4, 30), maturity: d(2026, 4, 30), frequency: 2,
			want: []coupon{
				{d(2025, 4, 30), d(2025, 10, 31), d(2025, 10, 31), d(2025, 10, 30), true},
				{d(2025, 10, 31), d(2026, 4, 30), d(2026, 4, 30), d(2026, 4, 29), true},
			},
		},
		{
			name: "short first period", start: d(2025, 3, 10), maturity: d(2027, 1, 15), frequency: 1,
			want: []coupon{
				{d(2025, 3, 10), d(2026, 1, 15), d(2026, 1, 15), d(2026, 1, 14), false},
				{d(2026, 1, 15), d(2027, 1, 15), d(2027, 1, 15), d(2027, 1, 14), true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Schedule(tt.start, tt.maturity, tt.frequency, cal)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d coupons, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Number != i+1 || !g.Start.Equal(w.start) || !g.End.Equal(w.end) || !g.Payment.Equal(w.payment) || !g.Record.Equal(w.record) || g.Regular != w.regular {
					t.Errorf("coupon %d = #%d %s–%s paid %s record %s regular %v; want %s–%s paid %s record %s regular %v", i+1,
						g.Number, formatDate(g.Start), formatDate(g.End), formatDate(g.Payment), formatDate(g.Record), g.Regular,
						formatDate(w.start), formatDate(w.end), formatDate(w.payment), formatDate(w.record), w.regular)
				}
			}
		})
	}
}

func TestScheduleLongIssue(t *testing.T) {
	// A 20-year semi-annual MEUKAM: 40 coupons, each worth exactly half a
	// year's rate under actual/actual, the short-month ones included.
	cal := NewCalendar(nil)
	got, err := Schedule(d(2025, 1, 31), d(2045, 1, 31), 2, cal)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 40 {
		t.Fatalf("%d coupons, want 40", len(got))
	}
	rate, _ := ParsePercent("13.2")
	for _, c := range got {
		if c.End.Day() != 31 {
			t.Errorf("coupon %d ends %s, want the last day of the month", c.Number, formatDate(c.End))
		}
		f, err := ActualActualICMA.Fraction(c.Start, c.End, c.Period(2))
		if err != nil {
			t.Fatal(err)
		}
		amount, _ := CouponAmount(MEUKAM.FaceValue(), rate, f)
		if amount.String() != "66.00" {
			t.Errorf("coupon %d (%s–%s) = %s, want 66.00", c.Number, formatDate(c.Start), formatDate(c.End), amount)
		}
	}
	if last := got[39].End; !last.Equal(d(2045, 1, 31)) {
		t.Errorf("last coupon ends %s, want the maturity", formatDate(last))
	}
	if jul := got[0].End; !jul.Equal(d(2025, 7, 31)) {
		t.Errorf("first coupon ends %s, want 2025-07-31", formatDate(jul))
	}
}

func TestScheduleRejects(t *testing.T) {
	cal := NewCalendar(nil)
	if _, err := Schedule(d(2025, 1, 1), d(2026, 1, 1), 3, cal); err == nil || !strings.Contains(err.Error(), "frequency 3") {
		t.Errorf("frequency 3: %v", err)
	}
	if _, err := Schedule(d(2025, 1, 1), d(2025, 1, 1), 2, cal); err == nil || !strings.Contains(err.Error(), "is not after circulation start") {
		t.Errorf("maturity on start: %v", err)
	}
}

func TestCheckSchedule(t *testing.T) {
	cal := NewCalendar(nil)
	start, maturity := d(2025, 5, 30), d(2026, 5, 30)
	tests := []struct {
		name      string
		frequency int
		dates     []time.Time
		wantErr   string
	}{
		{"coupon dates", 4, []time.Time{d(2025, 8, 30), d(2025, 11, 30), d(2026, 2, 28), d(2026, 5, 30)}, ""},
		{"payment dates", 4, []time.Time{d(2025, 9, 1), d(2025, 12, 1), d(2026, 3, 2), d(2026, 6, 1)}, ""},
		{"wrong frequency", 2, []time.Time{d(2025, 8, 30), d(2025, 11, 30), d(2026, 2, 28), d(2026, 5, 30)}, "schedule has 4 coupon dates; 2 a year from 2025-05-30 to 2026-05-30 gives 2"},
		{"February on the 30th", 4, []time.Time{d(2025, 8, 30), d(2025, 11, 30), d(2026, 3, 2), d(2026, 5, 30)}, ""},
		{"a day off", 4, []time.Time{d(2025, 8, 30), d(2025, 11, 29), d(2026, 2, 28), d(2026, 5, 30)}, "coupon 2 is dated 2025-11-29, want 2025-11-30 or its payment date 2025-12-01"},
		{"a business-day date wrong", 2, []time.Time{d(2025, 11, 28), d(2026, 5, 30)}, "coupon 1 is dated 2025-11-28, want 2025-11-30 or its payment date 2025-12-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSchedule(start, maturity, tt.frequency, cal, tt.dates)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckSchedule: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckSchedule error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
