-- 0009: every email has an HTML part next to its plain text (multipart/alternative, rendered from
-- the same content by outbox/email_template.hpp). Messages queued before stay plain text.
ALTER TABLE outbox ADD COLUMN body_html TEXT NOT NULL DEFAULT '';
