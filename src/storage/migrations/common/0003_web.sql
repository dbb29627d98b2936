-- 0003: what people use in the browser: sessions, deep-link login tokens, and authorization
-- requests of the standard OAuth flow (docs/PAGES.md). Secrets are stored as SHA-256 only.

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL                 -- absolute end; idle end is last_seen_at + idle
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE deep_links (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    client_id  TEXT NOT NULL,
    project_id BIGINT,
    purpose    TEXT NOT NULL,
    path       TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);

-- GET /oauth/authorize, waiting for the person to log in and approve.
CREATE TABLE authorization_requests (
    state_hash     TEXT PRIMARY KEY,             -- our own state in the consent URL
    client_id      TEXT NOT NULL REFERENCES oauth_clients(client_id),
    redirect_uri   TEXT NOT NULL,
    client_state   TEXT,                         -- the client's state, echoed back
    scopes         TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
