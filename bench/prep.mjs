// Set-up helper of bench/run.sh: prepares the token pools that the wrk workloads consume, before
// the measured window (loopback targets only).
//
//   node prep.mjs refresh --server provisiond|oidc --target URL [--admin URL] --n N --out FILE
//       N refresh tokens, one per line, each the start of its own token family, obtained through
//       the real API: provisiond: account_requests (fresh email, S256 PKCE pair) → token
//       (authorization_code); oidc-provider: a code minted on its admin port → /oauth/token.
//   node prep.mjs oidc-codes --admin URL --n N --out FILE
//       N "CODE VERIFIER" lines minted in-process by oidc-server.mjs's admin port (a Grant and an
//       AuthorizationCode with a fresh S256 pair, as its authorization endpoint would save them).
//   node prep.mjs pvd-codes --n N --project-start P --sql OUT.sql --out FILE [--ttl 300]
//       The provisiond counterpart of oidc-codes: SQL that inserts, per code, the rows that a
//       fresh-email account_requests call leaves behind for the token endpoint (a user, an
//       organization, the owner membership, the default project, and the authorization_codes
//       row: SHA-256 of the code, S256 challenge of the verifier, scopes of the bench client,
//       expiring after --ttl seconds), in one transaction; runs unchanged on SQLite and
//       PostgreSQL. No welcome email, no webhook event: set-up leaves no background work behind.
//   node prep.mjs known-refresh --n N --of M --sql OUT.sql --out FILE [--client bench]
//       For bench/seed.sh: N refresh tokens with known plaintexts, placed at N distinct random
//       family numbers among 1…M. OUT.sql fills a temp table seed_known(i, refresh_hash,
//       access_hash) that the seeder reads; FILE gets the plaintexts (in random order).
//
// Prints one JSON line on stdout: what was made and how long it took.

import { randomBytes, createHash, randomUUID, randomInt } from 'node:crypto';
import { writeFileSync, createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';

const [cmd, ...rest] = process.argv.slice(2);
const { values: opt } = parseArgs({
  args: rest,
  options: {
    server: { type: 'string' },
    target: { type: 'string' },
    admin: { type: 'string' },
    n: { type: 'string' },
    of: { type: 'string' },
    out: { type: 'string' },
    sql: { type: 'string' },
    ttl: { type: 'string', default: '300' },
    'project-start': { type: 'string' },
    'client-id': { type: 'string', default: 'bench' },
    scopes: { type: 'string', default: 'project:read user:read' },
    concurrency: { type: 'string', default: '8' },
  },
});
function die(msg) { console.error(`prep: ${msg}`); process.exit(2); }
const N = Number(opt.n);
if (!(N >= 0)) die('--n is required');

function loopback(u, what) {
  const url = new URL(u);
  const h = url.hostname.replace(/^\[|\]$/g, '');
  if (!(h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h)) || url.protocol !== 'http:') {
    die(`${what} must be plain http on loopback, got ${u}`);
  }
  return url;
}

const b64url = (buf) => buf.toString('base64url');
const sha256hex = (s) => createHash('sha256').update(s).digest('hex');
function pkce() {
  const verifier = b64url(randomBytes(32));
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}
const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function base62(n) {
  let s = '';
  while (s.length < n) {
    for (const b of randomBytes(64)) {
      if (b < 248 && s.length < n) s += B62[b % 62]; // 248 = 4 × 62: no modulo bias
    }
  }
  return s;
}
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;
const t0 = process.hrtime.bigint();
const secs = () => Number(process.hrtime.bigint() - t0) / 1e9;
const API_VERSION = '0.1d';
const form = (o) => new URLSearchParams(o).toString();

async function post(url, headers, body) {
  const r = await fetch(url, { method: 'POST', headers, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
}

async function pvdRefreshToken(base, seq) {
  const { verifier, challenge } = pkce();
  const id = `req_${randomUUID()}`;
  const a = await post(`${base}/api/agentic/provisioning/account_requests`,
    { 'content-type': 'application/json', 'api-version': API_VERSION },
    JSON.stringify({
      id,
      email: `prep+${Date.now().toString(36)}${randomBytes(3).toString('hex')}-${seq}@bench.example`,
      name: 'Bench User',
      client_id: opt['client-id'],
      code_challenge: challenge,
      code_challenge_method: 'S256',
      configuration: { region: 'US', organization_name: 'Bench Org' },
    }));
  if (a.status !== 200 || a.json?.type !== 'oauth') throw new Error(`account_requests: ${a.status} ${a.text.slice(0, 300)}`);
  const t = await post(`${base}/api/agentic/oauth/token`,
    { 'content-type': 'application/x-www-form-urlencoded', 'api-version': API_VERSION },
    form({ grant_type: 'authorization_code', code: a.json.oauth.code, code_verifier: verifier }));
  if (t.status !== 200 || !t.json?.refresh_token) throw new Error(`token: ${t.status} ${t.text.slice(0, 300)}`);
  return t.json.refresh_token;
}

async function oidcMint(admin, n) {
  const r = await fetch(`${admin}/mint?n=${n}`, { method: 'POST' });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`oidc admin /mint: ${r.status} ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function oidcRefreshToken(base, admin) {
  const [{ code, verifier }] = await oidcMint(admin, 1);
  const t = await post(`${base}/oauth/token`,
    { 'content-type': 'application/x-www-form-urlencoded', 'api-version': API_VERSION },
    form({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: opt['client-id'] }));
  if (t.status !== 200 || !t.json?.refresh_token) throw new Error(`oidc token: ${t.status} ${t.text.slice(0, 300)}`);
  return t.json.refresh_token;
}

async function refresh() {
  const base = loopback(opt.target, '--target').origin;
  const admin = opt.admin ? loopback(opt.admin, '--admin').origin : null;
  if (opt.server === 'oidc' && !admin) die('--admin is required for --server oidc');
  const tokens = [];
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const seq = next++;
      tokens.push(opt.server === 'oidc' ? await oidcRefreshToken(base, admin) : await pvdRefreshToken(base, seq));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Number(opt.concurrency)) }, worker));
  writeFileSync(opt.out, `${tokens.join('\n')}\n`);
  return { refresh_tokens: tokens.length, via: opt.server === 'oidc' ? 'admin mint + /oauth/token' : 'account_requests + token' };
}

async function oidcCodes() {
  const admin = loopback(opt.admin, '--admin').origin;
  const out = createWriteStream(opt.out);
  let made = 0;
  while (made < N) {
    const batch = await oidcMint(admin, Math.min(5000, N - made));
    out.write(batch.map((c) => `${c.code} ${c.verifier}\n`).join(''));
    made += batch.length;
  }
  await new Promise((res) => out.end(res));
  return { codes: made, via: 'oidc-server admin port (in-process)' };
}

// Multi-row INSERTs in batches: one statement per batch and table.
function batchedInsert(stream, table, columns, rows) {
  const B = 500;
  for (let i = 0; i < rows.length; i += B) {
    stream.write(`INSERT INTO ${table} (${columns}) VALUES\n${rows.slice(i, i + B).map((r) => `(${r.join(',')})`).join(',\n')};\n`);
  }
}

async function pvdCodes() {
  const start = Number(opt['project-start']);
  if (!(start >= 1)) die('--project-start is required (max(projects.id) + 1)');
  const now = Math.floor(Date.now() / 1000);
  const ttl = Number(opt.ttl);
  const users = []; const orgs = []; const members = []; const projects = []; const codes = []; const lines = [];
  const tag = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  for (let i = 0; i < N; i += 1) {
    const uid = randomUUID(); const oid = randomUUID(); const pid = start + i;
    const email = `code+${tag}-${i}@bench.example`;
    const code = b64url(randomBytes(32)); // as provisiond's codes: 32 random bytes, base64url
    const { verifier, challenge } = pkce();
    users.push([q(uid), q(email), q(email), q('Bench'), q('Bench User'), 0, now]);
    orgs.push([q(oid), q('Bench Org'), q('US'), now]);
    members.push([q(oid), q(uid), q('owner'), now]);
    projects.push([pid, q(oid), q('Default project'), q(`phc_${base62(43)}`), now]);
    codes.push([q(sha256hex(code)), q(opt['client-id']), q(uid), q(oid), pid, q(opt.scopes), q(challenge), q('S256'), 'NULL', now, now + ttl]);
    lines.push(`${code} ${verifier}`);
  }
  const s = createWriteStream(opt.sql);
  s.write('BEGIN;\n');
  batchedInsert(s, 'users', 'id, email, email_normalized, first_name, name, email_verified, created_at', users);
  batchedInsert(s, 'organizations', 'id, name, region, created_at', orgs);
  batchedInsert(s, 'memberships', 'organization_id, user_id, role, created_at', members);
  batchedInsert(s, 'projects', 'id, organization_id, name, api_token, created_at', projects);
  batchedInsert(s, 'authorization_codes', 'code_hash, client_id, user_id, organization_id, project_id, scopes, code_challenge, code_challenge_method, redirect_uri, issued_at, expires_at', codes);
  s.write('COMMIT;\n');
  await new Promise((res) => s.end(res));
  writeFileSync(opt.out, `${lines.join('\n')}\n`);
  return { codes: N, via: 'rows written to the database (as account_requests leaves them)', expires_at: now + ttl };
}

async function knownRefresh() {
  const M = Number(opt.of);
  if (!(M >= N)) die('--of M (>= n) is required');
  const picked = new Set();
  while (picked.size < N) picked.add(1 + randomInt(M));
  const rows = []; const lines = [];
  for (const i of picked) {
    const rt = `phr_${base62(43)}`; const at = `pha_${base62(43)}`;
    rows.push([i, q(sha256hex(rt)), q(sha256hex(at))]);
    lines.push(rt);
  }
  const s = createWriteStream(opt.sql);
  s.write('CREATE TEMP TABLE seed_known (i INTEGER PRIMARY KEY, refresh_hash TEXT NOT NULL, access_hash TEXT NOT NULL);\n');
  batchedInsert(s, 'seed_known', 'i, refresh_hash, access_hash', rows);
  await new Promise((res) => s.end(res));
  writeFileSync(opt.out, `${lines.join('\n')}\n`);
  return { known_refresh_tokens: N, of: M };
}

const commands = { refresh, 'oidc-codes': oidcCodes, 'pvd-codes': pvdCodes, 'known-refresh': knownRefresh };
if (!commands[cmd]) die(`first argument must be one of ${Object.keys(commands).join(', ')}`);
try {
  const r = await commands[cmd]();
  process.stdout.write(`${JSON.stringify({ cmd, ...r, seconds: Math.round(secs() * 1000) / 1000 })}\n`);
} catch (err) {
  console.error(`prep ${cmd}: ${err?.stack ?? err}`);
  process.exit(1);
}
