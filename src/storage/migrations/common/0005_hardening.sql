-- 0005: deep links are a capability the operator grants (off by default): a deep link logs a
-- person in, which is more than an access token's scopes allow.
ALTER TABLE oauth_clients ADD COLUMN can_issue_deep_links BIGINT NOT NULL DEFAULT 0;

-- /oauth/authorize without redirect_uri (allowed when the client has exactly one): the code is
-- then not bound to it, and the token request need not repeat it (RFC 6749 §4.1.3).
ALTER TABLE authorization_requests ADD COLUMN redirect_uri_sent BIGINT NOT NULL DEFAULT 1;

-- Expired rows are purged as new ones are written (web::BrowserRepository::purge_expired).
CREATE INDEX sessions_expires ON sessions(expires_at);
CREATE INDEX authorization_requests_expires ON authorization_requests(expires_at);
CREATE INDEX deep_links_expires ON deep_links(expires_at);
