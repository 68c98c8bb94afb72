package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/minfin-kz/kopir/adapters"
	"github.com/minfin-kz/kopir/internal/evidence"
	"github.com/minfin-kz/kopir/internal/store"
	"github.com/minfin-kz/kopir/internal/xmlsig"
	"github.com/minfin-kz/kopir/routes"
)

// Evidence actions of the audit trail.
const (
	EvidenceKept     Action = "EVIDENCE_KEPT"
	EvidencePurged   Action = "EVIDENCE_PURGED"
	EvidenceAccessed Action = "EVIDENCE_ACCESSED"
)

// purgeBatch is how many expired records one purge event deletes.
const purgeBatch = 256

// keeping is how documents are kept as evidence; nil keys: not kept.
type keeping struct {
	keys      *evidence.Keyring
	retention map[string]time.Duration // by route
	fallback  time.Duration
}

// KeepEvidence makes the ledger keep, sealed with keys, every document an
// inbound channel received and every signed envelope the bus sent, for the
// route's evidenceRetention (def when it has none). Nil keys: nothing is
// kept.
func (l *Ledger) KeepEvidence(keys *evidence.Keyring, specs []routes.Spec, def time.Duration) {
	k := &keeping{keys: keys, retention: map[string]time.Duration{}, fallback: def}
	for _, s := range specs {
		k.retention[s.Name] = s.EvidenceRetention.Or(def)
	}
	l.keep = k
}

// KeepsEvidence reports whether documents are kept.
func (l *Ledger) KeepsEvidence() bool { return l.keep != nil && l.keep.keys != nil }

// seal makes the record and its EVIDENCE_KEPT entry for one document.
func (l *Ledger) seal(id, route string, dir store.Direction, source string, doc []byte, at time.Time) (store.Evidence, store.AuditEntry, error) {
	keep := l.keep.retention[route]
	if keep == 0 {
		keep = l.keep.fallback
	}
	at = at.UTC().Truncate(time.Microsecond)
	e, err := l.keep.keys.Seal(store.Evidence{ID: newEvidenceID(), MessageID: id, Route: route, Direction: dir,
		Source: BoundName(source, MaxName), ReceivedAt: at, ExpiresAt: at.Add(keep)}, doc)
	if err != nil {
		return e, store.AuditEntry{}, err
	}
	detail := fmt.Sprintf("%s document kept as %s: sha256 %s, %d bytes, key %s, until %s",
		e.Source, e.ID, e.SHA256, e.Size, e.KeyID, e.ExpiresAt.Format(time.RFC3339))
	return e, entry(id, busActor, EvidenceKept, detail), nil
}

// inboundEvidence is the received document of m, when evidence is kept.
func (l *Ledger) inboundEvidence(id, route string, m *adapters.Inbound, at time.Time) ([]store.Evidence, []store.AuditEntry) {
	if !l.KeepsEvidence() || len(m.Raw) == 0 {
		return nil, nil
	}
	e, a, err := l.seal(id, route, store.Inbound, m.Channel, m.Raw, at)
	if err != nil {
		l.log.Error("sealing evidence; the message is stored without it", "messageId", id, "err", err)
		return nil, nil
	}
	return []store.Evidence{e}, []store.AuditEntry{a}
}

// outboundEvidence is every signed request among the attempts, once per
// distinct body (a retry sends the same bytes again).
func (l *Ledger) outboundEvidence(id, route string, at []routes.Attempt) ([]store.Evidence, []store.AuditEntry) {
	if !l.KeepsEvidence() {
		return nil, nil
	}
	var evs []store.Evidence
	var audit []store.AuditEntry
	seen := map[[sha256.Size]byte]bool{}
	for _, a := range at {
		if !signed(a.RequestBody) {
			continue
		}
		sum := sha256.Sum256(a.RequestBody)
		if seen[sum] {
			continue
		}
		seen[sum] = true
		e, ae, err := l.seal(id, route, store.Outbound, fmt.Sprintf("attempt %d", a.N), a.RequestBody, a.StartedAt)
		if err != nil {
			l.log.Error("sealing evidence; the attempt is stored without it", "messageId", id, "err", err)
			continue
		}
		evs, audit = append(evs, e), append(audit, ae)
	}
	return evs, audit
}

// signed tells a signed envelope from any other wire body by its XML
// signature. The attempt already carries the bytes exactly as sent, so the
// ledger needs nothing more from the adapter or the transport.
func signed(body []byte) bool {
	return bytes.Contains(body, []byte(xmlsig.NSDS)) && bytes.Contains(body, []byte("SignatureValue"))
}

// InboundKept keeps the document of a message a channel delivered
// synchronously (its exchange is recorded by the route's pipeline).
func (l *Ledger) InboundKept(ctx context.Context, id, route string, m *adapters.Inbound, at time.Time) error {
	evs, audit := l.inboundEvidence(id, route, m, at)
	if len(evs) == 0 {
		return nil
	}
	return l.record(ctx, store.Event{Evidence: evs, Audit: audit})
}

// EvidenceAccessed notes on a message's trail that an operator read or
// verified its evidence.
func (l *Ledger) EvidenceAccessed(ctx context.Context, id, operator, detail string) error {
	return l.record(context.WithoutCancel(ctx), store.Event{Audit: []store.AuditEntry{entry(id, operator, EvidenceAccessed, detail)}})
}

// PurgeEvidence deletes the records whose retention ended before now, each
// with an EVIDENCE_PURGED entry on its message's trail, and returns how
// many it deleted.
func (l *Ledger) PurgeEvidence(ctx context.Context, now time.Time) (int, error) {
	total := 0
	for {
		expired, err := l.st.ExpiredEvidence(ctx, now, purgeBatch)
		if err != nil || len(expired) == 0 {
			return total, err
		}
		ev := store.Event{}
		for _, e := range expired {
			ev.PurgeEvidence = append(ev.PurgeEvidence, e.ID)
			ev.Audit = append(ev.Audit, entry(e.MessageID, busActor, EvidencePurged,
				fmt.Sprintf("%s (sha256 %s) deleted: its retention ended at %s", e.ID, e.SHA256, e.ExpiresAt.Format(time.RFC3339))))
		}
		if err := l.record(ctx, ev); err != nil {
			return total, err
		}
		total += len(expired)
		if len(expired) < purgeBatch {
			return total, nil
		}
	}
}

func newEvidenceID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "ev-" + hex.EncodeToString(b)
}
