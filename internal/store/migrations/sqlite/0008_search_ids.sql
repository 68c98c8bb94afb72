-- Operators look a message up by an id it carries (an end-to-end id, a
-- SHEP messageId, the caller's correlation id) without knowing its route.
-- (external_id, route) serves that and the channels' lookups by route and
-- external id alike, so it replaces (route, external_id) at no extra cost
-- per write. Correlation ids are looked up the same way; the index holds
-- only rows that have one, and a query names its predicate so that both
-- backends use it.
DROP INDEX IF EXISTS messages_route_external_id;
CREATE INDEX IF NOT EXISTS messages_external_id_route ON messages (external_id, route);
CREATE INDEX IF NOT EXISTS messages_correlation ON messages (correlation_id, created_at, id) WHERE correlation_id <> '';
