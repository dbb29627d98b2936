-- 0008: a secret created on a page (a personal API key, a verification token) is shown on the
-- page after the redirect, exactly once (crypto/one_time_seal.hpp). The row holds the sealed box;
-- its key is only in the creator's browser (a cookie), looked up here by its SHA-256. The first
-- view deletes the row; an unviewed one expires within minutes.
CREATE TABLE reveals (
    key_hash   TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    kind       TEXT NOT NULL,   -- 'personal_api_key' | 'verification_token'
    box        TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX reveals_expires ON reveals(expires_at);
