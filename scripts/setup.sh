#!/usr/bin/env bash
# Installs what provisiond needs on Debian bookworm (as root). Idempotent: packages already
# present are not touched, so a second run costs a few seconds.
#   scripts/setup.sh          build and run dependencies
#   scripts/setup.sh --test   also the test dependencies (GoogleTest, Node.js for black-box tests)
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libsodium-dev libidn2-dev libunistring-dev
  libspdlog-dev libfmt-dev libcli11-dev libkainjow-mustache-dev sqlite3 openssl curl jq
  prometheus-cpp-dev libsystemd-dev
)
if [[ "${1:-}" == "--test" ]]; then
  # clang-14 + libclang-rt-14-dev: libFuzzer; nginx: the TLS server CIMD tests fetch documents from.
  # chromium + python3-aiosmtpd: the browser suite (tests/e2e) and its SMTP server.
  packages+=(libgtest-dev libgmock-dev nodejs npm clang-14 libclang-rt-14-dev nginx iproute2 util-linux
            chromium python3-aiosmtpd clang-format)
  # systemd-container: tests/package boots systemd-nspawn to run the packaged unit (PID 1 here is
  # not systemd).
  packages+=(systemd-container)
  # postgresql-15: the server binaries the suites start throwaway clusters from
  # (tests/pg/cluster.sh) and psql/pg_dump; no system service is used.
  packages+=(postgresql-15 postgresql-client-15)
  if [[ ! -e /etc/postgresql-common/createcluster.conf && $(id -u) -eq 0 ]]; then
    # Do not let the package create and start a "main" cluster: the tests make their own.
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  fi
fi

missing=()
for p in "${packages[@]}"; do
  # nodejs/npm may come from elsewhere (a newer Node on the PATH is fine).
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null 2>&1; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: run as root (or with sudo) to install packages" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
