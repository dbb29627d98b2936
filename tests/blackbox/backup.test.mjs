// `provisiond backup --to FILE` (src/storage/sqlite/sqlite_backup.cpp, src/cli/cli.cpp): an online
// copy of the SQLite database taken while the server keeps serving, checked with
// PRAGMA integrity_check; it never overwrites a file and refuses a database that is not there.
// Restore as the command's help says: stop the server, put the copy in the database's place (the
// webhooks' secrets key file next to it), start again.
//
// 1. A server takes accounts in a loop while `backup` runs. The copy passes integrity_check and
//    foreign_key_check, holds every account the API acknowledged before the backup started, and,
//    restored into a fresh data directory with the key file, serves: an earlier account's refresh
//    token works, a new account_requests → token → resources flow works, the webhook endpoint
//    still signs (its sealed secret opens with the copied key), and `migrate` has nothing to apply.
// 2. The same on a database of a running service's size (48 MiB: a week of webhook events), with
//    one partner creating accounts one after another: the backup must finish while the writes go
//    on, not only once they stop.
// On PostgreSQL `backup` refuses (exit 2) and names pg_dump; the same two checks then run the
// recipe of docs/OPERATIONS.md "Back up and restore": pg_dump while the server serves, createdb,
// pg_restore into the empty database, and a server on the restored database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import { Webhook } from 'standardwebhooks';

import {
  BIN, ON_POSTGRES, PG_URL, Server, createResource, dbExec, freePort, getResource, makeTempDir, newAccount, q1,
  refreshGrant, registerClient, runProcess, setLimit, sha256hex, sleep, startServer, uniqueEmail,
} from './harness.mjs';
import { stopServer } from '../e2e/e2e.mjs';

const fileHash = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** A partner with its hourly limits off (the loops below create many accounts). */
async function partner(server) {
  const clientId = await registerClient(server);
  for (const endpoint of ['account_requests', 'token_exchanges', 'resource_creates']) {
    await setLimit(server, clientId, endpoint, 'unlimited');
  }
  return clientId;
}

/**
 * Creates accounts one after another until stop() is called: each acknowledged account with the
 * moment its token response arrived (performance.now()).
 */
function accountLoop(server, clientId) {
  const acked = [];
  let stopping = false;
  let failure = null;
  const done = (async () => {
    while (!stopping) {
      try {
        const a = await newAccount(server, { clientId, email: uniqueEmail('backup') });
        acked.push({ email: a.email, tokens: a.tokens, project: a.account.available_teams[0].id, at: performance.now() });
      } catch (e) {
        failure = e;
        return;
      }
    }
  })();
  return {
    acked,
    get failure() { return failure; },
    async waitFor(n) {
      while (acked.length < n) {
        if (failure) throw failure;
        await sleep(20);
      }
    },
    async stop() {
      stopping = true;
      await done;
      if (failure) throw failure;
    },
  };
}

/**
 * Opens a copy read-only and checks what every backup must pass; returns its schema version, its
 * number of users and which of `accounts` (user, access and refresh token) it lacks.
 */
function checkCopy(path, accounts) {
  assert.ok(existsSync(path), `${path} was written`);
  for (const suffix of ['-wal', '-journal']) {
    assert.ok(!existsSync(path + suffix) || statSync(path + suffix).size === 0,
      `the copy is one self-contained file (no ${path}${suffix} with content)`);
  }
  const d = new DatabaseSync(path, { readOnly: true });
  try {
    assert.deepEqual(d.prepare('PRAGMA integrity_check').all().map((r) => ({ ...r })), [{ integrity_check: 'ok' }]);
    assert.deepEqual(d.prepare('PRAGMA foreign_key_check').all(), [], 'no row points at a row the copy lacks');
    const has = (account) => {
      const u = d.prepare('SELECT id FROM users WHERE email_normalized = ?').get(account.email.toLowerCase());
      const at = d.prepare('SELECT 1 AS x FROM access_tokens WHERE token_hash = ?').get(sha256hex(account.tokens.access_token));
      const rt = d.prepare('SELECT 1 AS x FROM refresh_tokens WHERE token_hash = ?').get(sha256hex(account.tokens.refresh_token));
      return !!(u && at && rt);
    };
    return {
      schema: Number(d.prepare('SELECT MAX(version) AS v FROM schema_migrations').get().v),
      users: Number(d.prepare('SELECT COUNT(*) AS n FROM users').get().n),
      missing: accounts.filter((a) => !has(a)).map((a) => a.email),
    };
  } finally {
    d.close();
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL: the documented pg_dump / createdb / pg_restore recipe.

/** Runs one of PostgreSQL's client programs; fails the test with its output unless it exits 0. */
async function pgTool(bin, args, { timeoutMs = 120000 } = {}) {
  const r = await runProcess(bin, args, { timeoutMs });
  assert.equal(r.code, 0, `${bin} ${args.join(' ')}: ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** `pg_dump --format=custom` of a running server's database (docs/OPERATIONS.md). */
function pgDump(server, file, opts) {
  return pgTool('pg_dump', ['--format=custom', `--file=${file}`, server.database], opts);
}

/**
 * The documented restore: a new empty database (createdb, C.UTF-8, template0), pg_restore of the
 * dump into it (every constraint, foreign keys included, is checked as pg_restore creates it; any
 * error makes it exit non-zero). Returns the restored database's URL.
 */
async function pgRestore(dump) {
  const name = `restored_${process.pid}_${randomBytes(4).toString('hex')}`;
  await pgTool('createdb', [`--maintenance-db=${PG_URL}/postgres`, '--locale', 'C.UTF-8', '--template', 'template0', name]);
  const url = `${PG_URL}/${name}`;
  const r = await pgTool('pg_restore', ['--no-owner', `--dbname=${url}`, dump]);
  assert.equal(r.stderr, '', 'pg_restore reports nothing');
  return url;
}

/** checkCopy for a restored PostgreSQL database (given by URL). */
function checkPgCopy(url, accounts) {
  const db = { database: url }; // q/q1 read a server's database: here the restored one
  const has = (account) => {
    const u = q1(db, 'SELECT id FROM users WHERE email_normalized = ?', account.email.toLowerCase());
    const at = q1(db, 'SELECT 1 AS x FROM access_tokens WHERE token_hash = ?', sha256hex(account.tokens.access_token));
    const rt = q1(db, 'SELECT 1 AS x FROM refresh_tokens WHERE token_hash = ?', sha256hex(account.tokens.refresh_token));
    return !!(u && at && rt);
  };
  return {
    schema: Number(q1(db, 'SELECT MAX(version) AS v FROM schema_migrations').v),
    users: Number(q1(db, 'SELECT COUNT(*) AS n FROM users').n),
    missing: accounts.filter((a) => !has(a)).map((a) => a.email),
  };
}

// ---------------------------------------------------------------------------------------------
// A webhook receiver that verifies every request with the reference library.

class Receiver {
  constructor() {
    this.secret = null;
    this.verified = []; // parsed bodies
    this.failures = [];
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        try {
          this.verified.push(new Webhook(this.secret).verify(body, req.headers));
          res.writeHead(204);
        } catch (e) {
          this.failures.push(`${e.message}: ${body.slice(0, 200)}`);
          res.writeHead(400);
        }
        res.end();
      });
    });
  }

  async up() { await new Promise((res) => this.server.listen(0, '127.0.0.1', res)); return this; }
  get url() { return `http://127.0.0.1:${this.server.address().port}/hooks`; }
  async close() { this.server.closeAllConnections(); await new Promise((res) => this.server.close(res)); }
}

// ---------------------------------------------------------------------------------------------

describe('provisiond backup', () => {
  let receiver;
  let server;
  let restored;
  before(async () => { receiver = await new Receiver().up(); });
  after(async () => {
    server?.kill();
    restored?.kill();
    await receiver?.close();
  });

  test('refuses a missing database and creates neither file', async () => {
    const dir = await makeTempDir();
    const db = join(dir, 'missing.db');
    const to = join(dir, 'copy.db');
    const r = await runProcess(BIN, ['backup', '--database', db, '--to', to]);
    assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /no database at .*missing\.db/);
    assert.equal(existsSync(db), false, 'no database is created');
    assert.equal(existsSync(to), false, 'no copy is written');
  });

  test('an online copy while accounts are created; restored, it serves', { skip: ON_POSTGRES && 'copies a SQLite file: on PostgreSQL the next test runs pg_dump and pg_restore' }, async (t) => {
    server = await startServer();
    // A webhook endpoint: its secret is sealed under the key file next to the database. Added
    // before the partner: an event is fanned out to the endpoints that exist when the worker sees
    // it, so partner.registered must not reach it before the receiver has its secret.
    const added = await server.cli(['webhooks', 'add', '--url', receiver.url]);
    assert.equal(added.code, 0, added.stderr);
    const endpoint = JSON.parse(added.stdout.trim());
    receiver.secret = endpoint.secret;
    const keyFile = `${server.dbPath}-secrets.key`;
    assert.ok(existsSync(keyFile), `webhooks add wrote ${keyFile}`);
    const clientId = await partner(server);

    const loop = accountLoop(server, clientId);
    await loop.waitFor(3);
    const to = join(server.dir, 'backup-1.db');
    const startedAt = performance.now();
    const r = await server.cli(['backup', '--to', to], { timeoutMs: 120000 });
    const endedAt = performance.now();
    const ackedDuring = loop.acked.filter((a) => a.at > startedAt && a.at < endedAt).length;
    await loop.waitFor(loop.acked.length + 2); // writes on both sides of the backup
    await loop.stop();
    assert.equal(r.code, 0, `backup: ${r.stdout}\n${r.stderr}`);
    assert.equal(r.stdout.trim(), `backed up ${server.dbPath} to ${to}`);

    // Never overwrites: a second backup to the same file is refused and leaves it as it was.
    const hash = fileHash(to);
    const again = await server.cli(['backup', '--to', to]);
    assert.equal(again.code, 1, `${again.stdout}\n${again.stderr}`);
    assert.match(again.stderr, /backup-1\.db already exists; choose a new file \(a backup never overwrites\)/);
    assert.equal(fileHash(to), hash, 'the existing file is untouched');
    // Not even an empty file.
    const empty = join(server.dir, 'empty.db');
    writeFileSync(empty, '');
    const onEmpty = await server.cli(['backup', '--to', empty]);
    assert.equal(onEmpty.code, 1, onEmpty.stderr);
    assert.match(onEmpty.stderr, /never overwrites/);
    assert.equal(statSync(empty).size, 0);

    await stopServer(server);

    // The copy: intact, and every account acknowledged before the backup started is in it.
    const before = loop.acked.filter((a) => a.at < startedAt);
    assert.ok(before.length >= 3, `accounts acknowledged before the backup: ${before.length}`);
    const copy = checkCopy(to, before);
    assert.deepEqual(copy.missing, [], 'acknowledged before the backup started, missing from the copy');
    assert.ok(copy.users >= before.length);
    const original = new DatabaseSync(server.dbPath, { readOnly: true });
    const schema = Number(original.prepare('SELECT MAX(version) AS v FROM schema_migrations').get().v);
    original.close();
    assert.equal(copy.schema, schema, 'the copy is at the schema version of the database');
    t.diagnostic(`accounts acknowledged while the backup ran: ${ackedDuring}`);

    // Restore into a fresh data directory: the copy as the database file, the key file beside it.
    const dir = await makeTempDir('provisiond-restore-');
    const dbFile = join(dir, 'provisiond.db');
    copyFileSync(to, dbFile);
    copyFileSync(keyFile, `${dbFile}-secrets.key`);
    assert.equal(statSync(`${dbFile}-secrets.key`).mode & 0o777, 0o600, 'the key file keeps mode 0600');

    const migrated = await runProcess(BIN, ['migrate', '--database', dbFile]);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.doesNotMatch(migrated.stdout, /^applied /m, `migrate on the restored copy: ${migrated.stdout}`);
    assert.match(migrated.stdout, new RegExp(`^schema version ${schema}$`, 'm'));

    restored = new Server({ dir, port: await freePort(), extraArgs: [], env: {} });
    await restored.startOnFreePorts();
    assert.doesNotMatch(restored.stderr(), /cannot open the signing secret/);

    // An account from before the backup: its refresh token works, and the new access token reaches its project.
    const earlier = before[0];
    const rf = await refreshGrant(restored, earlier.tokens.refresh_token);
    assert.equal(rf.status, 200, `refresh on the restored database: ${rf.text}`);
    assert.equal((await getResource(restored, rf.json.access_token, earlier.project)).status, 200);
    // A new account: account_requests → token → resources.
    const fresh = await newAccount(restored, { clientId, email: uniqueEmail('restored') });
    const created = await createResource(restored, fresh.tokens.access_token);
    assert.equal(created.status, 200, created.text);
    assert.equal((await getResource(restored, fresh.tokens.access_token, created.json.id)).status, 200);
    // The webhook endpoint of the copy still signs: the new account's event arrives, verified.
    const deadline = Date.now() + 15000;
    const isFresh = (e) => e.type === 'account.created' && e.data?.user?.email === fresh.email;
    while (!receiver.verified.some(isFresh) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(receiver.failures, [], 'every delivery verified with the endpoint secret');
    assert.ok(receiver.verified.some(isFresh), 'account.created of the account made after the restore, signed with the old secret');
    assert.doesNotMatch(restored.stderr(), /cannot open the signing secret/);
    await stopServer(restored);
    restored = null;
  });

  test('PostgreSQL: backup refuses and names pg_dump; pg_dump while accounts are created; restored with pg_restore, it serves', { skip: !ON_POSTGRES && 'PostgreSQL only (the test above covers SQLite)' }, async (t) => {
    server = await startServer();
    // The endpoint first: an event is fanned out to the endpoints that exist when the worker sees
    // it, so the partner's partner.registered must not reach it before the receiver has its secret.
    const added = await server.cli(['webhooks', 'add', '--url', receiver.url]);
    assert.equal(added.code, 0, added.stderr);
    const endpoint = JSON.parse(added.stdout.trim());
    receiver.secret = endpoint.secret;
    const keyFile = `${server.dbPath}-secrets.key`; // the harness's --secrets-key-file
    assert.ok(existsSync(keyFile), `webhooks add wrote ${keyFile}`);
    const clientId = await partner(server);

    const loop = accountLoop(server, clientId);
    await loop.waitFor(3);
    // `provisiond backup` refuses a PostgreSQL URL with exit 2, naming pg_dump, and writes nothing.
    const to = join(server.dir, 'backup-1.db');
    const refused = await server.cli(['backup', '--to', to]);
    assert.equal(refused.code, 2, `backup on PostgreSQL: ${refused.stdout}\n${refused.stderr}`);
    assert.match(refused.stderr, /pg_dump --format=custom/);
    assert.match(refused.stderr, /OPERATIONS\.md#back-up-and-restore/); // the anchor of "## Back up and restore"
    assert.equal(existsSync(to), false, 'no file is written');

    // pg_dump while the server keeps taking accounts.
    const dump = join(server.dir, 'provisiond.dump');
    const startedAt = performance.now();
    await pgDump(server, dump);
    const endedAt = performance.now();
    const ackedDuring = loop.acked.filter((a) => a.at > startedAt && a.at < endedAt).length;
    await loop.waitFor(loop.acked.length + 2); // writes on both sides of the dump
    await loop.stop();
    const schema = Number(q1(server, 'SELECT MAX(version) AS v FROM schema_migrations').v);
    await stopServer(server);
    t.diagnostic(`accounts acknowledged while pg_dump ran: ${ackedDuring}`);

    // Restore into a new database: every account acknowledged before the dump started is there.
    const url = await pgRestore(dump);
    const before = loop.acked.filter((a) => a.at < startedAt);
    assert.ok(before.length >= 3, `accounts acknowledged before the dump: ${before.length}`);
    const copy = checkPgCopy(url, before);
    assert.deepEqual(copy.missing, [], 'acknowledged before pg_dump started, missing from the restored database');
    assert.ok(copy.users >= before.length);
    assert.equal(copy.schema, schema, 'the restored database is at the schema version of the original');

    // A fresh data directory with the key file; the restored database by URL.
    const dir = await makeTempDir('provisiond-restore-');
    const restoredKey = `${join(dir, 'provisiond.db')}-secrets.key`;
    copyFileSync(keyFile, restoredKey);
    assert.equal(statSync(restoredKey).mode & 0o777, 0o600, 'the key file keeps mode 0600');
    const migrated = await runProcess(BIN, ['migrate', '--database', url, '--secrets-key-file', restoredKey]);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.doesNotMatch(migrated.stdout, /^applied /m, `migrate on the restored database: ${migrated.stdout}`);
    assert.match(migrated.stdout, new RegExp(`^schema version ${schema}$`, 'm'));

    restored = new Server({ dir, port: await freePort(), extraArgs: [], env: {}, database: url });
    await restored.startOnFreePorts();
    assert.doesNotMatch(restored.stderr(), /cannot open the signing secret/);

    const earlier = before[0];
    const rf = await refreshGrant(restored, earlier.tokens.refresh_token);
    assert.equal(rf.status, 200, `refresh on the restored database: ${rf.text}`);
    assert.equal((await getResource(restored, rf.json.access_token, earlier.project)).status, 200);
    const fresh = await newAccount(restored, { clientId, email: uniqueEmail('restored') });
    const created = await createResource(restored, fresh.tokens.access_token);
    assert.equal(created.status, 200, created.text);
    assert.equal((await getResource(restored, fresh.tokens.access_token, created.json.id)).status, 200);
    const deadline = Date.now() + 15000;
    const isFresh = (e) => e.type === 'account.created' && e.data?.user?.email === fresh.email;
    while (!receiver.verified.some(isFresh) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(receiver.failures, [], 'every delivery verified with the endpoint secret');
    assert.ok(receiver.verified.some(isFresh), 'account.created of the account made after the restore, signed with the old secret');
    assert.doesNotMatch(restored.stderr(), /cannot open the signing secret/);
    await stopServer(restored);
    restored = null;
  });
});

describe('provisiond backup on a database of a running service', () => {
  let server;
  after(async () => { server?.kill(); });

  test('a 48 MiB database: the copy finishes while a partner keeps creating accounts', async (t) => {
    server = await startServer();
    const clientId = await partner(server);
    // A week of delivered webhook events (one every 20 s, ~2 KiB bodies): they are kept for 7 days.
    if (ON_POSTGRES) {
      // Random hex pads (not compressible by TOAST), made by the database itself.
      dbExec(server, `INSERT INTO webhook_events (id, type, body, created_at, fanned_out)
        SELECT 'msg_' || substr(md5(random()::text || i), 1, 27), 'account.created',
          json_build_object('type', 'account.created', 'data', json_build_object('pad',
            (SELECT string_agg(md5(random()::text || i || j), '') FROM generate_series(1, 63) j)))::text,
          ? - i * 20, 1
        FROM generate_series(0, ? - 1) i`, Math.floor(Date.now() / 1000), 3 * 8192);
      assert.ok(Number(q1(server, 'SELECT pg_database_size(current_database()) AS n').n) >= 48 * 1024 * 1024);
      return bigPg(t, server, clientId);
    }
    const w = new DatabaseSync(server.dbPath, { timeout: 10000 });
    try {
      w.exec('BEGIN IMMEDIATE');
      const ins = w.prepare('INSERT INTO webhook_events (id, type, body, created_at, fanned_out) VALUES (?, ?, ?, ?, 1)');
      const now = Math.floor(Date.now() / 1000);
      for (let i = 0; i < 3 * 8192; i++) {
        ins.run(`msg_${randomBytes(20).toString('hex').slice(0, 27)}`, 'account.created',
          JSON.stringify({ type: 'account.created', data: { pad: randomBytes(1000).toString('hex') } }), now - i * 20);
      }
      w.exec('COMMIT');
    } finally {
      w.close();
    }
    assert.ok(statSync(server.dbPath).size + (existsSync(`${server.dbPath}-wal`) ? statSync(`${server.dbPath}-wal`).size : 0) >= 48 * 1024 * 1024);

    const loop = accountLoop(server, clientId);
    await loop.waitFor(3);
    const to = join(server.dir, 'backup-big.db');
    const startedAt = performance.now();
    const backup = server.cli(['backup', '--to', to], { timeoutMs: 170000 });
    let finished = false;
    backup.then(() => { finished = true; });
    // The writes go on until the backup is done, for at most a minute (alone, the copy takes well under a second).
    const bound = Date.now() + 60000;
    while (!finished && Date.now() < bound) {
      if (loop.failure) throw loop.failure;
      await sleep(50);
    }
    const finishedWhileWriting = finished;
    const accountsDuring = loop.acked.filter((a) => a.at > startedAt).length;
    t.diagnostic(`backup ${finished ? 'finished' : 'still running'} after ${Math.round(performance.now() - startedAt)} ms; ${accountsDuring} accounts acknowledged meanwhile`);
    await loop.stop();
    const r = await backup; // once the writes stopped it finishes
    assert.equal(r.code, 0, `backup: ${r.signal ?? ''} ${r.stdout}\n${r.stderr}`);
    assert.ok(finishedWhileWriting,
      `the backup did not finish within 60 s while one partner created accounts one after another (${accountsDuring} accounts meanwhile); it finished only after the writes stopped`);

    await stopServer(server);
    const before = loop.acked.filter((a) => a.at < startedAt);
    assert.deepEqual(checkCopy(to, before).missing, [], 'acknowledged before the backup started, missing from the copy');
  });
});

/** The 48 MiB test on PostgreSQL: pg_dump finishes while the partner keeps creating accounts. */
async function bigPg(t, server, clientId) {
  const loop = accountLoop(server, clientId);
  await loop.waitFor(3);
  const dump = join(server.dir, 'big.dump');
  const startedAt = performance.now();
  const backup = pgDump(server, dump, { timeoutMs: 170000 });
  let finished = false;
  backup.then(() => { finished = true; }, () => { finished = true; });
  const bound = Date.now() + 60000;
  while (!finished && Date.now() < bound) {
    if (loop.failure) throw loop.failure;
    await sleep(50);
  }
  const finishedWhileWriting = finished;
  const accountsDuring = loop.acked.filter((a) => a.at > startedAt).length;
  t.diagnostic(`pg_dump ${finished ? 'finished' : 'still running'} after ${Math.round(performance.now() - startedAt)} ms; ${accountsDuring} accounts acknowledged meanwhile`);
  await loop.stop();
  await backup;
  assert.ok(finishedWhileWriting,
    `pg_dump did not finish within 60 s while one partner created accounts one after another (${accountsDuring} accounts meanwhile)`);
  await stopServer(server);
  const before = loop.acked.filter((a) => a.at < startedAt);
  const url = await pgRestore(dump);
  assert.deepEqual(checkPgCopy(url, before).missing, [], 'acknowledged before pg_dump started, missing from the restored database');
  assert.equal(Number(q1({ database: url }, 'SELECT COUNT(*) AS n FROM webhook_events').n) >= 3 * 8192, true, 'the events are restored');
}
