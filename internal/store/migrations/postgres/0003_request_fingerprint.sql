-- An Idempotency-Key stands for one request, not for whatever is sent with
-- it: the SHA-256 of the first call's canonical body is kept with the key,
-- so that a repeat with another body is refused instead of being answered
-- with the first call's result. Messages stored before this column have ''
-- and are compared by route only.
ALTER TABLE messages ADD COLUMN request_fingerprint TEXT NOT NULL DEFAULT '';
