#!/usr/bin/env bash
# How many pages one refresh writes, and into which b-trees: N refresh rotations one after the
# other (one client, so one commit each) on a fresh SQLite database, then the WAL frames they
# appended, counted by page and mapped to their table or index (sqlite3's dbstat). A count, not
# a timing: it does not depend on the machine's load, so it is the figure to compare when a
# change to the schema or to the write unit means to write fewer pages. Loopback only.
#
#   bash bench/wal-frames.sh [PROVISIOND] [N]      # default build-release/provisiond, N = 100
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
before=$(stat -c %s "$db-wal")
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
after=$(stat -c %s "$db-wal")
sqlite3 "$db" "SELECT pageno, name FROM dbstat" > "$TMP/pages.txt"
python3 - "$db-wal" "$before" "$after" "$N" "$TMP/pages.txt" <<'PY'
import struct, sys
wal_path, before, after, n, map_path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
if after < before:
    sys.exit("the WAL restarted during the run: use a smaller N")
wal = open(wal_path, "rb").read()
page_size = struct.unpack(">I", wal[8:12])[0]
frame = 24 + page_size
owner = {}
for line in open(map_path):
    page, name = line.rstrip("\n").split("|", 1)
    owner[int(page)] = name
frames, commits, by_tree = 0, 0, {}
for off in range(before, after - frame + 1, frame):
    page, commit_size = struct.unpack(">II", wal[off:off + 8])
    frames += 1
    commits += commit_size != 0
    name = owner.get(page, f"page {page}")
    by_tree[name] = by_tree.get(name, 0) + 1
print(f"{n} refreshes: {frames} WAL frames in {commits} commits, {frames / n:.1f} frames "
      f"({frames * frame / n / 1024:.1f} KiB) per refresh")
for name, count in sorted(by_tree.items(), key=lambda kv: -kv[1]):
    print(f"  {count / n:5.2f}  {name}")
PY
