package console

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The health page's rates come from the bus's own instruments (one owner of
// the numbers): the console reads them once a minute and keeps an hour of
// readings, so that it needs no Prometheus server to draw a chart. The
// readings are this process's; on a cluster, the Grafana dashboard in
// deploy/grafana adds the nodes up.

// Outcomes of kopir_requests_total and kopir_deliveries_total counted as
// errors on the health page; every other outcome but "skipped" is success.
var errorOutcomes = map[string]bool{"failed": true, "rejected": true, "unavailable": true, "dead": true, "retry": true}

// routeReading is one route's counters at one reading.
type routeReading struct {
	ok, errors float64
	// latency is kopir_request_duration_seconds (internal calls) or, for a
	// route that has none (async deliveries, inbound routes), its attempts'
	// kopir_endpoint_attempt_duration_seconds over every endpoint.
	calls   histogram
	attempt histogram
}

// histogram is a cumulative Prometheus histogram: counts[i] observations at
// or below bounds[i].
type histogram struct {
	bounds, counts []float64
	total          float64
}

func (h histogram) minus(o histogram) histogram {
	d := histogram{bounds: h.bounds, counts: make([]float64, len(h.counts)), total: h.total - o.total}
	for i := range h.counts {
		d.counts[i] = h.counts[i]
		if i < len(o.counts) {
			d.counts[i] -= o.counts[i]
		}
	}
	return d
}

func (h *histogram) add(m *dto.Histogram) {
	bs := m.GetBucket()
	if h.bounds == nil {
		h.bounds = make([]float64, len(bs))
		h.counts = make([]float64, len(bs))
		for i, b := range bs {
			h.bounds[i] = b.GetUpperBound()
		}
	}
	for i, b := range bs {
		if i < len(h.counts) {
			h.counts[i] += float64(b.GetCumulativeCount())
		}
	}
	h.total += float64(m.GetSampleCount())
}

// quantile interpolates within the bucket holding the q-th observation,
// as PromQL's histogram_quantile does; NaN with no observations.
func (h histogram) quantile(q float64) float64 {
	if h.total <= 0 {
		return math.NaN()
	}
	rank := q * h.total
	lower, below := 0.0, 0.0
	for i, c := range h.counts {
		if c >= rank {
			if c == below {
				return h.bounds[i]
			}
			return lower + (h.bounds[i]-lower)*(rank-below)/(c-below)
		}
		lower, below = h.bounds[i], c
	}
	return lower // in the +Inf bucket: the largest finite bound is all we know
}

type reading struct {
	at     time.Time
	routes map[string]*routeReading
	// gauges per route
	depth, oldest map[string]float64
	auditBroken   float64
	auditLast     float64
}

// readMetrics takes one reading of g.
func readMetrics(g prometheus.Gatherer, at time.Time) reading {
	r := reading{at: at, routes: map[string]*routeReading{}, depth: map[string]float64{}, oldest: map[string]float64{}}
	fams, _ := g.Gather() // a partial gather still has what it could read
	route := func(m *dto.Metric) (*routeReading, string) {
		var name string
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" {
				name = l.GetValue()
			}
		}
		rr := r.routes[name]
		if rr == nil {
			rr = &routeReading{}
			r.routes[name] = rr
		}
		return rr, name
	}
	label := func(m *dto.Metric, k string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == k {
				return l.GetValue()
			}
		}
		return ""
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "kopir_requests_total", "kopir_deliveries_total":
				rr, _ := route(m)
				switch o := label(m, "outcome"); {
				case errorOutcomes[o]:
					rr.errors += m.GetCounter().GetValue()
				case o != "skipped":
					rr.ok += m.GetCounter().GetValue()
				}
			case "kopir_request_duration_seconds":
				rr, _ := route(m)
				rr.calls.add(m.GetHistogram())
			case "kopir_endpoint_attempt_duration_seconds":
				rr, _ := route(m)
				rr.attempt.add(m.GetHistogram())
			case "kopir_queue_depth":
				r.depth[label(m, "route")] = m.GetGauge().GetValue()
			case "kopir_queue_oldest_age_seconds":
				r.oldest[label(m, "route")] = m.GetGauge().GetValue()
			case "kopir_audit_chain_broken":
				r.auditBroken = m.GetGauge().GetValue()
			case "kopir_audit_last_verification_timestamp_seconds":
				r.auditLast = m.GetGauge().GetValue()
			}
		}
	}
	return r
}

// window keeps the readings of the last hour.
type window struct {
	mu       sync.Mutex
	readings []reading
	keep     int
}

func (w *window) add(r reading) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readings = append(w.readings, r)
	if len(w.readings) > w.keep {
		w.readings = append(w.readings[:0], w.readings[len(w.readings)-w.keep:]...)
	}
}

// bar is one interval of a route's chart, in calls per minute.
type bar struct {
	OK, Errors float64
	At         time.Time
}

// RouteHealth is one row of the health page's traffic table.
type RouteHealth struct {
	Route                    string
	OK, Errors               float64 // in the window
	ErrorRate                float64 // errors / all, 0..1
	P50, P95, P99            float64 // seconds; NaN when nothing was timed
	Depth, Oldest            float64
	Bars                     []bar
	MaxPerBar                float64
	Since                    time.Time
	LatencyFromAttemptsAlone bool
	HasTraffic               bool
}

// summary compares now with the oldest reading kept: traffic, error rate
// and latency percentiles per route over the window, and one bar per
// interval between readings.
func (w *window) summary(now reading) []RouteHealth {
	w.mu.Lock()
	rs := append(append([]reading(nil), w.readings...), now)
	w.mu.Unlock()
	first := rs[0]
	names := map[string]bool{}
	for name := range now.routes {
		names[name] = true
	}
	for name := range now.depth {
		names[name] = true
	}
	var out []RouteHealth
	for name := range names {
		if name == "" {
			continue
		}
		cur, old := now.routes[name], first.routes[name]
		if cur == nil {
			cur = &routeReading{}
		}
		if old == nil {
			old = &routeReading{}
		}
		h := RouteHealth{Route: name, OK: cur.ok - old.ok, Errors: cur.errors - old.errors, Depth: now.depth[name], Oldest: now.oldest[name], Since: first.at}
		if all := h.OK + h.Errors; all > 0 {
			h.ErrorRate = h.Errors / all
			h.HasTraffic = true
		}
		lat := cur.calls.minus(old.calls)
		if lat.total <= 0 {
			lat, h.LatencyFromAttemptsAlone = cur.attempt.minus(old.attempt), true
		}
		h.P50, h.P95, h.P99 = lat.quantile(.5), lat.quantile(.95), lat.quantile(.99)
		for i := 1; i < len(rs); i++ {
			a, b := rs[i-1].routes[name], rs[i].routes[name]
			if a == nil {
				a = &routeReading{}
			}
			if b == nil {
				b = &routeReading{}
			}
			br := bar{OK: b.ok - a.ok, Errors: b.errors - a.errors, At: rs[i].at}
			h.MaxPerBar = max(h.MaxPerBar, br.OK+br.Errors)
			h.Bars = append(h.Bars, br)
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}
