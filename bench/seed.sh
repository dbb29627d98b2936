#!/usr/bin/env bash
# Seeds a migrated provisiond SQLite database for the scale workload, writing the tables directly
# with the sqlite3 CLI (not through the API), in one transaction:
#
#   bash bench/seed.sh DB [ACCOUNTS=100000] [FAMILIES=1000000] [KNOWN_SQL]
#
#   DB        a database made by `provisiond migrate` that already has the partner client `bench`
#   ACCOUNTS  accounts: per account a user, an organization, the owner membership and the default
#             project (the rows account_requests creates)
#   FAMILIES  token families of client `bench`, spread evenly over the accounts (FAMILIES/ACCOUNTS
#             each), each with its current refresh token and access token: the rows the token
#             endpoint writes. Hashes are 64 lowercase hex digits like the server's SHA-256 digests.
#   KNOWN_SQL SQL from `node bench/prep.mjs known-refresh`: a temp table seed_known(i, refresh_hash,
#             access_hash) giving, for some family numbers i, the SHA-256 of a refresh and access
#             token whose plaintexts the bench keeps. Those families are seeded exactly like the
#             others (same statement) except that their hashes are known; without KNOWN_SQL every
#             hash is random (plaintexts nobody knows).
#
# Every token is live and stays so for at least 30 minutes after seeding (access tokens created in
# the last 30 minutes, expiring an hour after; refresh tokens expiring in 30 days), so the server's
# maintenance sweep (which runs when it starts) finds nothing to delete. Prints one JSON line.
set -euo pipefail
DB=${1:?usage: seed.sh DB [ACCOUNTS] [FAMILIES] [KNOWN_SQL]}
ACCOUNTS=${2:-100000}
FAMILIES=${3:-1000000}
KNOWN_SQL=${4:-}
[[ -f $DB ]] || { echo "seed.sh: no database at $DB (run provisiond migrate first)" >&2; exit 2; }
command -v sqlite3 > /dev/null || { echo "seed.sh: needs the sqlite3 CLI (apt-get install sqlite3)" >&2; exit 2; }
NOW=$(date +%s)
T0=$(date +%s.%N)
PSTART=$(sqlite3 "$DB" 'SELECT coalesce(max(id), 0) + 1 FROM projects')
[[ "$(sqlite3 "$DB" "SELECT count(*) FROM oauth_clients WHERE client_id = 'bench'")" == 1 ]] ||
  { echo "seed.sh: client bench is missing from $DB" >&2; exit 2; }

uuid="lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
  substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))"

{
  # Bulk load: no journal (a failed seed leaves a database to throw away), a 1 GiB page cache.
  # The database goes back to WAL, the mode the server runs it in, at the end.
  cat <<SQL
.bail on
PRAGMA journal_mode = DELETE;
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;
BEGIN;
SQL
  if [[ -n $KNOWN_SQL ]]; then cat "$KNOWN_SQL"; else
    echo 'CREATE TEMP TABLE seed_known (i INTEGER PRIMARY KEY, refresh_hash TEXT NOT NULL, access_hash TEXT NOT NULL);'
  fi
  cat <<SQL
CREATE TEMP TABLE seed_accounts AS
  WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $ACCOUNTS)
  SELECT i, $uuid AS user_id, $uuid AS org_id, $PSTART + i - 1 AS project_id,
         $NOW - 86400 * 60 + abs(random()) % (86400 * 30) AS created_at
  FROM s;
INSERT INTO users (id, email, email_normalized, first_name, name, email_verified, created_at)
  SELECT user_id, 'seed-' || i || '@seed.example', 'seed-' || i || '@seed.example', 'Seed',
         'Seed User ' || i, 1, created_at FROM seed_accounts;
INSERT INTO organizations (id, name, region, created_at)
  SELECT org_id, 'Seed Org ' || i, 'US', created_at FROM seed_accounts;
INSERT INTO memberships (organization_id, user_id, role, created_at)
  SELECT org_id, user_id, 'owner', created_at FROM seed_accounts;
INSERT INTO projects (id, organization_id, name, api_token, created_at)
  SELECT project_id, org_id, 'Default project', 'phc_' || substr(hex(randomblob(22)), 1, 43), created_at
  FROM seed_accounts;
CREATE TEMP TABLE seed_families AS
  WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $FAMILIES)
  SELECT s.i AS i, $uuid AS id, a.user_id, a.org_id, a.project_id,
         a.created_at + abs(random()) % (86400 * 20) AS family_created,
         $NOW - abs(random()) % 1800 AS token_created,
         coalesce(k.refresh_hash, lower(hex(randomblob(32)))) AS refresh_hash,
         coalesce(k.access_hash, lower(hex(randomblob(32)))) AS access_hash
  FROM s
  JOIN seed_accounts a ON a.i = (s.i - 1) % $ACCOUNTS + 1
  LEFT JOIN seed_known k ON k.i = s.i;
INSERT INTO token_families (id, client_id, user_id, organization_id, scopes, project_ids, created_at)
  SELECT id, 'bench', user_id, org_id, 'project:read user:read', '[' || project_id || ']', family_created
  FROM seed_families ORDER BY id;
INSERT INTO access_tokens (token_hash, family_id, created_at, expires_at)
  SELECT access_hash, id, token_created, token_created + 3600 FROM seed_families ORDER BY access_hash;
INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, access_token_hash, created_at, expires_at)
  SELECT refresh_hash, id, NULL, access_hash, token_created, token_created + 2592000
  FROM seed_families ORDER BY refresh_hash;
SELECT 'known families seeded: ' || count(*) FROM seed_known k JOIN seed_families f ON f.i = k.i;
DROP TABLE seed_families;
DROP TABLE seed_accounts;
DROP TABLE seed_known;
COMMIT;
PRAGMA journal_mode = WAL;
SQL
} | sqlite3 "$DB" > "$DB.seed.log"

T1=$(date +%s.%N)
counts=$(sqlite3 "$DB" "SELECT (SELECT count(*) FROM users) || ' ' || (SELECT count(*) FROM token_families) || ' ' ||
  (SELECT count(*) FROM refresh_tokens) || ' ' || (SELECT count(*) FROM access_tokens)")
read -r users families refresh access <<< "$counts"
known=$(sed -n 's/^known families seeded: //p' "$DB.seed.log")
printf '{"accounts":%d,"families":%d,"known_families":%d,"users_total":%d,"token_families_total":%d,"refresh_tokens_total":%d,"access_tokens_total":%d,"seconds":%.1f,"db_bytes":%d}\n' \
  "$ACCOUNTS" "$FAMILIES" "${known:-0}" "$users" "$families" "$refresh" "$access" "$(awk "BEGIN {print $T1 - $T0}")" "$(stat -c %s "$DB")"
rm -f "$DB.seed.log"
