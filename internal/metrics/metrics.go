// Package metrics holds Köpir's Prometheus instruments. They live in one
// place so names and labels stay consistent between the internal API, the
// delivery worker and the resilience layers.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/minfin-kz/kopir/routes"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is the set of instruments of one bus process.
type Metrics struct {
	Registry *prometheus.Registry

	Requests        *prometheus.CounterVec   // route, outcome
	RequestDuration *prometheus.HistogramVec // route
	Attempts        *prometheus.CounterVec   // route, endpoint, code
	AttemptDuration *prometheus.HistogramVec // route, endpoint
	Retries         *prometheus.CounterVec   // route, endpoint
	BreakerState    *prometheus.GaugeVec     // endpoint: 0 closed, 1 half-open, 2 open
	QueueDepth      *prometheus.GaugeVec     // route
	Deliveries      *prometheus.CounterVec   // route, outcome
	Inbound         *prometheus.CounterVec   // channel, outcome
	HTTPRefused     *prometheus.CounterVec   // listener, reason
}

// New registers every instrument on a fresh registry.
func New() *Metrics {
	buckets := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_requests_total", Help: "Internal route calls by outcome (delivered, queued, failed, rejected, duplicate, cached, unavailable).",
		}, []string{"route", "outcome"}),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kopir_request_duration_seconds", Help: "Time from receiving an internal call to answering it.", Buckets: buckets,
		}, []string{"route"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_endpoint_attempts_total", Help: "Physical attempts at an agency endpoint by HTTP status (or 'error').",
		}, []string{"route", "endpoint", "code"}),
		AttemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kopir_endpoint_attempt_duration_seconds", Help: "Latency of one attempt at an agency endpoint.", Buckets: buckets,
		}, []string{"route", "endpoint"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_endpoint_retries_total", Help: "Attempts beyond the first, per endpoint.",
		}, []string{"route", "endpoint"}),
		BreakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kopir_breaker_state", Help: "Circuit breaker per endpoint: 0 closed, 1 half-open, 2 open.",
		}, []string{"endpoint"}),
		QueueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kopir_queue_depth", Help: "Async messages accepted but not yet delivered or dead, per route.",
		}, []string{"route"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_deliveries_total", Help: "Async delivery attempts by outcome (delivered, retry, dead, skipped).",
		}, []string{"route", "outcome"}),
		Inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_inbound_total", Help: "Messages pushed in by agencies, by outcome.",
		}, []string{"channel", "outcome"}),
		HTTPRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_http_refused_total", Help: "Requests a listener refused before its handlers: busy, client-busy, uri-too-long, headers-too-large, body-timeout, not-found, method-not-allowed.",
		}, []string{"listener", "reason"}),
	}
	m.Registry.MustRegister(m.Requests, m.RequestDuration, m.Attempts, m.AttemptDuration, m.Retries,
		m.BreakerState, m.QueueDepth, m.Deliveries, m.Inbound, m.HTTPRefused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// BreakerValue maps a breaker state name to the gauge value.
func BreakerValue(state string) float64 {
	switch state {
	case "open":
		return 2
	case "half-open":
		return 1
	}
	return 0
}

// Observe counts and times one finished route call and its attempts; it is
// the route pipeline's Meter.
func (m *Metrics) Observe(x *routes.Exchange, elapsed time.Duration) {
	route := x.Route.Name
	m.Requests.WithLabelValues(route, string(x.Outcome)).Inc()
	m.RequestDuration.WithLabelValues(route).Observe(elapsed.Seconds())
	for _, a := range x.Attempts() {
		code := "error"
		if a.StatusCode > 0 {
			code = strconv.Itoa(a.StatusCode)
		}
		m.Attempts.WithLabelValues(route, a.Endpoint, code).Inc()
		m.AttemptDuration.WithLabelValues(route, a.Endpoint).Observe(a.Latency.Seconds())
		if a.N > 1 {
			m.Retries.WithLabelValues(route, a.Endpoint).Inc()
		}
	}
}
