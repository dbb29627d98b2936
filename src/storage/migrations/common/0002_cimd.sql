-- 0002: clients that register themselves with a metadata document (CIMD), the operator
-- blocklist, and organization verification tokens (docs/CIMD.md).

ALTER TABLE oauth_clients ADD COLUMN logo_uri TEXT;
-- The organization a verification token linked this client to ("verified"); NULL otherwise.
ALTER TABLE oauth_clients ADD COLUMN organization_id TEXT REFERENCES organizations(id);

CREATE TABLE cimd_documents (
    client_id       TEXT PRIMARY KEY,             -- the document URL
    state           TEXT NOT NULL,                -- 'registering' | 'registered' | 'failed'
    document        TEXT,                         -- the last good document, as fetched
    fetched_at      BIGINT,
    fresh_until     BIGINT NOT NULL DEFAULT 0,    -- refresh after this (retry time after a failure)
    last_attempt_at BIGINT,
    last_error      TEXT,
    lease_until     BIGINT NOT NULL DEFAULT 0,    -- a process owns the fetch until then
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE client_blocklist (
    entry      TEXT PRIMARY KEY,                  -- a client URL or a host name
    kind       TEXT NOT NULL,                     -- 'url' | 'domain'
    reason     TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

CREATE TABLE verification_tokens (
    id              TEXT PRIMARY KEY,             -- UUID
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    token_hash      TEXT NOT NULL UNIQUE,
    hint            TEXT NOT NULL,                -- phvt_…abcd
    bound_client_id TEXT,                         -- the first client whose document carried it
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    last_used_at    BIGINT
);
CREATE INDEX verification_tokens_organization ON verification_tokens(organization_id);
