// Package metrics holds Köpir's Prometheus instruments. They live in one
// place so names and labels stay consistent between the internal API, the
// delivery worker and the resilience layers.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/minfin-kz/kopir/internal/store"
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
	QueueOldestAge  *prometheus.GaugeVec     // route
	HeldMessages    *prometheus.GaugeVec     // route
	Deliveries      *prometheus.CounterVec   // route, outcome
	Inbound         *prometheus.CounterVec   // channel, outcome
	HTTPRefused     *prometheus.CounterVec   // listener, reason
	LeaseHeld       *prometheus.GaugeVec     // lease: 1 while this node holds it

	AuditVerifications *prometheus.CounterVec // result: ok, broken, error
	AuditChainBroken   prometheus.Gauge
	AuditLastVerified  prometheus.Gauge
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
		QueueOldestAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kopir_queue_oldest_age_seconds", Help: "Age of the oldest QUEUED message per route, from when it was first accepted; 0 when none waits.",
		}, []string{"route"}),
		HeldMessages: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kopir_held_messages", Help: "Messages held for clarification, waiting for an operator's decision, per route.",
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
		LeaseHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kopir_lease_held", Help: "1 while this node holds the lease of a singleton (a poller, a scheduled job, bulk replays), 0 otherwise; across the cluster each lease's sum is 1.",
		}, []string{"lease"}),
		AuditVerifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_audit_verifications_total", Help: "Walks of the audit chain by result: ok, broken (a record altered or deleted), error (the walk itself failed).",
		}, []string{"result"}),
		AuditChainBroken: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kopir_audit_chain_broken", Help: "1 when the last completed audit chain verification found a record altered or deleted; 0 when it passed or none ran yet.",
		}),
		AuditLastVerified: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kopir_audit_last_verification_timestamp_seconds", Help: "Unix time of the last completed audit chain verification; 0 when none ran since the bus started.",
		}),
	}
	m.Registry.MustRegister(m.Requests, m.RequestDuration, m.Attempts, m.AttemptDuration, m.Retries,
		m.BreakerState, m.QueueDepth, m.QueueOldestAge, m.HeldMessages, m.Deliveries, m.Inbound, m.HTTPRefused, m.LeaseHeld,
		m.AuditVerifications, m.AuditChainBroken, m.AuditLastVerified,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// StoreWriter is the store as the writer's instruments read it.
type StoreWriter interface{ WriterStats() store.WriterStats }

// WatchStoreWriter registers the instruments of w's writer, read from its
// totals at each scrape: rate(events) / rate(transactions) is how many
// events each commit carries, rate(busy) / rate(transactions) how long a
// commit takes.
func (m *Metrics) WatchStoreWriter(w StoreWriter) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kopir_store_transactions_total", Help: "Transactions the store's writer committed (each carries a batch of events: group commit).",
		}, func() float64 { return float64(w.WriterStats().Transactions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kopir_store_events_total", Help: "Events (message states, attempts, audit records) in the transactions the store's writer committed.",
		}, func() float64 { return float64(w.WriterStats().Events) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "kopir_store_writer_busy_seconds_total", Help: "Time the store's writer spent writing transactions, failed ones included.",
		}, func() float64 { return w.WriterStats().Busy.Seconds() }),
	)
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

// Audit verification results counted by kopir_audit_verifications_total.
const (
	AuditOK     = "ok"
	AuditBroken = "broken"
	AuditError  = "error"
)

// AuditVerified records one walk of the audit chain that ended at t: ok
// says whether the chain held, err that the walk could not finish. A walk
// that failed leaves the broken gauge as the last finished walk set it, so
// a database hiccup neither raises nor clears the alarm.
func (m *Metrics) AuditVerified(ok bool, err error, t time.Time) {
	switch {
	case err != nil:
		m.AuditVerifications.WithLabelValues(AuditError).Inc()
		return
	case ok:
		m.AuditVerifications.WithLabelValues(AuditOK).Inc()
		m.AuditChainBroken.Set(0)
	default:
		m.AuditVerifications.WithLabelValues(AuditBroken).Inc()
		m.AuditChainBroken.Set(1)
	}
	m.AuditLastVerified.Set(float64(t.Unix()))
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
