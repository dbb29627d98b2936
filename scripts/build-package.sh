#!/usr/bin/env bash
# Builds the Debian package, build-release/provisiond_<version>_<arch>.deb, from the release build
# (scripts/build-release.sh) and prints its path on the last line. cpack runs dpkg-shlibdeps
# (dpkg-dev, from build-essential) to compute Depends. Expects the packages of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-release.sh >&2
rm -f build-release/provisiond_*.deb
(cd build-release && cpack -G DEB >&2)
shopt -s nullglob
debs=(build-release/provisiond_*.deb)
if ((${#debs[@]} != 1)); then
  echo "build-package: expected one build-release/provisiond_*.deb, found ${#debs[@]}" >&2
  exit 1
fi
realpath "${debs[0]}"
