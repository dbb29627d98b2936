#!/usr/bin/env bash
# The Debian package, end to end on this machine (as root; CI runs it from .ci/run): builds it
# (scripts/build-package.sh), checks its contents, installs it with dpkg, checks the unit
# (systemd-analyze verify), the binary, the conffile, the service user and the settings file's
# permissions; runs the installed binary as systemd runs the unit (notify_check.py: READY=1 only
# once it serves, STOPPING=1 and exit 0 on SIGTERM) with the shipped settings file; boots
# systemd in a container to run the unit itself (systemd_boot.sh); puts the shipped nginx
# example in front of the binary; purges the package and checks that it left nothing.
# The machine is left as it was: a provisiond package installed before is purged first
# (its /var/lib/provisiond stays), and the provisiond user is deleted if this test created it.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/package
tmp=$(mktemp -d)
pids=()
installed=no
user_existed=no
getent passwd provisiond >/dev/null && user_existed=yes
cleanup() {
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [[ -f "$tmp/nginx.pid" ]]; then kill -QUIT "$(cat "$tmp/nginx.pid")" 2>/dev/null || true; fi
  if [[ "$installed" == yes ]]; then dpkg --purge provisiond >/dev/null 2>&1 || true; fi
  if [[ "$user_existed" == no ]] && getent passwd provisiond >/dev/null; then
    userdel provisiond 2>/dev/null || true
    if getent group provisiond >/dev/null; then groupdel provisiond 2>/dev/null || true; fi
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "package test: $*" >&2
  exit 1
}
step() { echo "package test: $*"; }
[[ $(id -u) -eq 0 ]] || fail "run as root: it installs the package with dpkg"

deb=$(bash scripts/build-package.sh | tail -n1)
version=$(sed -n 's/^project(provisiond VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[[ "$(basename "$deb")" == "provisiond_${version}_$(dpkg --print-architecture).deb" ]] ||
  fail "package file $deb, expected provisiond_${version}_$(dpkg --print-architecture).deb"
step "built $deb"

# What the package holds.
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$tmp/contents"
for path in /usr/bin/provisiond /lib/systemd/system/provisiond.service \
  /usr/lib/sysusers.d/provisiond.conf /etc/provisiond/provisiond.conf \
  /usr/share/doc/provisiond/OPERATIONS.md /usr/share/doc/provisiond/examples/README.md \
  /usr/share/doc/provisiond/examples/nginx/provisiond.conf; do
  grep -qx "$path" "$tmp/contents" || fail "the package lacks $path"
done
dpkg-deb -f "$deb" Depends | grep -q 'libsystemd0' ||
  fail "Depends has no libsystemd0: dpkg-shlibdeps did not run? $(dpkg-deb -f "$deb" Depends)"
step "contents and Depends (from dpkg-shlibdeps) as expected"

if dpkg-query -W -f='${Status}' provisiond 2>/dev/null | grep -q 'install ok installed'; then
  echo "package test: provisiond was installed: purging it first" >&2
  dpkg --purge provisiond >/dev/null
fi
installed=yes
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i failed"; }
step "installed"

# systemd-analyze works without systemd as PID 1; it checks the syntax, every directive, and
# that the Exec*= programs exist. It also loads the units this one names (multi-user.target …):
# a complaint about one of this machine's own units is shown but is not this package's.
unit=/lib/systemd/system/provisiond.service
verified=yes
systemd-analyze verify "$unit" >"$tmp/verify" 2>&1 || verified=no
if [[ "$verified" == no ]] || grep -q provisiond "$tmp/verify"; then
  cat "$tmp/verify" >&2
  fail "systemd-analyze verify $unit complained"
fi
if [[ -s "$tmp/verify" ]]; then sed 's/^/  (not provisiond) /' "$tmp/verify"; fi
step "systemd-analyze verify $unit: no complaint"
# The hardening, as systemd rates it (lower is safer; 10 is none). Fails if it slips back.
systemd-analyze security --offline=yes --threshold=30 "$unit" >"$tmp/security" 2>&1 ||
  { cat "$tmp/security" >&2; fail "systemd-analyze security rates $unit above 3.0"; }
step "$(grep -o 'Overall exposure level.*' "$tmp/security" | sed 's/\x1b\[[0-9;]*m//g')"

/usr/bin/provisiond --help >/dev/null || fail "/usr/bin/provisiond --help failed"
[[ "$(/usr/bin/provisiond --version)" == "$version" ]] || fail "provisiond --version is not $version"
conf=/etc/provisiond/provisiond.conf
dpkg-query -W -f='${Conffiles}\n' provisiond | grep -q "^ $conf " || fail "$conf is not a conffile"
getent passwd provisiond | grep -q ':/usr/sbin/nologin$' || fail "no system user provisiond (nologin)"
[[ "$(stat -c '%U:%G %a' "$conf")" == "root:provisiond 640" ]] ||
  fail "$conf is $(stat -c '%U:%G %a' "$conf"), expected root:provisiond 640"
runuser -u provisiond -- test -r "$conf" || fail "the provisiond user cannot read $conf"
runuser -u nobody -- test -r "$conf" && fail "other users can read $conf"
[[ -L /etc/systemd/system/multi-user.target.wants/provisiond.service ]] ||
  fail "the service was not enabled (multi-user.target.wants)"
step "--help, --version $version, conffile $conf (root:provisiond 640), user provisiond, enabled"

# The shipped settings, with the state in a temporary directory and trusted-proxies on, as the
# nginx example asks: the keys must all be ones `serve` knows.
mkdir -p "$tmp/state"
sed -e "s#/var/lib/provisiond#$tmp/state#g" -e 's/^#trusted-proxies = /trusted-proxies = /' \
  "$conf" >"$tmp/provisiond.conf"
grep -q '^trusted-proxies = 127.0.0.1$' "$tmp/provisiond.conf" || fail "no trusted-proxies line in $conf"
# ExecStartPre, as the unit runs it.
/usr/bin/provisiond migrate --config "$tmp/provisiond.conf" >"$tmp/migrate.log" ||
  fail "provisiond migrate --config failed"
grep -q '^schema version [1-9]' "$tmp/migrate.log" || fail "migrate did not report a schema version"
step "migrate with the shipped settings: $(tail -n1 "$tmp/migrate.log")"

# ExecStart, as systemd runs a Type=notify unit. The admin listener takes a free port too: its
# default (127.0.0.1:9100) may be taken on a machine that runs other tests.
export PROVISIOND_ADMIN_LISTEN=127.0.0.1:0
python3 "$here/notify_check.py" /usr/bin/provisiond serve --config "$tmp/provisiond.conf" \
  --listen 127.0.0.1:0 || fail "the sd_notify check failed"

# The unit itself, under a real systemd (booted in a container: PID 1 here is not systemd).
bash "$here/systemd_boot.sh" || fail "the unit did not run as it should under systemd"

# The nginx example in front, with a throwaway certificate and free loopback ports: a request
# from 127.0.0.2 must reach provisiond over TLS and be logged with the address 127.0.0.2.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
/usr/bin/provisiond serve --config "$tmp/provisiond.conf" --listen 127.0.0.1:0 2>"$tmp/server.log" &
pids+=($!)
port=
for _ in $(seq 1 600); do
  port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$tmp/server.log" | head -n1)
  [[ -n "$port" ]] && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$tmp/server.log" >&2; fail "provisiond exited"; }
  sleep 0.1
done
[[ -n "$port" ]] || fail "provisiond did not log its port"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=auth.example.com -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null
http_port=$(free_port)
https_port=$(free_port)
sed -e "s#listen 80;#listen 127.0.0.1:$http_port;#" -e "s#listen 443 ssl#listen 127.0.0.1:$https_port ssl#" \
  -e '/listen \[::\]/d' -e "s#server 127.0.0.1:8000;#server 127.0.0.1:$port;#" \
  -e "s#/etc/letsencrypt/live/auth.example.com/fullchain.pem#$tmp/cert.pem#" \
  -e "s#/etc/letsencrypt/live/auth.example.com/privkey.pem#$tmp/key.pem#" \
  /usr/share/doc/provisiond/examples/nginx/provisiond.conf >"$tmp/site.conf"
mkdir -p "$tmp/nginx-tmp"
cat >"$tmp/nginx.conf" <<CONF
worker_processes 1;
user root root;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx-tmp/body;
    proxy_temp_path $tmp/nginx-tmp/proxy;
    fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx-tmp/uwsgi;
    scgi_temp_path $tmp/nginx-tmp/scgi;
    include $tmp/site.conf;
}
CONF
nginx -t -c "$tmp/nginx.conf" >"$tmp/nginx-t.log" 2>&1 || { cat "$tmp/nginx-t.log" >&2; fail "nginx -t refused the example"; }
nginx -c "$tmp/nginx.conf" || { cat "$tmp/nginx-error.log" >&2; fail "nginx did not start"; }
https="https://auth.example.com:$https_port"
resolve=(--resolve "auth.example.com:$https_port:127.0.0.1" --resolve "auth.example.com:$http_port:127.0.0.1")
status=
for _ in $(seq 1 100); do
  status=$(curl -s -o "$tmp/ready.json" -w '%{http_code}' --cacert "$tmp/cert.pem" "${resolve[@]}" \
    --interface 127.0.0.2 "$https/_ready") || true
  [[ "$status" == 200 ]] && break
  sleep 0.1
done
[[ "$status" == 200 ]] || { cat "$tmp/nginx-error.log" >&2; fail "GET $https/_ready through nginx answered '$status'"; }
redirect=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "${resolve[@]}" "http://auth.example.com:$http_port/_ready")
[[ "$redirect" == "301 https://auth.example.com/_ready" ]] || fail "plain HTTP answered '$redirect', expected a 301 to https"
# The access line of that request names the client nginx saw, through X-Forwarded-For.
grep '"path":"/_ready"' "$tmp/server.log" | grep -q '"remote":"127.0.0.2"' || {
  grep '"/_ready"' "$tmp/server.log" >&2
  fail "provisiond did not log the client address 127.0.0.2 (trusted-proxies + X-Forwarded-For)"
}
step "nginx example: TLS to provisiond, HTTP redirected, client 127.0.0.2 seen through X-Forwarded-For"
kill -QUIT "$(cat "$tmp/nginx.pid")"
kill -TERM "${pids[0]}"
wait "${pids[0]}" || fail "provisiond behind nginx exited with $? after SIGTERM"
pids=()

# The maintainer scripts' life cycle, as debhelper's would have it: remove keeps the settings and
# masks the unit; installing again lifts that mask and enables; an upgrade (here a reinstall)
# keeps an administrator's `systemctl disable`.
wants=/etc/systemd/system/multi-user.target.wants/provisiond.service
mask=/etc/systemd/system/provisiond.service
dpkg -r provisiond >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -r failed"; }
[[ -f "$conf" && ! -e /usr/bin/provisiond ]] || fail "dpkg -r did not keep $conf or left the binary"
[[ "$(readlink "$mask")" == /dev/null ]] || fail "dpkg -r did not mask the unit"
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i after -r failed"; }
[[ ! -L "$mask" && -L "$wants" ]] || fail "installing after a remove left the unit masked or disabled"
systemctl disable provisiond >/dev/null 2>&1
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg -i over itself failed"; }
[[ ! -L "$wants" ]] || fail "an upgrade enabled the service the administrator had disabled"
step "remove keeps the settings and masks; reinstall unmasks and enables; upgrade keeps a disable"

# Purge: nothing of the package may stay.
dpkg --purge provisiond >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; fail "dpkg --purge failed"; }
installed=no
for path in /usr/bin/provisiond "$unit" /usr/lib/sysusers.d/provisiond.conf /etc/provisiond \
  /etc/systemd/system/multi-user.target.wants/provisiond.service /etc/systemd/system/provisiond.service; do
  [[ ! -e "$path" && ! -L "$path" ]] || fail "$path is still there after dpkg --purge"
done
dpkg-statoverride --list "$conf" >/dev/null && fail "the statoverride of $conf outlived the purge"
step "purged: no file, link or statoverride left"
echo "package test: all checks passed"
