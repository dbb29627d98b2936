-- 0012: the operator can disable a person (`provisiond users disable`). While disabled_at is set
-- they cannot log in on the pages, a session they still hold is not theirs any more, and their
-- set-password links do not work; `users enable` clears it. Their grants are revoked when they
-- are disabled (that is not undone: partners ask for consent again).
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
