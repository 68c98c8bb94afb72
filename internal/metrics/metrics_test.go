package metrics

import (
	"errors"
	"testing"
	"time"

	"github.com/minfin-kz/kopir/internal/store"
)

// The broken gauge follows the last walk that finished; a walk that could
// not finish is counted but neither raises nor clears it.
func TestAuditVerified(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	type walk struct {
		ok  bool
		err error
	}
	for _, c := range []struct {
		name                 string
		walks                []walk
		broken, last         float64
		okN, brokenN, errorN float64
	}{
		{name: "none yet", walks: nil},
		{name: "passed", walks: []walk{{ok: true}}, last: 1_700_000_000, okN: 1},
		{name: "broken", walks: []walk{{ok: false}}, broken: 1, last: 1_700_000_000, brokenN: 1},
		{name: "broken then passed", walks: []walk{{ok: false}, {ok: true}}, last: 1_700_000_000, okN: 1, brokenN: 1},
		{name: "broken then the walk failed", walks: []walk{{ok: false}, {err: errors.New("database gone")}}, broken: 1, last: 1_700_000_000, brokenN: 1, errorN: 1},
		{name: "only failed walks", walks: []walk{{err: errors.New("timeout")}}, errorN: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := New()
			for _, w := range c.walks {
				m.AuditVerified(w.ok, w.err, at)
			}
			for name, pair := range map[string][2]float64{
				"broken":  {value(t, m, "kopir_audit_chain_broken", ""), c.broken},
				"last":    {value(t, m, "kopir_audit_last_verification_timestamp_seconds", ""), c.last},
				"ok":      {value(t, m, "kopir_audit_verifications_total", AuditOK), c.okN},
				"brokenN": {value(t, m, "kopir_audit_verifications_total", AuditBroken), c.brokenN},
				"errorN":  {value(t, m, "kopir_audit_verifications_total", AuditError), c.errorN},
			} {
				if pair[0] != pair[1] {
					t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
				}
			}
		})
	}
}

// value is what m exports for the series of family name whose one label
// has the value label ("" for a series without labels); 0 when absent.
func value(t *testing.T, m *Metrics, name, label string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			got := ""
			if l := s.GetLabel(); len(l) > 0 {
				got = l[0].GetValue()
			}
			if got == label {
				return s.GetGauge().GetValue() + s.GetCounter().GetValue()
			}
		}
	}
	return 0
}

type writerTotals store.WriterStats

func (w *writerTotals) WriterStats() store.WriterStats { return store.WriterStats(*w) }

// The writer's instruments read its totals at each scrape.
func TestWatchStoreWriter(t *testing.T) {
	m := New()
	w := &writerTotals{Transactions: 2, Events: 9, Busy: 1500 * time.Millisecond}
	m.WatchStoreWriter(w)
	w.Transactions, w.Events, w.Busy = 3, 12, 2*time.Second
	for name, want := range map[string]float64{
		"kopir_store_transactions_total":        3,
		"kopir_store_events_total":              12,
		"kopir_store_writer_busy_seconds_total": 2,
	} {
		if got := value(t, m, name, ""); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}
