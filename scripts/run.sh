#!/usr/bin/env bash
# Sets up, builds (release) and runs provisiond on its embedded default: SQLite in ./data,
# emails written to ./data/outbox. Extra arguments go to `provisiond serve`.
# PROVISIOND_DATA_DIR chooses another data directory (CI uses a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-release.sh
data="${PROVISIOND_DATA_DIR:-data}"
mkdir -p "$data"
exec ./build-release/provisiond serve --database "$data/provisiond.db" --outbox-dir "$data/outbox" "$@"
