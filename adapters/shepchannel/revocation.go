package shepchannel

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/adapters/signing"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// ActionRevocationUnknown is the audit event of a message accepted under
// onRevocationUnknown: flag although its signer's revocation status was
// unknown; the detail says why it was.
const ActionRevocationUnknown = "REVOCATION_UNKNOWN"

// Revocation outcomes counted by kopir_channel_revocation_total.
const (
	outcomeRefused = "unknown_refused" // status unknown, policy refuse
	outcomeFlagged = "unknown_flagged" // status unknown, policy flag
	outcomeRevoked = "revoked"
)

// revocationMetrics make the channel's policy and what it decided
// visible: one series per channel and outcome, the policy as a gauge, and
// each CRL refresh round's outcome.
type revocationMetrics struct {
	decisions *prometheus.CounterVec
	policy    *prometheus.GaugeVec
	refreshes *prometheus.CounterVec
}

func newRevocationMetrics() *revocationMetrics {
	return &revocationMetrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_channel_revocation_total",
			Help: "Signatures whose certificate was revoked or of unknown revocation status, by channel and outcome (revoked, unknown_refused, unknown_flagged).",
		}, []string{"channel", "outcome"}),
		policy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kopir_channel_revocation_policy",
			Help: "The channel's onRevocationUnknown policy: 1 on the series of the policy in force (refuse or flag).",
		}, []string{"channel", "policy"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kopir_crl_refresh_total",
			Help: "CRL refresh rounds by channel and outcome (ok, failed: a source kept its last good CRL).",
		}, []string{"channel", "outcome"}),
	}
}

// register adds the collectors to reg, sharing them with another channel
// that registered them first.
func (m *revocationMetrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	var err error
	if m.decisions, err = adapters.RegisterShared(reg, m.decisions); err != nil {
		return err
	}
	if m.policy, err = adapters.RegisterShared(reg, m.policy); err != nil {
		return err
	}
	m.refreshes, err = adapters.RegisterShared(reg, m.refreshes)
	return err
}

// revocationPolicy is the channel's onRevocationUnknown; a remote
// provider decides revocation itself and refuses what it cannot check.
func revocationPolicy(t *signing.TrustConfig) string {
	if t == nil {
		return xmlsig.RevocationRefuse
	}
	p, err := xmlsig.ParseRevocationPolicy(t.OnRevocationUnknown)
	if err != nil {
		return xmlsig.RevocationRefuse
	}
	return p
}

// countRevocation records what became of a signature whose revocation
// status mattered; a verification that had nothing to say about it is
// not counted.
func (c *Channel) countRevocation(v *xmlsig.Verified, err error) {
	var se *xmlsig.Error
	switch {
	case v != nil && v.RevocationUnknown != "":
		c.metrics.decisions.WithLabelValues(c.name, outcomeFlagged).Inc()
	case errors.As(err, &se) && se.Reason == xmlsig.ReasonCRL:
		c.metrics.decisions.WithLabelValues(c.name, outcomeRefused).Inc()
	case errors.As(err, &se) && se.Reason == xmlsig.ReasonRevoked:
		c.metrics.decisions.WithLabelValues(c.name, outcomeRevoked).Inc()
	}
}

// flagRevocation writes, on the audit trail of a message accepted though
// its signer's revocation status was unknown, that it was and why. A
// duplicate was flagged when first taken.
func (c *Channel) flagRevocation(ctx context.Context, in adapters.Intake, rc *adapters.Receipt, s signed) {
	if s.revocationUnknown == "" || rc == nil || rc.Duplicate || rc.MessageID == "" {
		return
	}
	if err := in.Annotate(ctx, rc.MessageID, ActionRevocationUnknown, s.revocationUnknown); err != nil {
		c.Log.Error("shep: recording an unknown revocation status", "messageId", rc.MessageID, "err", err)
	}
}

// refreshCRLs runs the verifier's CRL refresh until ctx ends, if it has
// one; failures are logged and counted, and the last good CRLs stay.
func (c *Channel) refreshCRLs(ctx context.Context) {
	r, ok := c.verifier.(signing.Refresher)
	if !ok || !r.Refreshing() {
		return
	}
	r.RunRefresh(ctx, func(err error) {
		if err != nil {
			c.metrics.refreshes.WithLabelValues(c.name, "failed").Inc()
			c.Log.Warn("shep: CRL refresh failed; the last good CRLs stay in use", "err", err)
			return
		}
		c.metrics.refreshes.WithLabelValues(c.name, "ok").Inc()
	})
}
