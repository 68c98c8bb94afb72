package signing

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/minfin-kz/kopir/adapters"
)

// ocspMetrics count the OCSP queries that went out, by responder and
// outcome (answered, failed); answers from the cache are not queries.
type ocspMetrics struct {
	queries *prometheus.CounterVec
}

func newOCSPMetrics(res adapters.Resources) *ocspMetrics {
	m := &ocspMetrics{queries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kopir_ocsp_queries_total",
		Help: "OCSP queries sent, by responder and outcome (answered, failed: the status is then unknown and the channel's onRevocationUnknown decides).",
	}, []string{"responder", "outcome"})}
	if res.Metrics == nil {
		return m
	}
	if err := res.Metrics.Register(m.queries); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				m.queries = existing
			}
		}
	}
	return m
}

func (m *ocspMetrics) count(responder, outcome string) {
	m.queries.WithLabelValues(responder, outcome).Inc()
}
