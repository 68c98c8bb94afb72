package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/minfin-kz/kopir/internal/store"
)

// firstVerification is how soon after start the audit chain is first
// walked, so that a fresh node reports a verification within minutes
// rather than after a whole period.
const firstVerification = time.Minute

// auditVerifier walks the audit chain every period and reports each walk
// (the kopir_audit_* metrics, and the log), so that a record altered or
// deleted in the database raises the alert without anybody asking. It runs
// as a singleton: one walk per period for the whole cluster.
type auditVerifier struct {
	store interface {
		VerifyAudit(context.Context) (store.VerifyResult, error)
	}
	report func(ok bool, err error, at time.Time)
	log    *slog.Logger
	first  time.Duration
	every  time.Duration
}

func (v auditVerifier) run(ctx context.Context) error {
	t := time.NewTimer(min(v.first, v.every))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		start := time.Now()
		res, err := v.store.VerifyAudit(ctx)
		if ctx.Err() != nil {
			return nil // stopped mid-walk: no result to report
		}
		v.report(res.OK, err, time.Now())
		switch {
		case err != nil:
			v.log.Error("audit chain verification could not finish", "err", err)
		case !res.OK:
			v.log.Error("audit chain verification found the chain broken", "firstBadSeq", res.FirstBad, "problem", res.Problem, "records", res.Records)
		default:
			v.log.Info("audit chain verified", "records", res.Records, "head", res.HeadHash, "took", time.Since(start).Round(time.Millisecond))
		}
		t.Reset(v.every)
	}
}
