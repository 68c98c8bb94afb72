-- The held-for-clarification queue. A HELD message keeps its payload in
-- messages like a QUEUED one; why it is held is in holds (one row per
-- message, rewritten when it is held again), and an operator's proposed
-- edits in held_changes until they are approved or declined. A change's
-- payload is the unmasked body it would send, so it is dropped (NULL)
-- once the change is decided: the message's payload is then the one kept.
CREATE TABLE holds (
    message_id TEXT PRIMARY KEY,
    reasons    TEXT NOT NULL,
    held_at    TEXT NOT NULL
);

CREATE TABLE held_changes (
    id            TEXT PRIMARY KEY,
    message_id    TEXT NOT NULL,
    payload       BLOB,
    digest_before TEXT NOT NULL,
    digest_after  TEXT NOT NULL,
    proposer      TEXT NOT NULL,
    reason        TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    decided_by    TEXT NOT NULL DEFAULT '',
    decided_at    TEXT,
    state         TEXT NOT NULL
);
CREATE INDEX held_changes_message ON held_changes (message_id, created_at);
