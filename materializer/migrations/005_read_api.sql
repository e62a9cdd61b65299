-- 005_read_api.sql — indexes for the read API (docs/http.md, "Reads";
-- docs/schema.md). Indexes only: no row changes, no re-application.
--
-- A user's conversation across every server, newest page first
-- (GET /v1/users/{u}/messages without server=): walked in seq order from
-- this index. On one server, messages_by_user (user_rowid, server, and the
-- rowid seq that every SQLite index ends with) already walks in seq order.
CREATE INDEX messages_by_user_seq ON messages (user_rowid, seq);

-- Metrics of every name in time order (GET /v1/metrics without name=);
-- metrics_by_name_time serves one name.
CREATE INDEX metrics_by_time ON metrics (ts_ms);
