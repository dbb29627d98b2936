// A real SMTP server on loopback (aiosmtpd, via smtp_sink.py) that keeps every message it accepts,
// and helpers to wait for a message and read its subject, text and links.
//
// Needs the Debian package `python3-aiosmtpd` (run with /usr/bin/python3, or $SMTP_PYTHON).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { freePort, makeTempDir, retryOnTakenPort, sleep } from '../blackbox/harness.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.SMTP_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const SINK = join(HERE, 'smtp_sink.py');

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
});

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", '#x27': "'", '#x2F': '/', '#x2f': '/', '#47': '/', '#61': '=', '#x3D': '=', '#x3d': '=' };
export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e) => {
    if (ENTITIES[e] !== undefined) return ENTITIES[e];
    if (e[0] === '#') {
      const n = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(n) ? String.fromCodePoint(n) : m;
    }
    return m;
  });
}

/** Every http(s) URL in a message: from the text part, and from href attributes of the HTML part. */
export function extractLinks(text, html) {
  const out = [];
  const push = (u) => {
    const clean = u.replace(/[.,;:!?)\]>'"]+$/, '');
    if (!out.includes(clean)) out.push(clean);
  };
  for (const m of (text || '').matchAll(/https?:\/\/[^\s<>"'()\]]+/g)) push(m[0]);
  for (const m of (html || '').matchAll(/href\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    const u = decodeEntities(m[1] ?? m[2]);
    if (/^https?:\/\//i.test(u)) push(u);
  }
  return out;
}

function parseRecord(file, rec) {
  return {
    file,
    subject: rec.subject,
    from: rec.from,
    to: rec.to,
    mailFrom: rec.mail_from,
    rcpt: rec.rcpt_tos,
    contentType: rec.content_type,
    text: rec.text ?? '',
    html: rec.html ?? '',
    raw: rec.raw,
    receivedAt: rec.received_at,
    links: extractLinks(rec.text, rec.html),
  };
}

export class SmtpServer {
  constructor({ port, dir }) {
    this.port = port;
    this.dir = dir;
    this.url = `smtp://127.0.0.1:${port}`;
    this.proc = null;
    this._stderr = '';
  }

  /** provisiond flags that send mail to this server. */
  args() { return ['--smtp-url', this.url]; }

  async start() {
    if (this.proc) return this;
    const child = spawn(PYTHON, [SINK, '127.0.0.1', String(this.port), this.dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    this.proc = child;
    child.on('exit', () => live.delete(child));
    child.stderr.setEncoding('utf8').on('data', (d) => { this._stderr += d; });
    let out = '';
    await new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`SMTP sink did not start in 10 s: ${this._stderr}`)), 10000);
      child.stdout.setEncoding('utf8').on('data', (d) => {
        out += d;
        if (out.includes('READY')) { clearTimeout(timer); res(); }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        rej(new Error(`SMTP sink exited (${code}) before listening: ${this._stderr}`
          + (/No module named 'aiosmtpd'/.test(this._stderr) ? '\n(apt-get install -y python3-aiosmtpd)' : '')));
      });
    });
    return this;
  }

  async stop() {
    const child = this.proc;
    this.proc = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((res) => child.on('exit', res));
    child.kill('SIGTERM');
    const r = await Promise.race([exited, new Promise((res) => { setTimeout(() => res('timeout'), 5000).unref(); })]);
    if (r === 'timeout') child.kill('SIGKILL');
  }

  stderr() { return this._stderr; }

  /** Every message received so far, in arrival order. */
  async messages() {
    if (!existsSync(this.dir)) return [];
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
    const out = [];
    for (const n of names) out.push(parseRecord(n, JSON.parse(await readFile(join(this.dir, n), 'utf8'))));
    return out;
  }

  async mailsTo(to) {
    const want = to.toLowerCase();
    return (await this.messages()).filter((m) => m.rcpt.some((r) => r.toLowerCase() === want));
  }

  /**
   * Wait for the nth (1-based) message whose envelope recipient is `to`; returns the parsed message
   * {subject, text, html, links, from, to, rcpt, raw, ...}.
   */
  async waitForMail(to, { timeoutMs = 10000, nth = 1 } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = await this.mailsTo(to);
      if (found.length >= nth) return found[nth - 1];
      if (Date.now() > deadline) {
        const all = await this.messages();
        assert.fail(`SMTP: no message #${nth} for ${to} within ${timeoutMs} ms `
          + `(received ${all.length}: ${all.map((m) => m.rcpt.join(',')).join('; ')})`);
      }
      await sleep(100);
    }
  }

  /** Assert no (further) message for `to` arrives within ms. */
  async assertNoMail(to, { ms = 1500, already = 0 } = {}) {
    await sleep(ms);
    const found = await this.mailsTo(to);
    assert.equal(found.length, already, `unexpected mail for ${to}: ${found.map((m) => m.subject).join('; ')}`);
  }
}

/**
 * Start a real SMTP server on a free loopback port; on another one when the port was taken
 * between freePort() and the sink's bind (see retryOnTakenPort in ../blackbox/harness.mjs).
 */
export function startSmtp() {
  return retryOnTakenPort(async () => (await reserveSmtp()).start(),
    (e) => /address already in use/i.test(String(e?.message)));
}

/**
 * An SMTP server that is down at first: a free port is reserved (nothing listens on it) and
 * `start()` brings the server up on that port later.
 */
export async function reserveSmtp() {
  const dir = await makeTempDir('provisiond-smtp-');
  const port = await freePort();
  return new SmtpServer({ port, dir });
}
