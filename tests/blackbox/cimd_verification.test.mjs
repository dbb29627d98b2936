// CIMD: verification tokens (docs/CIMD.md "Verification tokens"): the operator CLI, linking a
// self-registered client to an organization through its document, the raised account-request
// limit, binding, revocation and removal.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ON_POSTGRES, accountRequest, avoidHourBoundary, dbFileBytes, newAccount, q, registerClient, sha256hex, sleep, startServer,
} from './harness.mjs';
import { startTlsSite } from './tls_fixture.mjs';
import {
  assertRegistered, assertTypedError, cimdDoc, findCheck, nextSourceAddress, registration, showClient, uid, waitFor,
} from './cimd_common.mjs';

const TOKEN_RE = /phvt_[A-Za-z0-9_-]{20,}/;
const LIMIT_MESSAGE = 'Rate limit exceeded for this partner (account_requests). Try again later.';

let site;
before(async () => { site = await startTlsSite(); });
after(async () => { await site?.stop(); });

async function withServer(fn) {
  const server = await startServer({ extraArgs: [...site.cimdArgs(['partner.test', 'other.test']), '--cimd-min-ttl-seconds', '1'] });
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** An organization: provision an account through an operator-registered client. */
async function newOrganization(server) {
  const c = await registerClient(server);
  const a = await newAccount(server, { clientId: c, configuration: { region: 'US', organization_name: `Org ${uid()}` } });
  return a.account.id;
}

/** verification-tokens create → {token, id, stdout}. */
async function createToken(server, org) {
  const r = await server.cli(['verification-tokens', 'create', '--organization', org]);
  assert.equal(r.code, 0, `verification-tokens create: ${r.stdout} ${r.stderr}`);
  const m = TOKEN_RE.exec(r.stdout);
  assert.ok(m, `a phvt_ token is printed: ${r.stdout}`);
  let id;
  try { id = JSON.parse(r.stdout.trim().split('\n')[0]).id; } catch { /* not JSON */ }
  if (!id) {
    const list = await listTokens(server);
    id = list.find((t) => JSON.stringify(t).includes(m[0].slice(-4)))?.id;
  }
  assert.ok(id, `a token id: ${r.stdout}`);
  return { token: m[0], id, stdout: r.stdout };
}

async function listTokens(server, args = []) {
  const r = await server.cli(['verification-tokens', 'list', '--json', ...args]);
  assert.equal(r.code, 0, `verification-tokens list: ${r.stdout} ${r.stderr}`);
  let list;
  try { list = JSON.parse(r.stdout); } catch { assert.fail(`verification-tokens list --json prints JSON: ${r.stdout}`); }
  assert.ok(Array.isArray(list), r.stdout);
  return list.map((t) => ({ ...t, _raw: r.stdout }));
}

function publish(overrides, dir = 'plain', host = 'partner.test') {
  const path = `/${dir}/${uid()}.json`;
  const url = site.url(host, path);
  site.writeDoc(path, cimdDoc(url, overrides));
  return { url, path };
}

/** client_registration from a fresh source address (registration limits are per address). */
const register = (server, url) => registration(server, url, { localAddress: nextSourceAddress() });

/** Every value stored anywhere in the database equal to `hex` (case-insensitive) or to its raw bytes. */
function dbContainsHash(server, hex) {
  const raw = Buffer.from(hex, 'hex');
  const tables = (ON_POSTGRES
    ? q(server, "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
    : q(server, "SELECT name FROM sqlite_master WHERE type = 'table'")).map((t) => t.name);
  for (const t of tables) {
    for (const row of q(server, `SELECT * FROM "${t.replaceAll('"', '""')}"`)) {
      for (const v of Object.values(row)) {
        // PostgreSQL's bytea comes back from psql's JSON as '\\x' and hex digits.
        if (typeof v === 'string' && (v.toLowerCase() === hex || v.toLowerCase() === `\\x${hex}`)) return true;
        if (v instanceof Uint8Array && Buffer.from(v).equals(raw)) return true;
      }
    }
  }
  return false;
}

async function accountRequests(server, url, n) {
  const statuses = [];
  for (let i = 0; i < n; i++) statuses.push((await accountRequest(server, { clientId: url })).res);
  return statuses;
}

// =============================================================================================
describe('operator CLI', () => {
  test('create prints a phvt_ token once; only its SHA-256 is stored; list masks it; revoke marks it', async () => {
    await withServer(async (server) => {
      const org = await newOrganization(server);
      const { token, id } = await createToken(server, org);
      const secretPart = token.slice('phvt_'.length);
      assert.ok(secretPart.length >= 32, `token has enough randomness: ${token}`);

      const bytes = await dbFileBytes(server);
      assert.ok(!bytes.includes(Buffer.from(token)), 'the token is not stored in the clear');
      assert.ok(!bytes.includes(Buffer.from(secretPart)), 'not even without its prefix');
      assert.ok(dbContainsHash(server, sha256hex(token)), 'its SHA-256 is stored');
      assert.doesNotMatch(bytes.toString('latin1'), /phvt_[A-Za-z0-9_-]{8,}/, 'no phvt_ token in the clear anywhere in the database');

      const list = await listTokens(server);
      const row = list.find((t) => t.id === id);
      assert.ok(row, `list shows the token: ${list[0]?._raw}`);
      assert.equal(row.organization_id, org);
      assert.ok(!row._raw.includes(token) && !row._raw.includes(secretPart), 'list never shows the token');
      assert.match(row._raw, new RegExp(`phvt_(…|\\.\\.\\.)${token.slice(-4)}`), 'masked as phvt_…<last 4>');

      const byOrg = await listTokens(server, ['--organization', org]);
      assert.deepEqual(byOrg.map((t) => t.id), [id]);
      const otherOrg = await newOrganization(server);
      assert.deepEqual((await listTokens(server, ['--organization', otherOrg])).map((t) => t.id), []);

      const r = await server.cli(['verification-tokens', 'revoke', id]);
      assert.equal(r.code, 0, r.stderr);
      const after = (await listTokens(server)).find((t) => t.id === id);
      assert.ok(after && JSON.stringify(after).match(/revoked/i), `list shows it revoked: ${JSON.stringify(after)}`);
      assert.notEqual(after.revoked_at ?? null, null);
    });
  });

  test('a verified client\'s token is not kept in the clear either (the cached document is stored without it)', async () => {
    await withServer(async (server) => {
      const org = await newOrganization(server);
      const { token } = await createToken(server, org);
      const { url } = publish({ 'com.posthog': { verification_token: token } });
      assert.equal(assertRegistered(await register(server, url), url).verified, true);
      const bytes = (await dbFileBytes(server)).toString('latin1');
      assert.ok(!bytes.includes(token.slice('phvt_'.length)), 'the token from the document is not stored in the clear');
      assert.doesNotMatch(bytes, /phvt_[A-Za-z0-9_-]{8,}/, 'no phvt_ token in the clear anywhere in the database');
    });
  });

  test('create refuses an unknown organization; revoke refuses an unknown id', async () => {
    await withServer(async (server) => {
      const r = await server.cli(['verification-tokens', 'create', '--organization', '00000000-0000-4000-8000-000000000000']);
      assert.notEqual(r.code, 0, r.stdout);
      assert.doesNotMatch(r.stdout, TOKEN_RE);
      assert.deepEqual(await listTokens(server), []);
      const rv = await server.cli(['verification-tokens', 'revoke', 'no-such-token']);
      assert.notEqual(rv.code, 0, rv.stdout);
    });
  });
});

// =============================================================================================
describe('verified clients', { concurrency: true }, () => {
  before(async () => { await avoidHourBoundary(60); });

  for (const [label, where] of [
    ['com.posthog.verification_token', (token) => ({ 'com.posthog': { verification_token: token } })],
    ['the top-level posthog_verification_token', (token) => ({ posthog_verification_token: token })],
  ]) {
    test(`a live token in ${label} verifies the client: organization linked, 100 account requests per hour`, async () => {
      await withServer(async (server) => {
        const org = await newOrganization(server);
        const { token, id } = await createToken(server, org);
        const { url } = publish(where(token));
        const body = assertRegistered(await register(server, url), url);
        assert.equal(body.verified, true, JSON.stringify(body));
        assert.equal(body.organization_id, org);
        const check = findCheck(body.checks, 'verification_token');
        assert.equal(check.ok, true, check.detail);

        const show = await showClient(server, url);
        assert.equal(show.verified, true);
        assert.equal(show.organization_id, org);
        const listed = JSON.parse((await server.cli(['clients', 'list', '--json'])).stdout).find((c) => c.client_id === url);
        assert.equal(listed.verified, true);
        const tokenRow = (await listTokens(server)).find((t) => t.id === id);
        assert.ok(JSON.stringify(tokenRow).includes(url), `the token is bound to ${url}: ${JSON.stringify(tokenRow)}`);

        const res = await accountRequests(server, url, 12);
        res.forEach((r, i) => assert.equal(r.status, 200, `verified, request ${i + 1}: ${r.text}`));

        // control: an unverified client gets 10
        const plain = publish({});
        assert.equal(assertRegistered(await register(server, plain.url), plain.url).verified, false);
        const ctl = await accountRequests(server, plain.url, 11);
        ctl.slice(0, 10).forEach((r, i) => assert.equal(r.status, 200, `unverified, request ${i + 1}: ${r.text}`));
        assertTypedError(ctl[10], 429, 'rate_limited', LIMIT_MESSAGE);
      });
    });
  }

  test('com.posthog.verification_token wins over the top-level member', async () => {
    await withServer(async (server) => {
      const org = await newOrganization(server);
      const { token } = await createToken(server, org);
      const { url } = publish({ 'com.posthog': { verification_token: token }, posthog_verification_token: 'phvt_bogusbogusbogusbogusbogusbogusbogus' });
      const body = assertRegistered(await register(server, url), url);
      assert.equal(body.verified, true);
      assert.equal(body.organization_id, org);
    });
  });

  test('an unknown or malformed token leaves the client registered but unverified', async () => {
    await withServer(async (server) => {
      for (const t of ['phvt_' + 'A'.repeat(43), 'not-a-token', '']) {
        const { url } = publish({ 'com.posthog': { verification_token: t } });
        const body = assertRegistered(await register(server, url), url);
        assert.equal(body.verified, false, t);
        assert.equal(body.organization_id, null);
      }
    });
  });

  test('the first client binds the token: the same token copied into another URL\'s document does not verify it', async () => {
    await withServer(async (server) => {
      const org = await newOrganization(server);
      const { token } = await createToken(server, org);
      const a = publish({ 'com.posthog': { verification_token: token } });
      assert.equal(assertRegistered(await register(server, a.url), a.url).verified, true);
      const b = publish({ 'com.posthog': { verification_token: token } }, 'plain', 'other.test');
      const bBody = assertRegistered(await register(server, b.url), b.url);
      assert.equal(bBody.verified, false, 'a copied token does not verify a stranger');
      assert.equal(bBody.organization_id, null);
      assert.equal(findCheck(bBody.checks, 'verification_token').ok, false);
      // the owner stays verified on a re-fetch
      const again = assertRegistered(await register(server, a.url), a.url);
      assert.equal(again.verified, true);
      assert.equal(again.organization_id, org);
      // and the stranger's limit is 10
      const res = await accountRequests(server, b.url, 11);
      assertTypedError(res[10], 429, 'rate_limited', LIMIT_MESSAGE);
    });
  });

  test('revoking the token unverifies the client at its next (background) refresh: the limit falls back to 10', async () => {
    await withServer(async (server) => {
      const org = await newOrganization(server);
      const { token, id } = await createToken(server, org);
      const { url, path } = publish({ 'com.posthog': { verification_token: token } }, 'maxage1');
      assert.equal(assertRegistered(await register(server, url), url).verified, true);
      const res = await accountRequests(server, url, 12);
      res.forEach((r, i) => assert.equal(r.status, 200, `verified, request ${i + 1}: ${r.text}`));

      const rv = await server.cli(['verification-tokens', 'revoke', id]);
      assert.equal(rv.code, 0, rv.stderr);
      await sleep(2200);                                        // the document is stale now
      const before = site.fetchCount(path);
      const trigger = await accountRequest(server, { clientId: url });
      assert.ok([200, 429].includes(trigger.res.status), trigger.res.text);
      await site.waitForFetchCount(path, before + 1);
      await waitFor(async () => (await showClient(server, url)).verified === false, 'the client is unverified after the refresh');
      assert.equal((await showClient(server, url)).organization_id, null);
      assertTypedError((await accountRequest(server, { clientId: url })).res, 429, 'rate_limited', LIMIT_MESSAGE);
      // a revoked token verifies nobody new either
      const other = publish({ 'com.posthog': { verification_token: token } }, 'plain', 'other.test');
      assert.equal(assertRegistered(await register(server, other.url), other.url).verified, false);
    });
  });

  test('a token removed from the document unlinks the client at the next fetch', async () => {
    await withServer(async (server) => {
      const org = await newOrganization(server);
      const { token } = await createToken(server, org);
      const { url, path } = publish({ 'com.posthog': { verification_token: token } });
      assert.equal(assertRegistered(await register(server, url), url).verified, true);
      site.writeDoc(path, cimdDoc(url));
      const body = assertRegistered(await register(server, url), url);
      assert.equal(body.verified, false);
      assert.equal(body.organization_id, null);
      assert.equal((await showClient(server, url)).verified, false);
      // put back: the token is still bound to this client, so it verifies again
      site.writeDoc(path, cimdDoc(url, { 'com.posthog': { verification_token: token } }));
      assert.equal(assertRegistered(await register(server, url), url).verified, true);
    });
  });
});
