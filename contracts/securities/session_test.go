package securities

import (
	"strings"
	"testing"
	"time"
)

func astana(y int, m time.Month, day, hh, mm, ss int) time.Time {
	return time.Date(y, m, day, hh, mm, ss, 0, Astana)
}

func TestOrderWindowOpen(t *testing.T) {
	main := Session{TradeDate: d(2025, 3, 11)}
	extra := Session{TradeDate: d(2025, 3, 11), Additional: true}
	tests := []struct {
		name    string
		session Session
		now     time.Time
		want    bool
	}{
		{"before opening", main, astana(2025, 3, 11, 8, 59, 59), false},
		{"at opening", main, astana(2025, 3, 11, 9, 0, 0), true},
		{"last second", main, astana(2025, 3, 11, 11, 59, 59), true},
		{"at closing", main, astana(2025, 3, 11, 12, 0, 0), false},
		{"09:00 Astana given in UTC", main, time.Date(2025, 3, 11, 4, 0, 0, 0, time.UTC), true},
		{"08:00 Astana given in UTC+4", main, time.Date(2025, 3, 11, 7, 0, 0, 0, time.FixedZone("", 4*3600)), false},
		{"another day", main, astana(2025, 3, 12, 10, 0, 0), false},
		{"additional in the morning", extra, astana(2025, 3, 11, 10, 0, 0), false},
		{"additional at opening", extra, astana(2025, 3, 11, 15, 30, 0), true},
		{"additional last second", extra, astana(2025, 3, 11, 16, 14, 59), true},
		{"additional at closing", extra, astana(2025, 3, 11, 16, 15, 0), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.session.OrderWindowOpen(tt.now); got != tt.want {
				t.Fatalf("OrderWindowOpen(%s) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

func TestCutoffAllowed(t *testing.T) {
	main := Session{TradeDate: d(2025, 3, 11)}
	extra := Session{TradeDate: d(2025, 3, 11), Additional: true}
	tests := []struct {
		name    string
		session Session
		now     time.Time
		wantErr string
	}{
		{"while orders are accepted", main, astana(2025, 3, 11, 11, 0, 0), "too early: orders are accepted 09:00–12:00 on 2025-03-11"},
		{"when the window closes", main, astana(2025, 3, 11, 12, 0, 0), ""},
		{"at the deadline", main, astana(2025, 3, 11, 15, 0, 0), ""},
		{"a second late", main, astana(2025, 3, 11, 15, 0, 1), "the deadline was 15:00 Astana time (UTC+5) on 2025-03-11"},
		{"late, clock in UTC", main, time.Date(2025, 3, 11, 10, 30, 0, 0, time.UTC), "cut-off at 15:30:00 Astana time (UTC+5) on 2025-03-11 is too late"},
		{"next day", main, astana(2025, 3, 12, 9, 0, 0), "the deadline was 15:00"},
		{"additional during its window", extra, astana(2025, 3, 11, 16, 0, 0), "orders are accepted 15:30–16:15"},
		{"additional at 17:00", extra, astana(2025, 3, 11, 17, 0, 0), ""},
		{"additional late", extra, astana(2025, 3, 11, 17, 0, 1), "the deadline was 17:00 Astana time (UTC+5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.session.CutoffAllowed(tt.now)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CutoffAllowed: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CutoffAllowed error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSettlementDate(t *testing.T) {
	cal := NewCalendar([]time.Time{d(2025, 3, 21), d(2025, 3, 24)})
	tests := []struct {
		name    string
		session Session
		want    time.Time
		wantErr string
	}{
		// The exchange's notices: traded 11.03.25, paid 13.03.25; traded
		// 28.01.25, paid 30.01.25.
		{"T+2 on a Tuesday", Session{TradeDate: d(2025, 3, 11)}, d(2025, 3, 13), ""},
		{"T+2 on a Tuesday in January", Session{TradeDate: d(2025, 1, 28)}, d(2025, 1, 30), ""},
		{"T+2 over holidays", Session{TradeDate: d(2025, 3, 20)}, d(2025, 3, 26), ""},
		{"T+0", Session{TradeDate: d(2025, 3, 11), Settlement: T0}, d(2025, 3, 11), ""},
		{"additional session settles alike", Session{TradeDate: d(2025, 3, 11), Additional: true}, d(2025, 3, 13), ""},
		{"trade on a holiday", Session{TradeDate: d(2025, 3, 21)}, time.Time{}, "2025-03-21 is not a business day"},
		{"unknown settlement", Session{TradeDate: d(2025, 3, 11), Settlement: 7}, time.Time{}, "neither T+2 nor T+0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.session.SettlementDate(cal)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SettlementDate error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Fatalf("SettlementDate = %s, want %s", formatDate(got), formatDate(tt.want))
			}
		})
	}
}
