#!/usr/bin/env python3
"""A real SMTP server for the e2e tests (aiosmtpd, Debian package python3-aiosmtpd).

Usage: smtp_sink.py HOST PORT DIR
Accepts every message and saves each one as DIR/<seq>-<uuid>.json (written atomically):
  {"mail_from", "rcpt_tos", "peer", "helo", "received_at", "subject", "from", "to",
   "content_type", "text", "html", "raw"}
Prints "READY <port>" on stdout once it listens. Listens on loopback only.
"""
import asyncio
import email
import email.policy
import itertools
import json
import os
import sys
import time
import uuid

from aiosmtpd.smtp import SMTP

_seq = itertools.count(1)


def _part(msg, kind):
    try:
        body = msg.get_body(preferencelist=(kind,))
    except Exception:  # noqa: BLE001 - a malformed message still gets saved raw
        return None
    if body is None:
        return None
    try:
        return body.get_content()
    except Exception:  # noqa: BLE001
        payload = body.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace")


class Sink:
    def __init__(self, directory):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": list(session.peer) if session.peer else None,
            "helo": session.host_name,
            "received_at": time.time(),
            "subject": str(msg.get("subject", "")),
            "from": str(msg.get("from", "")),
            "to": str(msg.get("to", "")),
            "content_type": msg.get_content_type(),
            "text": _part(msg, "plain"),
            "html": _part(msg, "html"),
            "raw": raw.decode("utf-8", "replace"),
        }
        name = "%06d-%s.json" % (next(_seq), uuid.uuid4().hex[:8])
        tmp = os.path.join(self.directory, "." + name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 Message accepted for delivery"


async def main():
    host, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(directory, exist_ok=True)
    handler = Sink(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.e2e.test", decode_data=False),
        host=host, port=port)
    print("READY %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
