#!/usr/bin/env python3
"""Runs a provisiond command the way systemd runs a Type=notify unit and checks what it tells.

    notify_check.py PROVISIOND_COMMAND...   (e.g. /usr/bin/provisiond serve --listen 127.0.0.1:0)

NOTIFY_SOCKET names a datagram socket read here, as systemd's. Checks: READY=1 arrives with
STATUS=listening on 127.0.0.1:PORT; the moment it has arrived, GET /_health on that port answers
200 on the first request (READY=1 must mean "serving", not "about to"); the server's JSON log
line "listening on 127.0.0.1:PORT" names the same port; after SIGTERM, STOPPING=1 arrives and
the exit status is 0. The port is taken from READY=1 itself, not from the log: waiting for the
log line first would give a server that notified too early the time to bind.
Waits are bounded only so that a broken server fails the test instead of hanging it.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request

GUARD_SECONDS = 120


def fail(message, log_lines):
    print(f"notify_check: {message}", file=sys.stderr)
    print("--- server log ---", file=sys.stderr)
    for line in log_lines:
        print(line, file=sys.stderr)
    sys.exit(1)


def receive(sock, proc, log_lines):
    """The next notification; fails if the server exits or nothing comes within the guard."""
    for _ in range(GUARD_SECONDS):
        try:
            return sock.recv(4096).decode()
        except socket.timeout:
            if proc.poll() is not None:
                fail(f"the server exited ({proc.returncode}) without notifying", log_lines)
    fail(f"no notification within {GUARD_SECONDS} s", log_lines)


def main():
    command = sys.argv[1:]
    if not command:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(1)
        proc = subprocess.Popen(command, env=dict(os.environ, NOTIFY_SOCKET=path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        log_lines = []
        listening = threading.Event()
        port = []

        def read_log():
            for line in proc.stderr:
                log_lines.append(line.rstrip("\n"))
                try:
                    message = json.loads(line).get("message", "")
                except ValueError:
                    continue
                found = re.search(r"listening on 127\.0\.0\.1:(\d+) ", message)
                if found and not port:
                    port.append(int(found.group(1)))
                    listening.set()

        reader = threading.Thread(target=read_log, daemon=True)
        reader.start()
        try:
            ready = receive(sock, proc, log_lines)
            fields = ready.split("\n")
            if "READY=1" not in fields:
                fail(f"first notification is not READY=1: {ready!r}", log_lines)
            status_port = [int(m.group(1)) for f in fields
                           if (m := re.fullmatch(r"STATUS=listening on 127\.0\.0\.1:(\d+)", f))]
            if not status_port or status_port[0] == 0:
                fail(f"READY=1 came without STATUS=listening on 127.0.0.1:PORT: {ready!r}",
                     log_lines)
            url = f"http://127.0.0.1:{status_port[0]}/_health"
            try:
                with urllib.request.urlopen(url, timeout=GUARD_SECONDS) as answer:
                    status = answer.status
            except OSError as error:
                fail(f"GET {url} right after READY=1 failed: {error}", log_lines)
            if status != 200:
                fail(f"GET {url} right after READY=1 answered {status}", log_lines)
            if not listening.wait(GUARD_SECONDS):
                fail("no 'listening on 127.0.0.1:PORT' log line", log_lines)
            if port[0] != status_port[0]:
                fail(f"the log says port {port[0]}, READY=1 says {status_port[0]}", log_lines)
            print(f"notify_check: {fields} then GET /_health 200 on the first try")

            proc.send_signal(signal.SIGTERM)
            stopping = receive(sock, proc, log_lines)
            if "STOPPING=1" not in stopping.split("\n"):
                fail(f"after SIGTERM the notification is not STOPPING=1: {stopping!r}", log_lines)
            try:
                code = proc.wait(timeout=GUARD_SECONDS)
            except subprocess.TimeoutExpired:
                fail("the server did not exit after SIGTERM", log_lines)
            reader.join(GUARD_SECONDS)
            if code != 0:
                fail(f"exit status {code} after SIGTERM, expected 0", log_lines)
            print(f"notify_check: SIGTERM, then {stopping.split(chr(10))}, exit status 0")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
