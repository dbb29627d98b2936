#!/usr/bin/env bash
# Sets up, builds (release) and runs provisiond on its embedded default: SQLite in ./data,
# emails written to ./data/outbox. Extra arguments go to `provisiond serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPROVISIOND_TESTS=OFF >/dev/null
cmake --build build-release --target provisiond -j"$(nproc)"
mkdir -p data
exec ./build-release/provisiond serve --database data/provisiond.db --outbox-dir data/outbox "$@"
