#!/usr/bin/env bash
# How many pages one token request writes, and into which b-trees: N refresh rotations (or N
# PKCE code exchanges) one after the other (one client, so one commit each) on a fresh SQLite
# database whose WAL is emptied first, then the WAL frames they wrote, counted by page and mapped
# to their table or index (sqlite3's dbstat). A count, not a timing: it does not depend on the
# machine's load, so it is the figure to compare when a change to the schema or to the write
# unit means to write fewer pages. Loopback only.
#
#   bash bench/wal-frames.sh [PROVISIOND] [N] [refresh|code]
#                     # defaults: build-release/provisiond, N = 100, refresh
#
# The codes are rows written before the WAL is emptied (prep.mjs pvd-codes, as bench/run.sh's
# code workload does). The server's checkpointing thread starts the WAL over whenever it has
# copied every frame (at least once a second), writing over the frames before: a run during
# which that happened is seen (fewer commits than requests, or frames of the WAL before) and
# run again, up to five times. Keep N near 100 so that a run fits between two of those.
#
# Needs node (the system's is enough: prep.mjs uses only its built-ins) and the sqlite3 CLI.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROVISIOND=$(realpath "${1:-$HERE/../build-release/provisiond}")
N=${2:-100}
MODE=${3:-refresh}
[[ $MODE == refresh || $MODE == code ]] || { echo "wal-frames: the third argument is refresh or code" >&2; exit 2; }
ATTEMPTS=5
TMP=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
# shellcheck source-path=SCRIPTDIR source=lib/one-server.sh
source "$HERE/lib/one-server.sh"
start_one_server "$PROVISIOND" "$TMP"
port=$PORT db=$DB

# The pool: one refresh token (each run goes on from the last one returned), or N codes per run.
if [[ $MODE == refresh ]]; then
  make_pool refresh 1 "$TMP/pool.txt"
  sleep 3 # the set-up's welcome email leaves the outbox first
else
  make_pool code $((N * ATTEMPTS)) "$TMP/pool.txt"
fi

# Start the WAL over (copy it all back, then truncate it to nothing; the server is idle), so that
# every frame it holds after the run is one the run wrote. The size of the WAL file is no
# measure: it does not shrink when the WAL starts over from its beginning.
empty_wal() {
  for _ in 1 2 3 4 5; do
    [ "$(sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE)' | cut -d'|' -f1)" = 0 ] && break
    sleep 1
  done
  [ "$(stat -c %s "$db-wal")" = 0 ] || { echo "wal-frames: could not empty the WAL before the run" >&2; exit 1; }
}

# One request at a time: a refresh sends the token the last one returned (and leaves the last
# in the pool file for the next run), a code exchange the next code of the pool.
send_requests() {
  # shellcheck disable=SC2016 # the quoted text is JavaScript
  node -e '
const fs = require("fs");
const [port, mode, poolFile, first, n] = process.argv.slice(1);
const pool = fs.readFileSync(poolFile, "utf8").trim().split("\n");
let token = pool[0];
(async () => {
  for (let i = Number(first); i < Number(first) + Number(n); i++) {
    const form = { client_id: "bench" };
    if (mode === "refresh") Object.assign(form, { grant_type: "refresh_token", refresh_token: token });
    else {
      const [code, verifier] = pool[i].split(" ");
      Object.assign(form, { grant_type: "authorization_code", code, code_verifier: verifier });
    }
    const res = await fetch(`http://127.0.0.1:${port}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });
    const body = await res.json();
    if (!body.refresh_token) { console.error(res.status, body); process.exit(1); }
    token = body.refresh_token;
  }
  if (mode === "refresh") fs.writeFileSync(poolFile, token + "\n");
})();' "$port" "$MODE" "$TMP/pool.txt" "$1" "$N"
}

# Exits 3 when the WAL started over during the run.
count_frames() {
  sqlite3 "$db" "SELECT pageno, name FROM dbstat" > "$TMP/pages.txt"
  python3 - "$db-wal" "$N" "$TMP/pages.txt" "$MODE" <<'PY'
import struct, sys
wal_path, n, map_path, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
what = "refreshes" if mode == "refresh" else "code exchanges"
per = "refresh" if mode == "refresh" else "code exchange"
wal = open(wal_path, "rb").read()
page_size = struct.unpack(">I", wal[8:12])[0]
salts = wal[16:24]
frame = 24 + page_size
# The frames of this WAL are those that carry its header's salts, from the header on. A frame
# after them with other salts is one the WAL wrote before it started over during the run.
end = 32
while end + frame <= len(wal) and wal[end + 8:end + 16] == salts:
    end += frame
owner = {}
for line in open(map_path):
    page, name = line.rstrip("\n").split("|", 1)
    owner[int(page)] = name
frames, commits, by_tree = 0, 0, {}
for off in range(32, end, frame):
    page, commit_size = struct.unpack(">II", wal[off:off + 8])
    frames += 1
    commits += commit_size != 0
    name = owner.get(page, f"page {page}")
    by_tree[name] = by_tree.get(name, 0) + 1
# One client: one commit per request; fewer means the first ones were written over.
if end + frame <= len(wal) or commits != n:
    print(f"wal-frames: the WAL started over during the run ({commits} commits left of {n}); again",
          file=sys.stderr)
    sys.exit(3)
print(f"{n} {what}: {frames} WAL frames in {commits} commits, {frames / n:.1f} frames "
      f"({frames * frame / n / 1024:.1f} KiB) per {per}")
for name, count in sorted(by_tree.items(), key=lambda kv: -kv[1]):
    print(f"  {count / n:5.2f}  {name}")
PY
}

for ((attempt = 0; attempt < ATTEMPTS; attempt++)); do
  empty_wal
  send_requests $((attempt * N))
  rc=0
  count_frames || rc=$?
  [[ $rc == 3 ]] || exit "$rc"
done
echo "wal-frames: the WAL started over in each of $ATTEMPTS runs: use a smaller N" >&2
exit 1
