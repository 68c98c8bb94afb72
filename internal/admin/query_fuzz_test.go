package admin

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzFilterFromQuery: whatever query an admin sends, the filter is
// refused with an error naming the parameter, or it holds only values the
// store accepts.
func FuzzFilterFromQuery(f *testing.F) {
	for _, s := range []string{"limit=-1", "limit=ten", "limit=10000000", "status=BOGUS", "since=yesterday",
		"route=gbdfl.person&status=DEAD&limit=50", "limit=1&limit=2", "after=" + strings.Repeat("i", 300), "direction=sideways"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, err := FilterFromQuery(q)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if flt.Limit < 0 || flt.Limit > 1000 {
			t.Fatalf("limit %d accepted from %q", flt.Limit, raw)
		}
	})
}
