-- Nothing to change on SQLite: its lower() folds A-Z only, which is what `users list --search`
-- promises. PostgreSQL needs the C collation on users.email for the same (postgres/0015).
SELECT 1;
