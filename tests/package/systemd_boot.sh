#!/usr/bin/env bash
# The installed unit under a real systemd: this machine's PID 1 is not systemd, so the test boots
# one in a container (systemd-nspawn) over this machine's own /usr and a copy of its /etc, with a
# private network and an empty /var. Checks that provisiond.service, with all its hardening,
# starts (Type=notify: "active" only after READY=1), migrates (ExecStartPre), serves the
# README's flow as the provisiond user, writes its database and outbox 0600 in
# /var/lib/provisiond, reaches a webhook endpoint through libcurl (resolving "localhost"), and
# stops cleanly on `systemctl stop` (STOPPING=1, exit 0). Run by tests/package/run.sh with the
# package installed; needs root and systemd-container (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
root="$tmp/root"
nspawn=
cleanup() {
  if [[ -n "$nspawn" ]] && kill -0 "$nspawn" 2>/dev/null; then
    kill -TERM "$nspawn" 2>/dev/null || true # nspawn powers the container off on SIGTERM
    for _ in $(seq 1 100); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "systemd boot: $*" >&2
  if [[ -n "$nspawn" ]] && kill -0 "$nspawn" 2>/dev/null; then
    inside systemctl status provisiond --no-pager >&2 || true
    inside journalctl -u provisiond --no-pager -o cat >&2 || true
  fi
  echo "--- container console (last 30 lines) ---" >&2
  tail -n 30 "$tmp/console.log" >&2 || true
  exit 1
}
step() { echo "systemd boot: $*"; }
leader=
inside() { nsenter -t "$leader" -a "$@"; }

# The container's root: this machine's /usr (read-only), a copy of /etc (the package's unit
# state, conffile, user), empty /var, /tmp and /root.
mkdir -p "$root"/{usr,var,dev,proc,sys,run,tmp,root,home}
cp -a /etc "$root/etc"
for link in bin sbin lib lib64; do ln -s "usr/$link" "$root/$link"; done
cp scripts/try-flow.sh "$root/root/"
# The bind mount lives in a mount namespace of its own, gone with the container.
# shellcheck disable=SC2016 # $1 is expanded by the inner bash
unshare --mount --propagation private bash -c '
  mount --bind /usr "$1/usr" && mount -o remount,bind,ro "$1/usr" &&
  exec systemd-nspawn --quiet --directory="$1" --private-network --register=no --keep-unit --boot' \
  _ "$root" </dev/null >"$tmp/console.log" 2>&1 &
nspawn=$!

# The container's PID 1, then the end of its boot (bounded: a hang fails instead of waiting).
for _ in $(seq 1 600); do
  kill -0 "$nspawn" 2>/dev/null || fail "systemd-nspawn exited"
  leader=$(pgrep -P "$nspawn" -x systemd || true)
  [[ -n "$leader" ]] && break
  sleep 0.1
done
[[ -n "$leader" ]] || fail "no systemd in the container"
# Until systemctl can reach the container's systemd and the boot has finished. "degraded" is
# fine: services of this machine's /etc that cannot run in a container fail.
booted=
for _ in $(seq 1 600); do
  booted=$(timeout 300 nsenter -t "$leader" -a systemctl is-system-running --wait 2>/dev/null) || true
  [[ "$booted" == running || "$booted" == degraded ]] && break
  kill -0 "$nspawn" 2>/dev/null || fail "systemd-nspawn exited during the boot"
  sleep 0.1
done
[[ "$booted" == running || "$booted" == degraded ]] || fail "the container did not finish booting: '$booted'"
state=$(inside systemctl show provisiond -p ActiveState --value)
[[ "$state" == active ]] || fail "provisiond.service is $state after boot, expected active"
status=$(inside systemctl show provisiond -p StatusText --value)
[[ "$status" == "listening on 127.0.0.1:8000" ]] || fail "STATUS is '$status'"
inside journalctl -u provisiond -o cat | grep -q '^schema version [1-9]' ||
  fail "ExecStartPre (provisiond migrate) logged no schema version"
step "booted; provisiond.service active, STATUS=$status, migrated by ExecStartPre"

[[ "$(inside curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/_ready)" == 200 ]] ||
  fail "/_ready is not 200"
inside runuser -u provisiond -- provisiond clients add --config /etc/provisiond/provisiond.conf \
  --client-id my-partner --name "My Partner" --redirect-uri https://partner.example/callback \
  >/dev/null || fail "clients add as the provisiond user failed"
# A new person each time (try-flow's default address changes only once a second).
inside env PROVISIOND_URL=http://127.0.0.1:8000 CLIENT_ID=my-partner EMAIL=first@example.com \
  bash /root/try-flow.sh >"$tmp/flow.log" 2>&1 || { cat "$tmp/flow.log" >&2; fail "the README's flow failed"; }
for _ in $(seq 1 100); do
  inside sh -c 'ls /var/lib/provisiond/outbox/*.eml' >/dev/null 2>&1 && break
  sleep 0.1
done
modes=$(inside sh -c 'stat -c "%U %a %n" /var/lib/provisiond/provisiond.db /var/lib/provisiond/outbox/*.eml')
if [[ -z "$modes" ]] || grep -qv '^provisiond 600 ' <<<"$modes"; then
  fail "state files are not provisiond 0600: $modes"
fi
step "README flow as the provisiond user; database and welcome email provisiond 0600"

# libcurl inside the sandbox (RestrictAddressFamilies, SystemCallFilter): a webhook endpoint on
# "localhost" (resolved, then connected) must get the account.created event.
inside systemd-run --quiet --unit=hook-sink /usr/bin/python3 -m http.server 9000 --bind 127.0.0.1
mkdir -p "$root/etc/systemd/system/provisiond.service.d"
cat >"$root/etc/systemd/system/provisiond.service.d/webhook.conf" <<CONF
[Service]
Environment=PROVISIOND_WEBHOOK_URL=http://localhost:9000/hook
Environment=PROVISIOND_WEBHOOK_SECRET=whsec_$(openssl rand -base64 32)
CONF
inside systemctl daemon-reload
inside systemctl restart provisiond || fail "systemctl restart provisiond failed"
inside env PROVISIOND_URL=http://127.0.0.1:8000 CLIENT_ID=my-partner EMAIL=second@example.com \
  bash /root/try-flow.sh >"$tmp/flow.log" 2>&1 || { cat "$tmp/flow.log" >&2; fail "the flow after restart failed"; }
for _ in $(seq 1 300); do
  inside journalctl -u hook-sink -o cat | grep -q '"POST /hook HTTP/1.1"' && break
  sleep 0.1
done
inside journalctl -u hook-sink -o cat | grep -q '"POST /hook HTTP/1.1"' ||
  fail "the webhook endpoint got no POST (libcurl blocked by the sandbox?)"
step "restart; webhook POSTed through libcurl to localhost"

inside systemctl stop provisiond
show=$(inside systemctl show provisiond -p ActiveState -p Result -p ExecMainStatus -p StatusText)
for want in ActiveState=inactive Result=success ExecMainStatus=0 StatusText=stopping; do
  grep -qx "$want" <<<"$show" || fail "after systemctl stop: $(tr '\n' ' ' <<<"$show"), expected $want"
done
step "systemctl stop: STOPPING=1 seen (STATUS=stopping), exit 0"
inside systemctl poweroff || true
for _ in $(seq 1 300); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
echo "systemd boot: all checks passed"
