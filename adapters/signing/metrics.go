package signing

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/minfin-kz/kopir/adapters"
)

// ocspMetrics count the OCSP queries that went out, by responder and
// outcome (answered, failed); answers from the cache are not queries.
type ocspMetrics struct {
	queries *prometheus.CounterVec
}

func newOCSPMetrics(res adapters.Resources) (*ocspMetrics, error) {
	m := &ocspMetrics{queries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kopir_ocsp_queries_total",
		Help: "OCSP queries sent, by responder and outcome (answered, failed: the status is then unknown and the channel's onRevocationUnknown decides).",
	}, []string{"responder", "outcome"})}
	var err error
	m.queries, err = adapters.RegisterShared(res.Metrics, m.queries)
	return m, err
}

func (m *ocspMetrics) count(responder, outcome string) {
	m.queries.WithLabelValues(responder, outcome).Inc()
}
