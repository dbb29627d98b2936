-- 0010: webhooks (Standard Webhooks; src/webhooks/). An event is written in the transaction of
-- its change; the worker fans it out to the endpoints that want it and delivers each copy until
-- the endpoint answers 2xx.
CREATE TABLE webhook_endpoints (
    id         TEXT PRIMARY KEY,      -- 'ep_…' ('settings', the --webhook-url endpoint, is not here)
    url        TEXT NOT NULL,
    secret_box TEXT NOT NULL,         -- the signing secret, sealed under the secrets key file
    events     TEXT NOT NULL,         -- comma-separated event types; '' = every event
    created_at BIGINT NOT NULL
);

CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,      -- 'msg_…': the webhook-id, the same on every retry
    type       TEXT NOT NULL,
    body       TEXT NOT NULL,         -- the exact bytes sent and signed
    created_at BIGINT NOT NULL,
    fanned_out BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX webhook_events_unfanned ON webhook_events(created_at) WHERE fanned_out = 0;

CREATE TABLE webhook_deliveries (
    event_id        TEXT NOT NULL REFERENCES webhook_events(id),
    endpoint_id     TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT,
    PRIMARY KEY (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at) WHERE delivered_at IS NULL;
