-- The held-for-clarification queue, PostgreSQL dialect: the same tables as
-- the SQLite migration; only the column types differ.
CREATE TABLE holds (
    message_id TEXT        PRIMARY KEY,
    reasons    TEXT        NOT NULL,
    held_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE held_changes (
    id            TEXT        PRIMARY KEY,
    message_id    TEXT        NOT NULL,
    payload       BYTEA,
    digest_before TEXT        NOT NULL,
    digest_after  TEXT        NOT NULL,
    proposer      TEXT        NOT NULL,
    reason        TEXT        NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    decided_by    TEXT        NOT NULL DEFAULT '',
    decided_at    TIMESTAMPTZ,
    state         TEXT        NOT NULL
);
CREATE INDEX held_changes_message ON held_changes (message_id, created_at);
