-- A page of the messages in one status, newest first (the recovery sweep,
-- bulk replay, the admin listing), walks this index in order and stops at
-- its limit; with only (status, route) every message in the status was read
-- and sorted for each page. IF NOT EXISTS lets an operator of a large
-- PostgreSQL database build it beforehand with CREATE INDEX CONCURRENTLY
-- instead of blocking writes while this migration builds it.
CREATE INDEX IF NOT EXISTS messages_status_created ON messages (status, created_at, id);
