// One mailbox, one account: the identity of an email address (docs/API.md "Email identity").
// The same address in another Unicode form, case or domain spelling reaches the existing account
// (requires_auth, one users row; the login and "new link" forms find it too); control and
// invisible characters are refused with 400 invalid_request and store nothing. Migration
// 0006_email_identity re-keys an existing database, and refuses (changing nothing) when two
// existing accounts turn out to be one mailbox.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import {
  BIN, ON_POSTGRES, accountRequest, count, dbExec, emails, emailsTo, freePort, q, q1, rawHttp, registerClient, runProcess,
  setPasswordToken, sleep, startServer, waitForEmail,
} from './harness.mjs';
import { DEFAULT_PASSWORD as PASSWORD, WebClient, parseForms } from '../e2e/e2e.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

const tag = () => randomUUID().slice(0, 8);

/** Each pair: the form that creates the account, another form of the same mailbox, the key. */
function equivalentPairs() {
  const pairs = [];
  let t = tag();
  pairs.push({ label: 'precomposed é (U+00E9) vs e + combining acute (U+0301)',
    first: `jos\u00e9-${t}@example.com`, second: `jose\u0301-${t}@example.com`, key: `jos\u00e9-${t}@example.com` });
  t = tag();
  pairs.push({ label: 'non-ASCII case (émile / ÉMILE)',
    first: `\u00e9mile-${t}@example.com`, second: `\u00c9MILE-${t.toUpperCase()}@EXAMPLE.COM`, key: `\u00e9mile-${t}@example.com` });
  t = tag();
  pairs.push({ label: 'IDN vs punycode (bücher.example / xn--bcher-kva.example)',
    first: `user-${t}@b\u00fccher.example`, second: `user-${t}@xn--bcher-kva.example`, key: `user-${t}@xn--bcher-kva.example` });
  t = tag();
  pairs.push({ label: 'fullwidth letters in the domain',
    first: `user-${t}@example.com`, second: `user-${t}@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com`, key: `user-${t}@example.com` });
  t = tag();
  pairs.push({ label: 'punycode first, IDN in capitals second',
    first: `user-${t}@xn--bcher-kva.example`, second: `USER-${t.toUpperCase()}@B\u00dcCHER.example`, key: `user-${t}@xn--bcher-kva.example` });
  return pairs;
}

function assertTypedError(res, status, code, { id, message } = {}) {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/, res.text);
  assert.deepEqual(Object.keys(res.json ?? {}).sort(), ['error', 'id', 'type'], res.text);
  assert.equal(res.json.type, 'error', res.text);
  assert.deepEqual(Object.keys(res.json.error).sort(), ['code', 'message'], res.text);
  assert.equal(res.json.error.code, code, res.text);
  if (id !== undefined) assert.equal(res.json.id, id, res.text);
  if (message !== undefined) assert.match(res.json.error.message, message, res.text);
}

// The pages' browser (cookie jar, CSRF cookie) is the e2e suite's; fields are every form's inputs.
const Browser = WebClient;
const hiddenInputs = (html) => Object.assign({}, ...parseForms(html).map((f) => f.fields));

/** Sets the account's password from its welcome email (sent to `display`). */
async function setPassword(s, display) {
  const token = setPasswordToken(s, await waitForEmail(s, display));
  assert.ok(token, `a set-password link in the welcome email to ${display}`);
  const web = new Browser(s);
  const page = await web.request('GET', `/account/set-password?token=${encodeURIComponent(token)}`);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const r = await web.request('POST', '/account/set-password', { form: { ...hiddenInputs(page.text), password: PASSWORD, password_confirm: PASSWORD } });
  assert.equal(r.status, 302, `set password: ${r.status} ${r.text.slice(0, 300)}`);
}

async function logIn(s, email, { next = '/dashboard' } = {}) {
  const web = new Browser(s);
  const page = await web.request('GET', `/login?next=${encodeURIComponent(next)}`);
  assert.equal(page.status, 200, page.text.slice(0, 300));
  const r = await web.request('POST', '/login', { form: { ...hiddenInputs(page.text), email, password: PASSWORD } });
  return { web, r };
}

// =============================================================================================
describe('one account per mailbox: account_requests', () => {
  for (const pair of equivalentPairs()) {
    test(`${pair.label}: the second form answers requires_auth, one users row`, async () => {
      const clientId = await registerClient(server);
      const usersBefore = count(server, 'SELECT COUNT(*) FROM users');
      const first = await accountRequest(server, { clientId, email: pair.first });
      assert.equal(first.res.status, 200, first.res.text);
      assert.equal(first.res.json.type, 'oauth', first.res.text);

      const second = await accountRequest(server, { clientId, email: pair.second });
      assert.equal(second.res.status, 200, second.res.text);
      assert.deepEqual(Object.keys(second.res.json).sort(), ['id', 'requires_auth', 'type'], second.res.text);
      assert.equal(second.res.json.id, second.requestId);
      assert.equal(second.res.json.type, 'requires_auth', `${JSON.stringify(pair.second)} is the account of ${JSON.stringify(pair.first)}: ${second.res.text}`);
      assert.deepEqual(Object.keys(second.res.json.requires_auth), ['url']);
      const url = new URL(second.res.json.requires_auth.url);
      assert.equal(url.pathname, '/api/agentic/authorize');

      assert.equal(count(server, 'SELECT COUNT(*) FROM users'), usersBefore + 1, 'exactly one new users row');
      const users = q(server, 'SELECT id, email, email_normalized FROM users WHERE email_normalized = ?', pair.key);
      assert.equal(users.length, 1, `one row keyed ${pair.key}`);
      assert.equal(users[0].email, pair.first.normalize('NFC'), 'the address is kept as first sent (NFC)');
      const pend = q(server, 'SELECT user_id, email_normalized FROM pending_consents WHERE client_id = ?', clientId);
      assert.deepEqual(pend, [{ user_id: users[0].id, email_normalized: pair.key }], 'the consent is for that user');
    });
  }

  test('a trailing zero-width space is refused, not a second account', async () => {
    const clientId = await registerClient(server);
    const email = `user-${tag()}@example.com`;
    const first = await accountRequest(server, { clientId, email });
    assert.equal(first.res.json.type, 'oauth', first.res.text);
    const usersBefore = count(server, 'SELECT COUNT(*) FROM users');
    const { res, requestId } = await accountRequest(server, { clientId, email: `${email}\u200b` });
    assertTypedError(res, 400, 'invalid_request', { id: requestId, message: /invisible/ });
    assert.equal(count(server, 'SELECT COUNT(*) FROM users'), usersBefore);
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE client_id = ?', clientId), 0);
  });

  test('a retry of one request id in another form of the address is the same request', async () => {
    const clientId = await registerClient(server);
    const t = tag();
    const first = await accountRequest(server, { clientId, email: `jos\u00e9-${t}@b\u00fccher.example`, id: `req-${t}` });
    assert.equal(first.res.json.type, 'oauth', first.res.text);
    const retry = await accountRequest(server, {
      clientId, email: `JOSE\u0301-${t.toUpperCase()}@xn--bcher-kva.example`, id: `req-${t}`,
      pkcePair: { verifier: first.verifier, challenge: first.challenge },
    });
    assert.equal(retry.res.status, 200, retry.res.text);
    assert.equal(retry.res.json.type, 'oauth', retry.res.text);
  });
});

describe('control and invisible characters are refused: 400 invalid_request, nothing stored or sent', () => {
  const cases = [
    ['CR/LF around the address', (e) => `\r\n${e}\r\n`, /control characters/],
    ['a trailing LF', (e) => `${e}\n`, /control characters/],
    ['a leading tab', (e) => `\t${e}`, /control characters/],
    ['an injected header', (e) => `${e}\r\nBcc: victim@example.com`, /control characters/],
    ['DEL', (e) => e.replace('@', '\x7f@'), /control characters/],
    ['NUL', (e) => e.replace('@', '\0@'), /control characters/],
    ['a C1 control (U+0085)', (e) => e.replace('@', '\u0085@'), /control characters/],
    ['a zero-width space', (e) => e.replace('@', '\u200b@'), /invisible/],
    ['a right-to-left override', (e) => `\u202e${e}`, /invisible/],
    ['a tag character', (e) => e.replace('@', '\u{E0041}@'), /invisible/],
    ['a soft hyphen', (e) => e.replace('@', '\u00ad@'), /invisible/],
    ['a space inside', (e) => e.replace('@', ' @'), /spaces/],
    ['a domain IDNA refuses', (e) => e.replace('@example.com', '@-bad-.example'), /domain/],
  ];
  for (const [label, make, message] of cases) {
    test(label, async () => {
      const clientId = await registerClient(server);
      const local = `ctl-${tag()}`;
      const email = make(`${local}@example.com`);
      const outboxBefore = count(server, 'SELECT COUNT(*) FROM outbox');
      const { res, requestId } = await accountRequest(server, { clientId, email });
      assertTypedError(res, 400, 'invalid_request', { id: requestId, message });
      assert.equal(count(server, "SELECT COUNT(*) FROM users WHERE email LIKE '%' || ? || '%'", local), 0, 'no users row');
      assert.equal(count(server, 'SELECT COUNT(*) FROM account_requests WHERE client_id = ?', clientId), 0);
      assert.equal(count(server, 'SELECT COUNT(*) FROM outbox'), outboxBefore, 'nothing queued');
      await sleep(300);
      assert.equal((await emails(server)).filter((m) => m.raw.includes(local)).length, 0, 'no email');
    });
  }
});

describe('the pages treat every form as one account', () => {
  for (const pair of equivalentPairs()) {
    test(`${pair.label}: log in with the other form`, async () => {
      const clientId = await registerClient(server);
      const first = await accountRequest(server, { clientId, email: pair.first });
      assert.equal(first.res.json.type, 'oauth', first.res.text);
      const display = pair.first.normalize('NFC');
      await setPassword(server, display);

      // The consent for the second form: the login page names the account as it was created,
      // and logging in with the second form lands on the consent, not on "account mismatch".
      const second = await accountRequest(server, { clientId, email: pair.second });
      assert.equal(second.res.json.type, 'requires_auth', second.res.text);
      const consent = new URL(second.res.json.requires_auth.url);
      const next = `${consent.pathname}${consent.search}`;
      const web = new Browser(server);
      const login = await web.request('GET', `/login?next=${encodeURIComponent(next)}`);
      assert.equal(login.status, 200);
      assert.ok(login.text.includes(display), `the login page names ${display}`);
      const r = await web.request('POST', '/login', { form: { ...hiddenInputs(login.text), email: pair.second, password: PASSWORD } });
      assert.equal(r.status, 302, `log in as ${JSON.stringify(pair.second)}: ${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(r.headers.location, next);
      const page = await web.request('GET', next);
      assert.equal(page.status, 200, `the consent page, not a mismatch: ${page.status} ${page.headers.location ?? ''}`);

      const other = await logIn(server, pair.second);
      assert.equal(other.r.status, 302, other.r.text.slice(0, 300));
    });
  }

  test('a zero-width space in the login form names no account', async () => {
    const clientId = await registerClient(server);
    const email = `zw-${tag()}@example.com`;
    const first = await accountRequest(server, { clientId, email });
    assert.equal(first.res.json.type, 'oauth', first.res.text);
    await setPassword(server, email);
    const refused = await logIn(server, `${email}\u200b`);
    assert.equal(refused.r.status, 401, refused.r.text.slice(0, 300));
    const ok = await logIn(server, email.toUpperCase());
    assert.equal(ok.r.status, 302);
  });

  test('"send a new link" with the punycode form reaches the IDN account', async () => {
    const clientId = await registerClient(server);
    const t = tag();
    const display = `user-${t}@b\u00fccher.example`;
    const first = await accountRequest(server, { clientId, email: display });
    assert.equal(first.res.json.type, 'oauth', first.res.text);
    await waitForEmail(server, display);
    const web = new Browser(server);
    const page = await web.request('GET', '/account/set-password?token=nope');
    assert.equal(page.status, 410);
    const r = await web.request('POST', '/account/set-password/resend', { form: { ...hiddenInputs(page.text), email: `USER-${t}@XN--BCHER-KVA.example` } });
    assert.equal(r.status, 200, r.text.slice(0, 300));
    const deadline = Date.now() + 5000;
    while ((await emailsTo(server, display)).length < 2 && Date.now() < deadline) await sleep(100);
    assert.equal((await emailsTo(server, display)).length, 2, 'the welcome email and a new link, both to the account');
  });
});

// =============================================================================================
// Migration 0006_email_identity on a database written with the old key (trimmed, ASCII
// lower-cased). The test database is a current one taken back to schema version 5.

const MIGRATION = 6;

/** The key before 0006: trimmed of ASCII whitespace, ASCII letters lower-cased. */
const oldKey = (email) => email.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '').replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * Back to schema version 5, every key the old one (users, pending_consents, account_requests), on
 * either backend (the 0006 step is the same C++ code on both). The server is stopped meanwhile.
 */
function backToOldKeys(s, rewrite = () => {}) {
  dbExec(s, 'DELETE FROM schema_migrations WHERE version >= ?', MIGRATION);
  // Undo what the migrations after 0006 added, so that they apply again cleanly.
  dbExec(s, 'ALTER TABLE oauth_clients DROP COLUMN deleted_at'); // 0013
  dbExec(s, 'ALTER TABLE users DROP COLUMN disabled_at'); // 0012
  dbExec(s, 'DROP TABLE IF EXISTS audit_events'); // 0014
  dbExec(s, 'DROP TABLE IF EXISTS webhook_deliveries'); // 0010
  dbExec(s, 'DROP TABLE IF EXISTS webhook_events'); // 0010
  dbExec(s, 'DROP TABLE IF EXISTS webhook_endpoints'); // 0010
  dbExec(s, 'ALTER TABLE outbox DROP COLUMN body_html'); // 0009
  dbExec(s, 'DROP TABLE IF EXISTS reveals'); // 0008
  dbExec(s, 'ALTER TABLE oauth_clients DROP COLUMN operator_verified'); // 0007
  rewrite();
  for (const u of q(s, 'SELECT id, email FROM users')) {
    dbExec(s, 'UPDATE users SET email_normalized = ? WHERE id = ?', oldKey(u.email), u.id);
    dbExec(s, 'UPDATE pending_consents SET email_normalized = ? WHERE user_id = ?', oldKey(u.email), u.id);
    dbExec(s, 'UPDATE account_requests SET email_normalized = ? WHERE user_id = ?', oldKey(u.email), u.id);
  }
}

function snapshot(s) {
  return {
    users: q(s, 'SELECT * FROM users ORDER BY id'),
    pending: q(s, 'SELECT * FROM pending_consents ORDER BY state_hash'),
    requests: q(s, 'SELECT * FROM account_requests ORDER BY client_id, request_id'),
    versions: q(s, 'SELECT version FROM schema_migrations ORDER BY version'),
  };
}

function insertUser(s, email) {
  const id = randomUUID();
  dbExec(s, 'INSERT INTO users (id, email, email_normalized, created_at) VALUES (?, ?, ?, ?)',
    id, email, oldKey(email), Math.floor(Date.now() / 1000));
  return id;
}

describe('migration 0006_email_identity', () => {
  test('re-keys users, pending consents and account requests; an unparseable address keeps its key with a warning', async () => {
    const s = await startServer();
    let stopped = false;
    try {
      const clientId = await registerClient(s);
      const t = tag();
      const emile = `\u00c9mile-${t}@Example.com`;
      const idn = `User-${t}@B\u00fccher.example`;
      const broken = `\r\nbroken-${t}@example.com\r\n`;
      for (const email of [emile, idn]) {
        const a = await accountRequest(s, { clientId, email });
        assert.equal(a.res.json.type, 'oauth', a.res.text);
      }
      const again = await accountRequest(s, { clientId, email: emile });
      assert.equal(again.res.json.type, 'requires_auth', again.res.text);
      await s.stop();
      stopped = true;

      let brokenId;
      backToOldKeys(s, () => { brokenId = insertUser(s, broken); });
      const emileId = q1(s, 'SELECT id FROM users WHERE email = ?', emile).id;
      assert.equal(q1(s, 'SELECT email_normalized FROM users WHERE id = ?', emileId).email_normalized, `\u00c9mile-${t}@example.com`, 'the old key');

      const r = await s.cli(['migrate']);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /applied 0006_email_identity/);
      assert.match(r.stderr, new RegExp(`warning: migration 0006_email_identity: user ${brokenId} .*keeps its old email key`));
      assert.match(r.stderr, /cannot be parsed \(email must not contain control characters\)/);
      assert.ok(r.stderr.includes(`"\\u{D}\\u{A}broken-${t}@example.com\\u{D}\\u{A}"`), `the address is shown escaped:\n${r.stderr}`);

      assert.equal(q1(s, 'SELECT email_normalized FROM users WHERE id = ?', emileId).email_normalized, `\u00e9mile-${t}@example.com`);
      assert.equal(q1(s, 'SELECT email_normalized FROM users WHERE email = ?', idn).email_normalized, `user-${t}@xn--bcher-kva.example`);
      assert.equal(q1(s, 'SELECT email_normalized FROM users WHERE id = ?', brokenId).email_normalized, `broken-${t}@example.com`, 'kept');
      assert.deepEqual(q(s, 'SELECT DISTINCT email_normalized FROM pending_consents WHERE user_id = ?', emileId), [{ email_normalized: `\u00e9mile-${t}@example.com` }]);
      assert.deepEqual(q(s, 'SELECT DISTINCT email_normalized FROM account_requests WHERE user_id = ?', emileId), [{ email_normalized: `\u00e9mile-${t}@example.com` }]);
      assert.equal(count(s, 'SELECT COUNT(*) FROM schema_migrations WHERE version = ?', MIGRATION), 1);

      // The re-keyed database serves the new rule: another form of an old address is that account.
      await s.startOnNewPort();
      stopped = false;
      const usersBefore = count(s, 'SELECT COUNT(*) FROM users');
      for (const email of [`\u00e9MILE-${t.toUpperCase()}@example.com`, `user-${t}@xn--bcher-kva.example`, `broken-${t}@example.com`]) {
        const a = await accountRequest(s, { clientId, email });
        assert.equal(a.res.json.type, 'requires_auth', `${email}: ${a.res.text}`);
      }
      assert.equal(count(s, 'SELECT COUNT(*) FROM users'), usersBefore);
    } finally {
      if (!stopped) await s.stop();
    }
  });

  test('two existing accounts of one mailbox: migrate and serve refuse with a report, nothing changes', async () => {
    const s = await startServer();
    const clientId = await registerClient(s);
    const t = tag();
    const ids = {};
    for (const name of ['a', 'b', 'c', 'd']) {
      const email = `placeholder-${name}-${t}@example.com`;
      const a = await accountRequest(s, { clientId, email });
      assert.equal(a.res.json.type, 'oauth', a.res.text);
      ids[name] = q1(s, 'SELECT id FROM users WHERE email = ?', email).id;
    }
    await s.stop();
    // Distinct under the old key, one mailbox under the new: ÉMILE/émile, precomposed/decomposed.
    const emails = {
      a: `\u00e9mile-${t}@example.com`, b: `\u00c9MILE-${t}@example.com`,
      c: `jos\u00e9-${t}@example.com`, d: `jose\u0301-${t}@example.com`,
    };
    backToOldKeys(s, () => {
      for (const [name, email] of Object.entries(emails)) dbExec(s, 'UPDATE users SET email = ? WHERE id = ?', email, ids[name]);
    });
    const before = snapshot(s);
    assert.equal(new Set(before.users.map((u) => u.email_normalized)).size, before.users.length, 'distinct old keys');

    const r = await s.cli(['migrate']);
    assert.notEqual(r.code, 0, `migrate must fail:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /database migration failed: migration 0006_email_identity: 4 accounts would share an email identity/);
    assert.match(r.stderr, /nothing was changed/);
    for (const name of Object.keys(emails)) assert.ok(r.stderr.includes(`user ${ids[name]}`), `names user ${name}:\n${r.stderr}`);
    assert.ok(r.stderr.includes(`"\\u{C9}MILE-${t}@example.com"`), r.stderr);
    assert.ok(r.stderr.includes(`"jose\\u{301}-${t}@example.com"`), r.stderr);
    assert.ok(r.stderr.includes(`"jos\\u{E9}-${t}@example.com"`), r.stderr);
    assert.match(r.stderr, /What to do:/);
    assert.match(r.stderr, /UPDATE users SET email = '<another address>' WHERE id = '<user id>'/);
    assert.deepEqual(snapshot(s), before, 'the database is unchanged');

    const port = await freePort();
    const served = await runProcess(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--public-url', `http://127.0.0.1:${port}`,
      '--database', s.database, '--outbox-dir', join(s.dir, 'outbox'),
      ...(ON_POSTGRES ? ['--secrets-key-file', `${s.dbPath}-secrets.key`] : [])], { timeoutMs: 20000 });
    assert.equal(served.code, 1, `serve must refuse to start:\n${served.stderr}`);
    assert.match(served.stderr, /database migration failed: migration 0006_email_identity: 4 accounts would share/);
    assert.ok(served.stderr.includes(`user ${ids.b}`), served.stderr);
    assert.deepEqual(snapshot(s), before, 'still unchanged');

    // Following the report's advice works: give the second account of each group its own address.
    dbExec(s, 'UPDATE users SET email = ? WHERE id = ?', `other-b-${t}@example.com`, ids.b);
    dbExec(s, 'UPDATE users SET email = ? WHERE id = ?', `other-d-${t}@example.com`, ids.d);
    const fixed = await s.cli(['migrate']);
    assert.equal(fixed.code, 0, `${fixed.stdout}\n${fixed.stderr}`);
    assert.equal(q1(s, 'SELECT email_normalized FROM users WHERE id = ?', ids.a).email_normalized, `\u00e9mile-${t}@example.com`);
    assert.equal(q1(s, 'SELECT email_normalized FROM users WHERE id = ?', ids.c).email_normalized, `jos\u00e9-${t}@example.com`);
  });
});
