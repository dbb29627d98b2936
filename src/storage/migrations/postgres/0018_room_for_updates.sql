-- 0018: room on each page for the updates the token flow makes. PostgreSQL writes an updated row
-- as a new version; when that version fits on the row's own page and no indexed column changed,
-- the update is HOT: no new entry in any index, so no index page (nor its full-page image after a
-- checkpoint) reaches the WAL, and the indexes do not fill with entries of dead versions. Each
-- refresh updates the refresh token it replaces (rotated_at) and the access token minted with it
-- (revoked_at); each code exchange updates its code (consumed_at, family_id). With pages filled
-- to 100 %, bench/pg-wal.sh counted 32 % of the refresh tokens' updates HOT at 32 clients and
-- 41 % of the codes' at 8; with 30 % kept free, 81 % and 89 %, and the WAL of a refresh at 32
-- clients 24 % smaller (docs/PERFORMANCE.md). The price is more heap for these tables (rows of
-- codes and tokens are purged once expired). It applies to pages written from now on.
ALTER TABLE refresh_tokens SET (fillfactor = 70);
ALTER TABLE access_tokens SET (fillfactor = 70);
ALTER TABLE authorization_codes SET (fillfactor = 70);
