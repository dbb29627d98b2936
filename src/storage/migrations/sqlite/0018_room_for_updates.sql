-- Nothing to change on SQLite: it updates a row in place, in its b-tree page, and an update that
-- changes no indexed column touches no index (postgres/0018 makes room for the same on PostgreSQL).
SELECT 1;
