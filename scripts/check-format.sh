#!/usr/bin/env bash
# Fails, naming each file, if a C++ file under src/ or tests/ differs from what the repository's
# .clang-format makes of it. Fix with: clang-format -i FILE (the same command, without --dry-run).
set -euo pipefail
cd "$(dirname "$0")/.."
# Not `mapfile < <(git …)`: a failing git would leave no files and clang-format would check stdin.
listing=$(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')
mapfile -t files <<<"$listing"
if [[ -z "$listing" || ${#files[@]} -eq 0 ]]; then
  echo "check-format: git listed no C++ files under src/ or tests/" >&2
  exit 1
fi
clang-format --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted as .clang-format says"
