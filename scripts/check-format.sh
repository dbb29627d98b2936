#!/usr/bin/env bash
# Fails, naming each file, if a C++ file under src/ or tests/ differs from what the repository's
# .clang-format makes of it. Fix with: clang-format -i FILE (the same command, without --dry-run).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')
clang-format --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted as .clang-format says"
