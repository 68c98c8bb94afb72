-- The trace a message belongs to (W3C Trace Context): trace_id is shown
-- to operators, to find the message's spans in the tracing backend;
-- trace_parent and trace_state are the context of the span that stored
-- it, so that an async delivery, even after a restart, continues the same
-- trace. Messages stored before this column, or outside any trace, have ''.
ALTER TABLE messages ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN trace_parent TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN trace_state TEXT NOT NULL DEFAULT '';
