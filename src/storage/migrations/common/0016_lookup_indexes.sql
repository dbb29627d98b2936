-- 0016: indexes for lookups that scanned a table that only grows (found by running EXPLAIN
-- QUERY PLAN on every repository statement): a user's token families (the dashboard's
-- connected apps on every view; `users disable`), a user's personal API keys (the dashboard's
-- keys on every view; disconnecting an app), and the fanned-out webhook events the background
-- purge looks for (it read every event of the retention window, every round).
CREATE INDEX IF NOT EXISTS token_families_user ON token_families(user_id);
CREATE INDEX IF NOT EXISTS personal_api_keys_user ON personal_api_keys(user_id);
CREATE INDEX IF NOT EXISTS webhook_events_fanned ON webhook_events(created_at) WHERE fanned_out = 1;
