-- 0013: `provisiond clients delete` keeps the client's row as a tombstone: its revoked token
-- families, codes and webhook events still name it, and the id is never given to another partner.
-- A deleted client is inactive and stays so; `clients list` leaves it out.
ALTER TABLE oauth_clients ADD COLUMN deleted_at BIGINT;
