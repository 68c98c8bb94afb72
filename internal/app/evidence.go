package app

import (
	"context"
	"fmt"
	"time"

	"github.com/minfin-kz/kopir/internal/config"
	"github.com/minfin-kz/kopir/internal/evidence"
	"github.com/minfin-kz/kopir/internal/xmlsig"
)

// loadEvidence builds the evidence keyring and the trust kept signatures
// are re-verified against; both nil when the config names none.
func loadEvidence(cfg *config.Config) (*evidence.Keyring, *xmlsig.Trust, error) {
	keys, err := evidence.Load(cfg)
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.Evidence.Trust.Roots) == 0 {
		return keys, nil, nil
	}
	trust, err := xmlsig.LoadTrust(cfg.Evidence.Trust)
	if err != nil {
		return nil, nil, &config.FieldError{File: cfg.File(), Field: "evidence.trust", Msg: err.Error()}
	}
	return keys, trust, nil
}

// EvidenceStatus says, for kopir config check, whether signed documents
// will be kept and how.
func EvidenceStatus(cfg *config.Config) (string, error) {
	keys, trust, err := loadEvidence(cfg)
	if err != nil {
		return "", err
	}
	switch {
	case keys == nil:
		return "evidence keeping is off: no evidence.keys configured, signed documents are not kept", nil
	case keys.Demo():
		return "evidence keeping is on with the built-in DEMO key (demo: true): not for production, configure evidence.keys", nil
	}
	s := fmt.Sprintf("evidence keeping is on: sealed with key %q, kept %s unless a route says otherwise", keys.Current(), cfg.Evidence.Retention.D())
	if trust == nil {
		s += "; no evidence.trust, so verification checks signatures but not certificate chains"
	}
	return s, nil
}

// purgeEvidence deletes expired evidence now and then every interval
// until ctx ends; each deletion is on the audit trail.
func (a *App) purgeEvidence(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := a.Ledger.PurgeEvidence(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			a.Log.Error("purging expired evidence", "err", err)
		case n > 0:
			a.Log.Info("purged expired evidence", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
