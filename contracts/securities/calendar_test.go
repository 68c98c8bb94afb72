package securities

import "testing"

// Dates from configs and requests are calendar days in Astana; a bad
// holiday is named by its index.
func TestParseDateAndCalendar(t *testing.T) {
	d, err := ParseDate("2026-12-16")
	if err != nil || !d.Equal(Date(2026, 12, 16)) {
		t.Fatalf("ParseDate: %v %v", d, err)
	}
	if _, err := ParseDate("16.12.2026"); err == nil || err.Error() != `"16.12.2026" is not a date (YYYY-MM-DD)` {
		t.Fatalf("a date in another form: %v", err)
	}
	cal, err := ParseCalendar([]string{"2026-12-16"})
	if err != nil || cal.IsBusinessDay(Date(2026, 12, 16)) || !cal.IsBusinessDay(Date(2026, 12, 15)) {
		t.Fatalf("ParseCalendar: %v", err)
	}
	if _, err := ParseCalendar([]string{"2026-12-16", "tomorrow"}); err == nil || err.Error() != `holidays[1]: "tomorrow" is not a date (YYYY-MM-DD)` {
		t.Fatalf("a bad holiday: %v", err)
	}
}
