#!/usr/bin/env bash
# Builds the release binary, build-release/provisiond: what the README's run command serves.
# scripts/run.sh and CI (.ci/run) both build through this one script, so what CI proves is
# exactly what a newcomer runs. Expects the packages of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPROVISIOND_TESTS=OFF >/dev/null
cmake --build build-release --target provisiond -j"$(nproc)"
