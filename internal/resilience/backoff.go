package resilience

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/minfin-kz/kopir/adapters"
)

// Defaults for a adapters.RetrySpec that leaves fields out. A zero Backoff would make
// retries hammer an agency that is already struggling, so it gets a floor.
const (
	DefaultBackoff = 100 * time.Millisecond
	DefaultCap     = 10 * time.Second
)

// retryBounds fills in the defaults so that Backoff and the Client's
// Retry-After cap agree on what the spec means.
func retryBounds(spec adapters.RetrySpec) (base, ceiling time.Duration) {
	base, ceiling = spec.Backoff.D(), spec.Cap.D()
	if base <= 0 {
		base = DefaultBackoff
	}
	if ceiling <= 0 {
		ceiling = DefaultCap
	}
	if ceiling < base {
		ceiling = base
	}
	return base, ceiling
}

// Backoff is the wait before the next try after attempt failures so far
// (1 after the first failed try): uniformly random in [0, min(Cap,
// Backoff·2^(attempt-1))]. Full jitter spreads the retries of many callers
// hit by the same outage, so they do not come back in lock-step. It is
// exported so the async delivery worker schedules broker redeliveries with
// the same policy the synchronous client uses.
func Backoff(spec adapters.RetrySpec, attempt int) time.Duration {
	base, ceiling := retryBounds(spec)
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2 // cannot overflow: d < ceiling before doubling
	}
	if d > ceiling {
		d = ceiling
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP-date.
// retryablehttp's own parser is unexported and not capped, and an agency
// answering "Retry-After: 3600" must not park a synchronous caller for an
// hour, so the Client caps what this returns.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}
