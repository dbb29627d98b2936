-- PostgreSQL dialect of the sqlite migration of the same name (sqlite/0015_ascii_case.sql).
-- `users list --search` folds ASCII case only (lower(email) LIKE the term, lowered in C++ the same
-- way). SQLite's lower() folds A-Z only; PostgreSQL's follows the column's collation, and under a
-- UTF-8 locale it would fold É to é as well. The C collation folds A-Z only, on every server.
ALTER TABLE users ALTER COLUMN email TYPE TEXT COLLATE "C";
