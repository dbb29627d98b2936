-- 0007: the operator can vouch for a partner (`provisiond clients set-verified <id> on`): the
-- consent page then shows it as verified, as it does a metadata-document client linked to an
-- organization by a verification token.
ALTER TABLE oauth_clients ADD COLUMN operator_verified BIGINT NOT NULL DEFAULT 0;
