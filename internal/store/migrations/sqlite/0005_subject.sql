-- The business object a message is about (a security's ISIN), set by the
-- adapter or channel that knows it, so that every message about one
-- object, whichever route carried it, is found without reading bodies.
-- Most messages have none: the index holds only those that do, and a
-- query names its predicate (subject <> '') so that both backends use it.
ALTER TABLE messages ADD COLUMN subject TEXT NOT NULL DEFAULT '';
CREATE INDEX IF NOT EXISTS messages_subject ON messages (subject, created_at, id) WHERE subject <> '';
