-- 0011: indexes for background maintenance (maintenance/sweeper.hpp), which deletes rows past
-- their time in small batches: each batch finds its rows by these columns, not by a table scan.
CREATE INDEX IF NOT EXISTS access_tokens_expires ON access_tokens(expires_at);
CREATE INDEX IF NOT EXISTS refresh_tokens_expires ON refresh_tokens(expires_at);
CREATE INDEX IF NOT EXISTS pending_consents_expires ON pending_consents(expires_at);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires_at);
CREATE INDEX IF NOT EXISTS password_set_tokens_expires ON password_set_tokens(expires_at);
CREATE INDEX IF NOT EXISTS rate_limit_counters_window ON rate_limit_counters(window_start);
CREATE INDEX IF NOT EXISTS outbox_delivered ON outbox(delivered_at) WHERE delivered_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS webhook_deliveries_delivered ON webhook_deliveries(delivered_at) WHERE delivered_at IS NOT NULL;
