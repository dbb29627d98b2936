#!/usr/bin/env bash
# How many pages one refresh writes, and into which b-trees: N refresh rotations one after the
# other (one client, so one commit each) on a fresh SQLite database whose WAL is emptied first,
# then the WAL frames they wrote, counted by page and mapped to their table or index (sqlite3's
# dbstat). A count, not a timing: it does not depend on the machine's load, so it is the figure
# to compare when a change to the schema or to the write unit means to write fewer pages.
# Loopback only.
#
#   bash bench/wal-frames.sh [PROVISIOND] [N]      # default build-release/provisiond, N = 100
#
# N stays near 100: at ~8 frames a refresh, the server's checkpoints start the WAL over after
# ~120 refreshes, writing over the first ones; the script stops with an error when it sees that.
#
# Needs node (the system's is enough: prep.mjs uses only its built-ins) and the sqlite3 CLI.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROVISIOND=$(realpath "${1:-$HERE/../build-release/provisiond}")
N=${2:-100}
TMP=$(mktemp -d)
trap 'kill "${SERVER_PID:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
# shellcheck source=lib/one-server.sh
source "$HERE/lib/one-server.sh"
start_one_server "$PROVISIOND" "$TMP"
port=$PORT db=$DB
node "$HERE/prep.mjs" refresh --server provisiond --target "http://127.0.0.1:$port" --n 1 --out "$TMP/tokens.txt" > /dev/null
sleep 3 # the set-up's welcome email leaves the outbox first
# Start the WAL over (copy it all back, then truncate it to nothing; the server is idle), so that
# every frame it holds after the run is one the run wrote. The size of the WAL file is no
# measure: it does not shrink when the WAL starts over from its beginning.
for _ in 1 2 3 4 5; do
  [ "$(sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE)' | cut -d'|' -f1)" = 0 ] && break
  sleep 1
done
[ "$(stat -c %s "$db-wal")" = 0 ] || { echo "wal-frames: could not empty the WAL before the run" >&2; exit 1; }
node -e '
const [port, first, n] = process.argv.slice(1);
let token = first;
(async () => {
  for (let i = 0; i < Number(n); i++) {
    const res = await fetch(`http://127.0.0.1:${port}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: token, client_id: "bench" }),
    });
    const body = await res.json();
    if (!body.refresh_token) { console.error(res.status, body); process.exit(1); }
    token = body.refresh_token;
  }
})();' "$port" "$(head -1 "$TMP/tokens.txt")" "$N"
sqlite3 "$db" "SELECT pageno, name FROM dbstat" > "$TMP/pages.txt"
python3 - "$db-wal" "$N" "$TMP/pages.txt" <<'PY'
import struct, sys
wal_path, n, map_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
wal = open(wal_path, "rb").read()
page_size = struct.unpack(">I", wal[8:12])[0]
salts = wal[16:24]
frame = 24 + page_size
# The frames of this WAL are those that carry its header's salts, from the header on. A frame
# after them with other salts is one the WAL wrote before it started over during the run.
end = 32
while end + frame <= len(wal) and wal[end + 8:end + 16] == salts:
    end += frame
restarted = "the WAL started over during the run (the server's checkpoints restart it once 1000 frames are copied): use a smaller N"
if end + frame <= len(wal):
    sys.exit(restarted)
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
if commits != n:  # one client: one commit per refresh; fewer means frames were written over
    sys.exit(f"{commits} commits for {n} refreshes: {restarted}")
print(f"{n} refreshes: {frames} WAL frames in {commits} commits, {frames / n:.1f} frames "
      f"({frames * frame / n / 1024:.1f} KiB) per refresh")
for name, count in sorted(by_tree.items(), key=lambda kv: -kv[1]):
    print(f"  {count / n:5.2f}  {name}")
PY
