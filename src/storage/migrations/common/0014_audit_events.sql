-- 0014: audit events (src/audit/): one row per security-relevant change, written in the
-- transaction of the change; logged_at is set once the row was written to the log.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,      -- 'user', 'partner', 'operator', 'system'
    user_id    TEXT,
    client_id  TEXT,
    remote     TEXT,
    detail     TEXT NOT NULL,      -- a JSON object, never a secret
    logged_at  BIGINT
);
CREATE INDEX audit_events_created ON audit_events(created_at);
CREATE INDEX audit_events_user ON audit_events(user_id, created_at);
CREATE INDEX audit_events_client ON audit_events(client_id, created_at);
CREATE INDEX audit_events_unlogged ON audit_events(created_at) WHERE logged_at IS NULL;
