package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

const heldChangeCols = "id, message_id, payload, digest_before, digest_after, proposer, reason, created_at, decided_by, decided_at, state"

// writeHeld writes holds and held changes inside a batch's transaction.
// Like evidence they are rare next to messages, so their statements are
// not prepared in chunks.
func (s *SQLStore) writeHeld(st steps, reqs []*request) error {
	hold := s.d.rebind(`INSERT INTO holds (message_id, reasons, held_at) VALUES (?, ?, ?)
ON CONFLICT (message_id) DO UPDATE SET reasons = excluded.reasons, held_at = excluded.held_at`)
	// A decided change keeps what was decided and drops its payload; the
	// proposal's own fields never change.
	change := s.d.rebind("INSERT INTO held_changes (" + heldChangeCols + ") VALUES " + placeholders(1, 11) + `
ON CONFLICT (id) DO UPDATE SET state = excluded.state, decided_by = excluded.decided_by,
  decided_at = excluded.decided_at, payload = CASE WHEN excluded.state = 'PENDING' THEN held_changes.payload ELSE NULL END`)
	for _, r := range reqs {
		if h := r.ev.Hold; h != nil {
			reasons, err := json.Marshal(h.Reasons)
			if err != nil {
				return fmt.Errorf("hold of %q: %w", h.MessageID, err)
			}
			at := h.HeldAt
			if at.IsZero() {
				at = r.now
			}
			st.execSQL(fmt.Sprintf("hold of %q", h.MessageID), hold, h.MessageID, string(reasons), s.d.ts(at))
		}
		for _, c := range r.ev.HeldChanges {
			created := c.CreatedAt
			if created.IsZero() {
				created = r.now
			}
			var decided any
			if !c.DecidedAt.IsZero() {
				decided = s.d.ts(c.DecidedAt)
			}
			payload := c.Payload
			if c.State != ChangePending {
				payload = nil
			}
			st.execSQL(fmt.Sprintf("held change %q", c.ID), change, c.ID, c.MessageID, s.d.blob(payload), c.DigestBefore, c.DigestAfter,
				c.Proposer, c.Reason, s.d.ts(created), c.DecidedBy, decided, string(c.State))
		}
	}
	return nil
}

const heldChangesQuery = "SELECT " + heldChangeCols + " FROM held_changes WHERE message_id = ? ORDER BY created_at, id"

// Holds returns the holds of ids, by message id.
func (s *SQLStore) Holds(ctx context.Context, ids []string) (map[string]Hold, error) {
	out := make(map[string]Hold, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	q := s.d.rebind("SELECT message_id, reasons, held_at FROM holds WHERE message_id IN (" +
		strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")")
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.rdb.QueryxContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: holds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h Hold
		var reasons string
		var at dbTime
		if err := rows.Scan(&h.MessageID, &reasons, &at); err != nil {
			return nil, fmt.Errorf("store: holds: %w", err)
		}
		if err := json.Unmarshal([]byte(reasons), &h.Reasons); err != nil {
			return nil, fmt.Errorf("store: hold of %q: reasons: %w", h.MessageID, err)
		}
		h.HeldAt = at.Time
		out[h.MessageID] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: holds: %w", err)
	}
	return out, nil
}

// HeldChanges returns the changes proposed to messageID, oldest first.
func (s *SQLStore) HeldChanges(ctx context.Context, messageID string) ([]HeldChange, error) {
	rows, err := s.rdb.QueryxContext(ctx, s.d.rebind(heldChangesQuery), messageID)
	if err != nil {
		return nil, fmt.Errorf("store: held changes of %q: %w", messageID, err)
	}
	defer rows.Close()
	out := []HeldChange{}
	for rows.Next() {
		var c HeldChange
		var created, decided dbTime
		var state string
		if err := rows.Scan(&c.ID, &c.MessageID, &c.Payload, &c.DigestBefore, &c.DigestAfter, &c.Proposer, &c.Reason,
			&created, &c.DecidedBy, &decided, &state); err != nil {
			return nil, fmt.Errorf("store: held changes of %q: %w", messageID, err)
		}
		c.CreatedAt, c.DecidedAt, c.State = created.Time, decided.Time, ChangeState(state)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: held changes of %q: %w", messageID, err)
	}
	return out, nil
}
