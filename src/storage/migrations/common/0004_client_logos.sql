-- 0004: partner logos, fetched by us from the document's logo_uri and served from our origin
-- (CIMD draft §8.8: no hot-linking, no swap after review, no tracking of our users).

CREATE TABLE client_logos (
    client_id    TEXT PRIMARY KEY,
    source_uri   TEXT NOT NULL,                   -- the logo_uri it was fetched from
    content_type TEXT NOT NULL,                   -- image/png | image/jpeg | image/gif | image/webp
    data_base64  TEXT NOT NULL,
    fetched_at   BIGINT NOT NULL
);
