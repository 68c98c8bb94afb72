-- Evidence, PostgreSQL dialect: the same table as the SQLite migration;
-- only the column types differ.
CREATE TABLE evidence (
    id          TEXT        PRIMARY KEY,
    message_id  TEXT        NOT NULL,
    route       TEXT        NOT NULL DEFAULT '',
    direction   TEXT        NOT NULL,
    source      TEXT        NOT NULL DEFAULT '',
    sha256      TEXT        NOT NULL,
    size        BIGINT      NOT NULL,
    key_id      TEXT        NOT NULL,
    nonce       BYTEA       NOT NULL,
    ciphertext  BYTEA       NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX evidence_message_digest ON evidence (message_id, sha256);
CREATE INDEX evidence_expires ON evidence (expires_at);
