package store

import (
	"context"
	"fmt"
	"time"
)

const evidenceCols = "id, message_id, route, direction, source, sha256, size, key_id, nonce, ciphertext, received_at, expires_at"

// writeEvidence inserts and purges evidence inside a batch's transaction.
// Evidence is rare next to messages and audit records (one document per
// signed exchange), so its statements are not prepared in chunks.
func (s *SQLStore) writeEvidence(st steps, reqs []*request) {
	insert := s.d.rebind("INSERT INTO evidence (" + evidenceCols + ") VALUES " + placeholders(1, 12) +
		" ON CONFLICT (message_id, sha256) DO NOTHING")
	del := s.d.rebind("DELETE FROM evidence WHERE id = ?")
	for _, r := range reqs {
		for _, e := range r.ev.Evidence {
			st.execSQL("insert evidence", insert, e.ID, e.MessageID, e.Route, string(e.Direction), e.Source, e.SHA256,
				e.Size, e.KeyID, e.Nonce, e.Ciphertext, s.d.ts(e.ReceivedAt), s.d.ts(e.ExpiresAt))
		}
		for _, id := range r.ev.PurgeEvidence {
			st.execSQL("purge evidence", del, id)
		}
	}
}

const (
	evidenceQuery = "SELECT " + evidenceCols + " FROM evidence WHERE message_id = ? ORDER BY received_at, id"
	expiredQuery  = "SELECT id, message_id, route, direction, source, sha256, size, key_id, received_at, expires_at " +
		"FROM evidence WHERE expires_at < ? ORDER BY expires_at LIMIT ?"
)

// Evidence returns the documents kept for messageID, sealed as stored.
func (s *SQLStore) Evidence(ctx context.Context, messageID string) ([]Evidence, error) {
	return s.queryEvidence(ctx, fmt.Sprintf("evidence of %q", messageID), evidenceQuery, true, messageID)
}

// ExpiredEvidence lists records whose retention ended before t, oldest
// expiry first, without their ciphertext.
func (s *SQLStore) ExpiredEvidence(ctx context.Context, t time.Time, limit int) ([]Evidence, error) {
	if limit <= 0 {
		limit = defaultLimit
	}
	return s.queryEvidence(ctx, "expired evidence", expiredQuery, false, s.d.ts(t), min(limit, maxLimit))
}

// queryEvidence runs one of the evidence reads; sealed says whether the
// query selects nonce and ciphertext.
func (s *SQLStore) queryEvidence(ctx context.Context, what, q string, sealed bool, args ...any) ([]Evidence, error) {
	rows, err := s.rdb.QueryxContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	defer rows.Close()
	out := []Evidence{}
	for rows.Next() {
		var e Evidence
		var received, expires dbTime
		dest := []any{&e.ID, &e.MessageID, &e.Route, &e.Direction, &e.Source, &e.SHA256, &e.Size, &e.KeyID}
		if sealed {
			dest = append(dest, &e.Nonce, &e.Ciphertext)
		}
		if err := rows.Scan(append(dest, &received, &expires)...); err != nil {
			return nil, fmt.Errorf("store: %s: %w", what, err)
		}
		e.ReceivedAt, e.ExpiresAt = received.Time, expires.Time
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return out, nil
}
