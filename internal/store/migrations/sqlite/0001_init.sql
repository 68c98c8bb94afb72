-- Köpir message store, SQLite dialect. Timestamps are UTC text in the
-- fixed-width form 2006-01-02T15:04:05.000000Z so that they sort as text.
CREATE TABLE messages (
    id              TEXT    PRIMARY KEY,
    route           TEXT    NOT NULL DEFAULT '',
    direction       TEXT    NOT NULL DEFAULT '',
    caller          TEXT    NOT NULL DEFAULT '',
    correlation_id  TEXT    NOT NULL DEFAULT '',
    idempotency_key TEXT    NOT NULL DEFAULT '',
    external_id     TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL,
    http_status     INTEGER NOT NULL DEFAULT 0,
    error           TEXT    NOT NULL DEFAULT '',
    request_body    TEXT,
    response_body   TEXT,
    payload         BLOB,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE INDEX messages_status_route ON messages (status, route);
CREATE UNIQUE INDEX messages_idempotency_uq ON messages (caller, idempotency_key) WHERE idempotency_key <> '';
CREATE INDEX messages_route_external_id ON messages (route, external_id);
CREATE INDEX messages_created ON messages (created_at, id);

CREATE TABLE attempts (
    message_id    TEXT    NOT NULL REFERENCES messages (id),
    n             INTEGER NOT NULL,
    endpoint      TEXT    NOT NULL DEFAULT '',
    http_status   INTEGER NOT NULL DEFAULT 0,
    latency_ms    REAL    NOT NULL DEFAULT 0,
    error         TEXT    NOT NULL DEFAULT '',
    request_body  BLOB,
    response_body BLOB,
    started_at    TEXT    NOT NULL,
    PRIMARY KEY (message_id, n)
);

CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,
    message_id TEXT    NOT NULL DEFAULT '',
    actor      TEXT    NOT NULL DEFAULT '',
    action     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE INDEX audit_message ON audit (message_id, seq);

-- audit_head mirrors the last audit record, written in the same transaction,
-- so that deleting the tail of audit is detectable.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
