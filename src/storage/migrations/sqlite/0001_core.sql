-- 0001: the core of provisiond: accounts, OAuth clients, codes, token families, provisioning.
-- Times are integer Unix seconds. Secrets (codes, states, tokens, keys) are stored only as
-- lowercase hex SHA-256 digests in columns named *_hash.

CREATE TABLE users (
    id               TEXT PRIMARY KEY,            -- UUID
    email            TEXT NOT NULL,               -- as given
    email_normalized TEXT NOT NULL UNIQUE,        -- lower-cased, trimmed: the identity
    first_name       TEXT NOT NULL DEFAULT '',
    name             TEXT NOT NULL DEFAULT '',
    password_hash    TEXT,                        -- libsodium Argon2id string; NULL until set
    email_verified   INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,                  -- UUID
    name       TEXT NOT NULL,
    region     TEXT NOT NULL,                     -- 'US' | 'EU'
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    role            TEXT NOT NULL,                -- 'owner' | 'admin' | 'member'
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);

CREATE TABLE projects (
    id              INTEGER PRIMARY KEY,          -- integer ids, as PostHog's teams
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    name            TEXT NOT NULL,
    api_token       TEXT NOT NULL UNIQUE,         -- phc_…: a public identifier, stored as is
    created_at      INTEGER NOT NULL
);
CREATE INDEX projects_organization ON projects(organization_id);

CREATE TABLE oauth_clients (
    client_id               TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL,        -- 'registered' | 'cimd'
    redirect_uris           TEXT NOT NULL,        -- JSON array of strings
    scopes                  TEXT NOT NULL,        -- space-separated ceiling, sorted
    is_active               INTEGER NOT NULL DEFAULT 1,
    can_create_accounts     INTEGER NOT NULL DEFAULT 1,
    can_provision_resources INTEGER NOT NULL DEFAULT 1,
    rate_limits             TEXT NOT NULL DEFAULT '{}',  -- JSON {endpoint: per-hour limit, -1 unlimited}
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);

-- One row per authorization: the code, and every access/refresh token minted from it.
CREATE TABLE token_families (
    id              TEXT PRIMARY KEY,             -- UUID
    client_id       TEXT NOT NULL REFERENCES oauth_clients(client_id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    scopes          TEXT NOT NULL,                -- space-separated
    project_ids     TEXT NOT NULL,                -- JSON array of integers: the token's reach
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_reason  TEXT
);
CREATE INDEX token_families_client_user ON token_families(client_id, user_id);

CREATE TABLE authorization_codes (
    code_hash             TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES oauth_clients(client_id),
    user_id               TEXT NOT NULL REFERENCES users(id),
    organization_id       TEXT NOT NULL REFERENCES organizations(id),
    project_id            INTEGER NOT NULL REFERENCES projects(id),
    scopes                TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    redirect_uri          TEXT,                   -- set when the code came from /oauth/authorize
    issued_at             INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    consumed_at           INTEGER,
    family_id             TEXT                    -- set when consumed: the family it started
);
CREATE INDEX authorization_codes_expires ON authorization_codes(expires_at);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id  TEXT NOT NULL REFERENCES token_families(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX access_tokens_family ON access_tokens(family_id);

CREATE TABLE refresh_tokens (
    token_hash        TEXT PRIMARY KEY,
    family_id         TEXT NOT NULL REFERENCES token_families(id),
    parent_hash       TEXT,                       -- the refresh token this one replaced
    access_token_hash TEXT NOT NULL,              -- the access token minted with it
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    rotated_at        INTEGER,                    -- when it was exchanged for a successor
    grace_used        INTEGER NOT NULL DEFAULT 0, -- the one retry inside the grace window was spent
    revoked_at        INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE personal_api_keys (
    id              TEXT PRIMARY KEY,
    key_hash        TEXT NOT NULL UNIQUE,
    mask            TEXT NOT NULL,                -- phx_...abcd
    label           TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id),
    organization_id TEXT NOT NULL REFERENCES organizations(id),
    project_id      INTEGER NOT NULL REFERENCES projects(id),
    client_id       TEXT,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);
CREATE INDEX personal_api_keys_project ON personal_api_keys(project_id);

-- The partner's request id: makes account_requests idempotent (docs/API.md).
CREATE TABLE account_requests (
    client_id        TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    code_challenge   TEXT NOT NULL,
    outcome          TEXT NOT NULL,               -- 'oauth' | 'requires_auth'
    user_id          TEXT NOT NULL,
    organization_id  TEXT,
    project_id       INTEGER,
    code_hash        TEXT,                        -- the newest code handed out for this request
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (client_id, request_id)
);

-- A consent the user must give in the browser (the requires_auth answer).
CREATE TABLE pending_consents (
    state_hash            TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES oauth_clients(client_id),
    email_normalized      TEXT NOT NULL,
    user_id               TEXT NOT NULL REFERENCES users(id),
    scopes                TEXT NOT NULL,
    region                TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL
);
CREATE INDEX pending_consents_client_email ON pending_consents(client_id, email_normalized);

-- A partner's own project id (`project_id` on resources) bound to one of our projects.
CREATE TABLE project_bindings (
    client_id           TEXT NOT NULL,
    external_project_id TEXT NOT NULL,
    project_id          INTEGER NOT NULL REFERENCES projects(id),
    PRIMARY KEY (client_id, external_project_id)
);

CREATE TABLE project_provisioning (
    project_id INTEGER PRIMARY KEY REFERENCES projects(id),
    client_id  TEXT NOT NULL,
    service_id TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE rate_limit_counters (
    bucket       TEXT NOT NULL,                   -- '<endpoint>:<client_id>'
    window_start INTEGER NOT NULL,                -- Unix seconds, multiple of the window
    count        INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

CREATE TABLE password_set_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);

-- Emails waiting to be delivered. A single-use link is never stored here: the body holds the
-- placeholder {{set_password_token}}, and the sender mints the token (keeping only its hash in
-- password_set_tokens) at the moment it delivers. The body is cleared once delivered.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,                -- 'welcome'
    user_id         TEXT,                         -- whose set-password link to mint
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT
);
CREATE INDEX outbox_pending ON outbox(delivered_at, next_attempt_at);
