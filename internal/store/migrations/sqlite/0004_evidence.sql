-- Evidence: signed documents kept exactly as received or sent, so that a
-- signature can be shown later. The document is AES-256-GCM ciphertext
-- (personal data at rest); key_id names the key that sealed it, so keys can
-- rotate. received_at is when the bus received or sent it (the signing time
-- of last resort); expires_at is when its route's retention ends.
CREATE TABLE evidence (
    id          TEXT    PRIMARY KEY,
    message_id  TEXT    NOT NULL,
    route       TEXT    NOT NULL DEFAULT '',
    direction   TEXT    NOT NULL,
    source      TEXT    NOT NULL DEFAULT '',
    sha256      TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    key_id      TEXT    NOT NULL,
    nonce       BLOB    NOT NULL,
    ciphertext  BLOB    NOT NULL,
    received_at TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
);
-- One copy of a document per message: a retry sends the same bytes again.
CREATE UNIQUE INDEX evidence_message_digest ON evidence (message_id, sha256);
CREATE INDEX evidence_expires ON evidence (expires_at);
