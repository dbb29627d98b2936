// The operator CLI (docs/API.md "Operator CLI"): clients edit and delete; users list, show,
// disable, enable and reset-link; organizations list and show; every listing a table by default
// and JSON with --json, with ISO-8601 UTC times in both. Each command's output is compared with
// the database, and its stored effects are checked over HTTP: a deleted client's and a disabled
// user's refresh tokens get invalid_grant, a disabled user cannot log in, a reset link arrives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  BIN, P, accountRequest, api, bearer, count, createResource, emailsTo, exchangeCode, makeTempDir, newAccount, q, q1,
  refreshGrant, registerClient, runProcess, setPasswordToken, sleep, startServer, uniqueEmail, waitForEmail,
} from './harness.mjs';
import {
  DEFAULT_PASSWORD, SESSION_COOKIE, WebClient, consentUrl, formWithButton, loginOverHttp, registerPartner,
  setPasswordOverHttp, stopServer,
} from '../e2e/e2e.mjs';

let server;
let partner; // an operator-registered partner without rate limits
before(async () => {
  server = await startServer();
  partner = await registerPartner(server, { name: 'Operator CLI Partner' });
});
after(async () => { await stopServer(server); });

/** Unix seconds (a column) as the CLI prints them: ISO-8601 UTC without fractions; null stays null. */
const iso = (s) => (s === null || s === undefined ? null : new Date(Number(s) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'));
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** provisiond ARGS --database …, asserting exit 0. */
async function ok(args) {
  const r = await server.cli(args);
  assert.equal(r.code, 0, `provisiond ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** provisiond ARGS --json, parsed. */
async function json(args) {
  const r = await ok([...args, '--json']);
  assert.equal(r.stdout.trim().split('\n').length, 1, `--json prints one line: ${r.stdout}`);
  return JSON.parse(r.stdout);
}

/** A refusal: the exit code, nothing on stdout, and what stderr says. */
async function refused(args, code, stderr) {
  const r = await server.cli(args);
  assert.equal(r.code, code, `provisiond ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.stdout, '', `provisiond ${args.join(' ')} prints nothing on stdout`);
  if (typeof stderr === 'string') assert.equal(r.stderr, stderr);
  else assert.match(r.stderr, stderr);
  return r;
}

/** A table's lines; asserts the header and that every cell starts under its header. */
function tableRows(stdout, headers) {
  const lines = stdout.trimEnd().split('\n');
  assert.match(lines[0], new RegExp(`^${headers.join(' {2,}')}$`), `header: ${lines[0]}`);
  const starts = headers.map((h) => lines[0].indexOf(h));
  return lines.slice(1).map((line) => {
    assert.doesNotMatch(line, / $/, 'no trailing spaces');
    return starts.map((start, i) => {
      assert.ok(i === 0 || line[start - 1] === ' ', `column ${headers[i]} starts after a space: "${line}"`);
      return line.slice(start, i + 1 < starts.length ? starts[i + 1] : undefined).trim();
    });
  });
}

/** A person provisioned by `clientId` who set a password: {email, userId, tokens, web (logged in)}. */
async function userWithPassword(clientId = partner, tag = 'op') {
  const acct = await newAccount(server, { clientId, email: uniqueEmail(tag) });
  const token = setPasswordToken(server, await waitForEmail(server, acct.email));
  assert.ok(token, `a set-password link in the welcome email to ${acct.email}`);
  const web = await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, DEFAULT_PASSWORD);
  const user = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', acct.email.toLowerCase());
  return { ...acct, userId: user.id, web };
}

/** POST /login without asserting the outcome. */
async function tryLogin(email, password) {
  const web = new WebClient(server);
  const page = await web.get('/login');
  const res = await web.submit(formWithButton(page.forms, 'Log in'), { email, password });
  return { res, web };
}

const sessionCookies = (res) => (res.headers['set-cookie'] ?? []).filter((c) => c.startsWith(`${SESSION_COOKIE}=`));

/** data of the grant.revoked events written since `from` for this client. */
function grantRevokedEvents(clientId, from) {
  return q(server, "SELECT body FROM webhook_events WHERE type = 'grant.revoked' AND created_at >= ?", from)
    .map((r) => JSON.parse(r.body).data)
    .filter((d) => d.client_id === clientId);
}

const nowSec = () => Math.floor(Date.now() / 1000);

/** The password_reset email to `email` in the outbox directory, once `serve` delivered it. */
async function waitForResetEmail(email) {
  for (let i = 0; i < 100; i++) {
    const found = (await emailsTo(server, email)).find((m) => /^X-Provisiond-Kind: password_reset\r?$/m.test(m.raw));
    if (found) return found;
    await sleep(100);
  }
  return assert.fail(`no password_reset email to ${email} in ${server.outboxDir}`);
}

// =============================================================================================
describe('clients edit', () => {
  test('replaces the name, redirect URIs, scope ceiling and limits, prints what it set; show --json and the row agree', async () => {
    const id = await registerClient(server, { name: 'Before Name', redirectUri: 'https://before.example/cb', scopes: ['user:read'] });
    const r = await ok(['clients', 'edit', id, '--name', 'After Name', '--redirect-uri', 'https://a.example/cb',
      '--redirect-uri', 'https://b.example/cb', '--scope', 'project:read', '--scope', 'user:read insight:read',
      '--limit-account-requests', '50', '--limit-token-exchanges', 'unlimited']);
    assert.equal(r.stdout, `updated ${id}\n`
      + '  name: After Name\n'
      + '  redirect URIs: https://a.example/cb, https://b.example/cb\n'
      + '  scope ceiling: insight:read project:read user:read (grants already given keep their scopes)\n'
      + '  account_requests: 50 per hour\n'
      + '  token_exchanges: unlimited\n');
    const row = q1(server, 'SELECT * FROM oauth_clients WHERE client_id = ?', id);
    assert.equal(row.name, 'After Name');
    assert.deepEqual(JSON.parse(row.redirect_uris), ['https://a.example/cb', 'https://b.example/cb']);
    assert.equal(row.scopes, 'insight:read project:read user:read');
    assert.deepEqual(JSON.parse(row.rate_limits), { account_requests: 50, token_exchanges: -1 });

    const show = await json(['clients', 'show', id]);
    assert.deepEqual(show, {
      client_id: id,
      name: 'After Name',
      kind: 'registered',
      redirect_uris: ['https://a.example/cb', 'https://b.example/cb'],
      scopes: ['insight:read', 'project:read', 'user:read'],
      is_active: true,
      capabilities: { create_accounts: true, provision_resources: true, deep_links: false },
      rate_limits_per_hour: { account_requests: 50, token_exchanges: 'unlimited', resource_creates: 20 },
      created_at: iso(row.created_at),
      updated_at: iso(row.updated_at),
      verified: false,
    });

    // `default` drops an override; what is not given stays.
    const back = await ok(['clients', 'edit', id, '--limit-account-requests', 'default']);
    assert.equal(back.stdout, `updated ${id}\n  account_requests: the server's default\n`);
    const after = q1(server, 'SELECT name, scopes, rate_limits FROM oauth_clients WHERE client_id = ?', id);
    assert.deepEqual({ ...after, rate_limits: JSON.parse(after.rate_limits) },
      { name: 'After Name', scopes: 'insight:read project:read user:read', rate_limits: { token_exchanges: -1 } });

    // /oauth/authorize takes the new redirect URIs and refuses the replaced one.
    const authorize = (uri) => api(server, 'GET', `/oauth/authorize?response_type=code&client_id=${encodeURIComponent(id)}`
      + `&redirect_uri=${encodeURIComponent(uri)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`, { apiVersion: false });
    assert.equal((await authorize('https://b.example/cb')).status, 302, 'a new redirect URI is accepted');
    assert.equal((await authorize('https://before.example/cb')).status, 400, 'the replaced redirect URI is refused');
  });

  test('bad input exits 2 and changes nothing; an unknown id exits 1 naming it and `clients list`', async () => {
    const id = await registerClient(server, { name: 'Steady Partner', scopes: ['user:read'] });
    const before = q1(server, 'SELECT * FROM oauth_clients WHERE client_id = ?', id);
    await refused(['clients', 'edit', id], 2,
      'error: nothing to change: give --name, --redirect-uri, --scope or a --limit-… flag (see `provisiond clients edit --help`)\n');
    await refused(['clients', 'edit', id, '--name', ''], 2, 'error: --name must be 1 to 100 characters\n');
    await refused(['clients', 'edit', id, '--name', 'x'.repeat(101)], 2, 'error: --name must be 1 to 100 characters\n');
    await refused(['clients', 'edit', id, '--redirect-uri', 'ftp://partner.example/cb'], 2, /^error: .+\n$/);
    await refused(['clients', 'edit', id, '--scope', 'user:read root:write'], 2, /^error: unknown scope `root:write`; known scopes: .*user:read/);
    await refused(['clients', 'edit', id, '--limit-resource-creates', 'lots'], 2,
      'error: --limit-resource-creates must be a whole number of calls per hour, `unlimited` or `default` (not `lots`)\n');
    await refused(['clients', 'edit', id, '--bogus'], 2, /--bogus/);
    await refused(['clients', 'edit', '--name', 'No Id'], 2, /client_id is required/);
    assert.deepEqual(q1(server, 'SELECT * FROM oauth_clients WHERE client_id = ?', id), before, 'nothing changed');
    await refused(['clients', 'edit', 'no-such-client', '--name', 'X'], 1,
      'error: no client no-such-client (see `provisiond clients list`)\n');
  });
});

// =============================================================================================
describe('clients delete', () => {
  test('revokes every family, unused code, pending consent, deep link and key the client holds, says how many; the client never authenticates again', async () => {
    const clientId = await registerPartner(server, { name: 'Doomed Partner' });
    await ok(['clients', 'set-capability', clientId, 'deep_links', 'on']);
    const alice = await userWithPassword(clientId, 'doomed-a');
    const bob = await newAccount(server, { clientId, email: uniqueEmail('doomed-b') });
    const resource = await createResource(server, alice.tokens.access_token);
    assert.equal(resource.status, 200, resource.text);
    const unused = await accountRequest(server, { clientId, email: uniqueEmail('doomed-c') });
    assert.equal(unused.res.status, 200, unused.res.text);
    const consent = await consentUrl(server, { clientId, email: alice.email });
    const deep = await api(server, 'POST', `${P}/deep_links`, { body: { purpose: 'dashboard', path: '/dashboard' }, headers: bearer(alice.tokens.access_token) });
    assert.equal(deep.status, 200, deep.text);
    const from = nowSec();

    const r = await ok(['clients', 'delete', clientId]);
    assert.equal(r.stdout, `deleted ${clientId}\n`
      + '  revoked 2 token families of 2 users\n'
      + '  expired 1 unused code\n'
      + '  withdrew 1 pending consent\n'
      + '  spent 1 deep link\n'
      + '  revoked 1 personal API key\n'
      + `The id ${clientId} stays taken: nothing authenticates as it again.\n`);

    // Stored: everything it held is revoked, the row is a tombstone.
    const row = q1(server, 'SELECT is_active, deleted_at FROM oauth_clients WHERE client_id = ?', clientId);
    assert.equal(row.is_active, 0);
    assert.ok(row.deleted_at >= from, 'deleted_at is set');
    assert.deepEqual(q(server, 'SELECT revoked_reason FROM token_families WHERE client_id = ?', clientId).map((f) => f.revoked_reason),
      ['client_disabled', 'client_disabled']);
    assert.equal(count(server, 'SELECT COUNT(*) FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id WHERE f.client_id = ? AND t.revoked_at IS NULL', clientId), 0);
    assert.equal(count(server, 'SELECT COUNT(*) FROM authorization_codes WHERE client_id = ? AND consumed_at IS NULL AND expires_at > ?', clientId, nowSec()), 0);
    assert.equal(count(server, 'SELECT COUNT(*) FROM pending_consents WHERE client_id = ?', clientId), 0);
    assert.equal(count(server, 'SELECT COUNT(*) FROM deep_links WHERE client_id = ? AND used_at IS NULL', clientId), 0);
    assert.equal(count(server, 'SELECT COUNT(*) FROM personal_api_keys WHERE client_id = ? AND revoked_at IS NULL', clientId), 0);
    assert.deepEqual(grantRevokedEvents(clientId, from), [{ client_id: clientId, user_id: null, reason: 'client_disabled' }]);

    // Over HTTP: nothing it held works.
    for (const tokens of [alice.tokens, bob.tokens]) {
      const refreshed = await refreshGrant(server, tokens.refresh_token);
      assert.equal(refreshed.status, 400, refreshed.text);
      assert.equal(refreshed.json.error, 'invalid_grant');
      assert.equal((await createResource(server, tokens.access_token)).status, 401);
    }
    const exchanged = await exchangeCode(server, unused.res.json.oauth.code, unused.verifier);
    assert.equal(exchanged.status, 400, exchanged.text);
    assert.equal(exchanged.json.error, 'invalid_grant');
    const link = new URL(deep.json.url);
    const opened = await new WebClient(server).get(link.pathname + link.search);
    assert.equal(opened.status, 302);
    assert.equal(opened.location.replace(server.url, ''), '/login?error=expired_or_invalid_token');
    const consentPage = await alice.web.get(new URL(consent.url).pathname + new URL(consent.url).search);
    assert.equal(consentPage.status, 400, 'the withdrawn consent cannot be approved');
    const again = await accountRequest(server, { clientId });
    assert.equal(again.res.status, 401, again.res.text);

    // The operator's view: gone from the list, shown with when it was deleted, never back.
    assert.ok(!(await json(['clients', 'list'])).some((c) => c.client_id === clientId));
    assert.equal((await json(['clients', 'show', clientId])).deleted_at, iso(row.deleted_at));
    const gone = new RegExp(`^error: client ${clientId} was deleted on ${iso(row.deleted_at)}; a deleted client stays deleted`);
    await refused(['clients', 'delete', clientId], 1, gone);
    await refused(['clients', 'enable', clientId], 1, gone);
    await refused(['clients', 'edit', clientId, '--name', 'Back'], 1, gone);
    await refused(['clients', 'add', '--client-id', clientId, '--name', 'Again', '--redirect-uri', 'https://x.example/cb'], 1,
      /ids are never reused .*Choose another --client-id/);
    assert.equal(q1(server, 'SELECT is_active FROM oauth_clients WHERE client_id = ?', clientId).is_active, 0);
  });

  test('an unknown id exits 1 naming it; a missing id exits 2', async () => {
    await refused(['clients', 'delete', 'never-registered'], 1, 'error: no client never-registered (see `provisiond clients list`)\n');
    await refused(['clients', 'delete'], 2, /client_id is required/);
  });
});

// =============================================================================================
describe('users', () => {
  const tag = `ulist${Date.now()}`;
  let withPassword;
  let withoutPassword;
  before(async () => {
    withPassword = await userWithPassword(partner, `${tag}-a`);
    withoutPassword = await newAccount(server, { clientId: partner, email: uniqueEmail(`${tag}-b`) });
    withoutPassword.userId = q1(server, 'SELECT id FROM users WHERE email_normalized = ?', withoutPassword.email.toLowerCase()).id;
  });

  const userOf = (row) => ({
    id: row.id,
    email: row.email,
    name: row.name,
    first_name: row.first_name,
    has_password: row.password_hash !== null,
    email_verified: row.email_verified === 1,
    created_at: iso(row.created_at),
    disabled_at: iso(row.disabled_at),
  });

  test('list --json is the users table; --email-contains filters, ignoring case; the table has a row per user', async () => {
    assert.deepEqual(await json(['users', 'list']), q(server, 'SELECT * FROM users ORDER BY created_at, id').map(userOf));
    const mine = q(server, 'SELECT * FROM users WHERE email LIKE ? ORDER BY created_at, id', `%${tag}%`);
    assert.equal(mine.length, 2);
    assert.deepEqual(await json(['users', 'list', '--email-contains', tag.toUpperCase()]), mine.map(userOf));

    const text = await ok(['users', 'list', '--email-contains', tag]);
    assert.deepEqual(tableRows(text.stdout, ['ID', 'EMAIL', 'NAME', 'PASSWORD', 'CREATED', 'STATUS']),
      mine.map((u) => [u.id, u.email, u.name, u.password_hash ? 'set' : 'not set', iso(u.created_at), 'active']));

    const none = await ok(['users', 'list', '--email-contains', '100%_nobody']);
    assert.equal(none.stdout, 'no user\'s email address contains "100%_nobody"\n');
    assert.deepEqual(await json(['users', 'list', '--email-contains', '100%_nobody']), []);
    await refused(['users', 'list', '--bogus'], 2, /--bogus/);
  });

  test('show by id or by any spelling of the email: organizations and roles, projects, partners, password, times', async () => {
    const byId = await json(['users', 'show', withPassword.userId]);
    assert.deepEqual(await json(['users', 'show', withPassword.email.toUpperCase()]), byId);
    const row = q1(server, 'SELECT * FROM users WHERE id = ?', withPassword.userId);
    const orgs = q(server, 'SELECT o.id, o.name, m.role, m.created_at FROM memberships m JOIN organizations o ON o.id = m.organization_id WHERE m.user_id = ?', row.id);
    const projects = q(server, 'SELECT p.id, p.name, o.id AS org_id, o.name AS org_name FROM projects p JOIN organizations o ON o.id = p.organization_id JOIN memberships m ON m.organization_id = o.id WHERE m.user_id = ? ORDER BY p.id', row.id);
    const family = q1(server, 'SELECT created_at FROM token_families WHERE user_id = ? AND client_id = ?', row.id, partner);
    assert.equal(orgs.length, 1);
    assert.deepEqual(byId, {
      ...userOf(row),
      organizations: orgs.map((o) => ({ id: o.id, name: o.name, role: 'owner', joined_at: iso(o.created_at) })),
      projects: projects.map((p) => ({ id: p.id, name: p.name, organization_id: p.org_id, organization_name: p.org_name })),
      partners: [{ client_id: partner, name: 'Operator CLI Partner', grants: 1, since: iso(family.created_at) }],
    });
    assert.equal(byId.has_password, true);
    assert.equal((await json(['users', 'show', withoutPassword.userId])).has_password, false);

    const text = (await ok(['users', 'show', withPassword.email])).stdout;
    assert.match(text, new RegExp(`^id: +${row.id}$`, 'm'));
    assert.match(text, /^has_password: +yes$/m);
    assert.match(text, /^disabled_at: +-$/m);
    assert.match(text, new RegExp(`^created_at: +${iso(row.created_at)}$`, 'm'));
    assert.match(text, new RegExp(`^organizations:\\n {2}ID +NAME +ROLE +JOINED_AT\\n {2}${orgs[0].id} +.+ +owner +${iso(orgs[0].created_at)}$`, 'm'));
    assert.match(text, /^partners:\n {2}CLIENT_ID +NAME +GRANTS +SINCE\n/m);

    await refused(['users', 'show', 'nobody@example.com'], 1,
      'error: no user nobody@example.com (give an id or an email address; see `provisiond users list`)\n');
    await refused(['users', 'show', 'no-such-id'], 1, /^error: no user no-such-id /);
    await refused(['users', 'show'], 2, /user is required/);
  });

  test('disable: login refused with the disabled message, sessions ended, refresh invalid_grant, grant.revoked user_disabled; enable lets them log in again', async () => {
    const u = await userWithPassword(partner, 'disable-me');
    assert.equal((await u.web.get('/dashboard')).status, 200, 'logged in before');
    await ok(['clients', 'set-capability', partner, 'deep_links', 'on']);
    const deep = await api(server, 'POST', `${P}/deep_links`, { body: { purpose: 'dashboard', path: '/dashboard' }, headers: bearer(u.tokens.access_token) });
    assert.equal(deep.status, 200, deep.text);
    const from = nowSec();
    const r = await ok(['users', 'disable', u.email]);
    assert.equal(r.stdout, `disabled ${u.email} (${u.userId})\n`
      + '  ended every browser session\n'
      + `  revoked 1 token family of 1 partner (${partner})\n`
      + '  expired 0 unused codes\n'
      + `They cannot log in until \`provisiond users enable ${u.email}\`.\n`);
    const row = q1(server, 'SELECT disabled_at FROM users WHERE id = ?', u.userId);
    assert.ok(row.disabled_at >= from);
    assert.equal(count(server, 'SELECT COUNT(*) FROM sessions WHERE user_id = ?', u.userId), 0);
    assert.deepEqual(q(server, 'SELECT revoked_reason FROM token_families WHERE user_id = ?', u.userId).map((f) => f.revoked_reason), ['user_disabled']);
    assert.deepEqual(grantRevokedEvents(partner, from).filter((d) => d.user_id === u.userId),
      [{ client_id: partner, user_id: u.userId, reason: 'user_disabled' }]);

    const refreshed = await refreshGrant(server, u.tokens.refresh_token);
    assert.equal(refreshed.status, 400, refreshed.text);
    assert.equal(refreshed.json.error, 'invalid_grant');
    assert.equal((await createResource(server, u.tokens.access_token)).status, 401);
    const dashboard = await u.web.get('/dashboard');
    assert.equal(dashboard.status, 302, 'the old session no longer works');
    assert.match(dashboard.location, /\/login/);

    // The right password learns why; a wrong one learns nothing new.
    const right = await tryLogin(u.email, DEFAULT_PASSWORD);
    assert.equal(right.res.status, 403, right.res.pageText.slice(0, 300));
    assert.match(right.res.pageText, /This account is disabled\. Contact support\./);
    assert.deepEqual(sessionCookies(right.res), []);
    const link = new URL(deep.json.url);
    const opened = await new WebClient(server).get(link.pathname + link.search);
    assert.equal(opened.status, 302, 'a partner\'s deep link logs no disabled person in');
    assert.equal(opened.location.replace(server.url, ''), '/login?error=account_disabled');
    assert.deepEqual(sessionCookies(opened), []);
    assert.match((await new WebClient(server).get('/login?error=account_disabled')).pageText, /This account is disabled\. Contact support\./);
    const wrong = await tryLogin(u.email, 'not the password');
    assert.equal(wrong.res.status, 401);
    assert.match(wrong.res.pageText, /Email or password is incorrect/);
    assert.doesNotMatch(wrong.res.pageText, /disabled/);

    assert.equal((await json(['users', 'show', u.userId])).disabled_at, iso(row.disabled_at));
    const listed = tableRows((await ok(['users', 'list', '--email-contains', u.email])).stdout, ['ID', 'EMAIL', 'NAME', 'PASSWORD', 'CREATED', 'STATUS']);
    assert.deepEqual(listed.map((cells) => cells[5]), ['disabled']);
    assert.equal((await ok(['users', 'disable', u.userId])).stdout, `${u.email} is already disabled (since ${iso(row.disabled_at)})\n`);
    await refused(['users', 'reset-link', u.email], 1,
      `error: ${u.email} is disabled, so a set-password link would not work; \`provisiond users enable ${u.email}\` first\n`);

    const enabled = await ok(['users', 'enable', u.email.toUpperCase()]);
    assert.equal(enabled.stdout, `enabled ${u.email} (${u.userId})\n`
      + `They log in with their password (\`provisiond users reset-link ${u.email}\` sends them a new one); partners ask for consent again.\n`);
    assert.equal(q1(server, 'SELECT disabled_at FROM users WHERE id = ?', u.userId).disabled_at, null);
    await loginOverHttp(server, u.email, DEFAULT_PASSWORD);
    assert.equal((await refreshGrant(server, u.tokens.refresh_token)).status, 400, 'revoked grants stay revoked');
    assert.equal((await ok(['users', 'enable', u.email])).stdout, `${u.email} is not disabled\n`);
    await refused(['users', 'disable', 'ghost@example.com'], 1, /^error: no user ghost@example\.com /);
  });

  test('reset-link queues a password_reset email whose link works; the link is never printed', async () => {
    const u = await userWithPassword(partner, 'reset-me');
    const r = await ok(['users', 'reset-link', u.email, '--public-url', server.url]);
    assert.equal(r.stdout, `queued a password_reset email to ${u.email} (${u.userId})\n`
      + `\`provisiond serve\` on this database delivers it and mints its link then: ${server.url}/account/set-password, valid 72 hours.\n`);
    assert.doesNotMatch(r.stdout + r.stderr, /token=/);
    assert.equal(count(server, "SELECT COUNT(*) FROM outbox WHERE user_id = ? AND kind = 'password_reset'", u.userId), 1);
    const mail = await waitForResetEmail(u.email);
    assert.match(mail.raw, /^Subject: Reset your provisiond password/m);
    const token = setPasswordToken(server, mail);
    assert.ok(token, 'the email carries a set-password link');
    const next = 'a new password from the operator link';
    await setPasswordOverHttp(server, `${server.url}/account/set-password?token=${encodeURIComponent(token)}`, next);
    await loginOverHttp(server, u.email, next);

    await refused(['users', 'reset-link', u.email, '--brand-accent', 'red'], 2, /brand-accent/);
    await refused(['users', 'reset-link', 'nobody@example.com'], 1, /^error: no user nobody@example\.com /);
  });
});

// =============================================================================================
describe('organizations', () => {
  test('list --json is the organizations table with member and project counts; show lists members with roles and projects', async () => {
    const u = await newAccount(server, { clientId: partner, email: uniqueEmail('orgs') });
    const orgId = u.account?.organization_id ?? q1(server, 'SELECT m.organization_id AS id FROM memberships m JOIN users x ON x.id = m.user_id WHERE x.email_normalized = ?', u.email.toLowerCase()).id;
    const rows = q(server, 'SELECT o.*, (SELECT COUNT(*) FROM memberships m WHERE m.organization_id = o.id) AS members, '
      + '(SELECT COUNT(*) FROM projects p WHERE p.organization_id = o.id) AS projects FROM organizations o ORDER BY o.created_at, o.id');
    assert.deepEqual(await json(['organizations', 'list']), rows.map((o) => ({
      id: o.id, name: o.name, region: o.region, members: o.members, projects: o.projects, created_at: iso(o.created_at),
    })));
    const text = await ok(['organizations', 'list']);
    assert.deepEqual(tableRows(text.stdout, ['ID', 'NAME', 'REGION', 'MEMBERS', 'PROJECTS', 'CREATED']),
      rows.map((o) => [o.id, o.name, o.region, String(o.members), String(o.projects), iso(o.created_at)]));

    const org = q1(server, 'SELECT * FROM organizations WHERE id = ?', orgId);
    const members = q(server, 'SELECT m.user_id, x.email, m.role, m.created_at FROM memberships m JOIN users x ON x.id = m.user_id WHERE m.organization_id = ?', orgId);
    const projects = q(server, 'SELECT id, name, created_at FROM projects WHERE organization_id = ? ORDER BY id', orgId);
    assert.deepEqual(await json(['organizations', 'show', orgId]), {
      id: org.id,
      name: org.name,
      region: org.region,
      created_at: iso(org.created_at),
      members: members.map((m) => ({ user_id: m.user_id, email: m.email, role: m.role, joined_at: iso(m.created_at) })),
      projects: projects.map((p) => ({ id: p.id, name: p.name, created_at: iso(p.created_at) })),
    });
    const shown = (await ok(['organizations', 'show', orgId])).stdout;
    assert.match(shown, new RegExp(`^region: +${org.region}$`, 'm'));
    assert.match(shown, new RegExp(`^members:\\n {2}USER_ID +EMAIL +ROLE +JOINED_AT\\n {2}${members[0].user_id} +${members[0].email.replace(/[.+]/g, '\\$&')} +owner +${ISO_RE.source.slice(1, -1)}$`, 'm'));
    assert.match(shown, /^projects:\n {2}ID +NAME +CREATED_AT\n/m);

    await refused(['organizations', 'show', 'no-such-org'], 1, 'error: no organization no-such-org (see `provisiond organizations list`)\n');
    await refused(['organizations', 'show'], 2, /organization_id is required/);
    await refused(['organizations', 'list', '--bogus'], 2, /--bogus/);
  });
});

// =============================================================================================
describe('every listing: a table by default, JSON with --json, ISO-8601 UTC times', () => {
  test('clients list and clients blocked', async () => {
    const id = await registerClient(server, { name: 'Listed Partner' });
    const row = q1(server, 'SELECT created_at FROM oauth_clients WHERE client_id = ?', id);
    const listed = (await json(['clients', 'list'])).find((c) => c.client_id === id);
    assert.equal(listed.created_at, iso(row.created_at));
    const table = tableRows((await ok(['clients', 'list'])).stdout, ['CLIENT_ID', 'NAME', 'KIND', 'STATUS', 'VERIFIED', 'CREATED']);
    assert.deepEqual(table.find((cells) => cells[0] === id), [id, 'Listed Partner', 'registered', 'active', 'unverified', iso(row.created_at)]);

    const domain = `blocked-${Date.now()}.example`;
    await ok(['clients', 'block', domain, '--reason', 'spam partner']);
    const blockRow = q1(server, 'SELECT created_at FROM client_blocklist WHERE entry = ?', domain);
    assert.deepEqual((await json(['clients', 'blocked'])).find((b) => b.entry === domain),
      { entry: domain, kind: 'domain', reason: 'spam partner', created_at: iso(blockRow.created_at) });
    const blocked = tableRows((await ok(['clients', 'blocked'])).stdout, ['ENTRY', 'KIND', 'REASON', 'CREATED']);
    assert.deepEqual(blocked.find((cells) => cells[0] === domain), [domain, 'domain', 'spam partner', iso(blockRow.created_at)]);
    await ok(['clients', 'unblock', domain]);
  });

  test('verification-tokens list', async () => {
    const orgId = q1(server, 'SELECT id FROM organizations ORDER BY created_at LIMIT 1').id;
    const created = JSON.parse((await ok(['verification-tokens', 'create', '--organization', orgId])).stdout);
    const row = q1(server, 'SELECT * FROM verification_tokens WHERE id = ?', created.id);
    const listed = (await json(['verification-tokens', 'list'])).find((t) => t.id === created.id);
    assert.deepEqual(listed, {
      id: created.id, organization_id: orgId, token: row.hint, bound_client_id: null, created_at: iso(row.created_at), revoked_at: null, last_used_at: null,
    });
    const table = tableRows((await ok(['verification-tokens', 'list'])).stdout, ['ID', 'ORGANIZATION', 'TOKEN', 'BOUND_CLIENT', 'CREATED', 'REVOKED', 'LAST_USED']);
    assert.deepEqual(table.find((cells) => cells[0] === created.id), [created.id, orgId, row.hint, '-', iso(row.created_at), '-', '-']);
    await refused(['verification-tokens', 'create', '--organization', 'no-such-org'], 1, 'error: no organization no-such-org (see `provisiond organizations list`)\n');
  });

  test('webhooks list', async () => {
    const added = JSON.parse((await ok(['webhooks', 'add', '--url', 'http://127.0.0.1:9/hooks', '--events', 'account.created,grant.revoked'])).stdout);
    try {
      const row = q1(server, 'SELECT created_at FROM webhook_endpoints WHERE id = ?', added.id);
      const listed = (await json(['webhooks', 'list'])).find((e) => e.id === added.id);
      assert.deepEqual({ ...listed, pending: 0 },
        { id: added.id, url: 'http://127.0.0.1:9/hooks', events: ['account.created', 'grant.revoked'], created_at: iso(row.created_at), pending: 0 });
      const table = tableRows((await ok(['webhooks', 'list'])).stdout, ['ID', 'URL', 'EVENTS', 'PENDING', 'CREATED']);
      const cells = table.find((c) => c[0] === added.id);
      assert.deepEqual([cells[0], cells[1], cells[2], cells[4]], [added.id, 'http://127.0.0.1:9/hooks', 'account.created,grant.revoked', iso(row.created_at)]);
      assert.match(cells[3], /^\d+$/);
    } finally {
      await ok(['webhooks', 'remove', added.id]);
    }
  });
});

// =============================================================================================
describe('the config file', () => {
  test('commands take the settings they have from it; `clients edit` never takes a --limit-… from a server default there', async () => {
    const id = await registerClient(server, { name: 'Config Partner' });
    const dir = await makeTempDir();
    const file = join(dir, 'provisiond.conf');
    writeFileSync(file, [
      `database = ${server.database}`,
      'listen = 127.0.0.1:1',
      'log-format = text',
      'limit-account-requests = 5',
      'public-url = https://accounts.example',
      'brand-name = Acme Cloud',
    ].join('\n'));
    const edited = await runProcess(BIN, ['clients', 'edit', id, '--name', 'Config Edited', '--config', file]);
    assert.equal(edited.code, 0, edited.stderr);
    const row = q1(server, 'SELECT name, rate_limits FROM oauth_clients WHERE client_id = ?', id);
    assert.deepEqual(row, { name: 'Config Edited', rate_limits: '{}' });

    const u = await newAccount(server, { clientId: partner, email: uniqueEmail('config-reset') });
    const reset = await runProcess(BIN, ['users', 'reset-link', u.email, '--config', file]);
    assert.equal(reset.code, 0, reset.stderr);
    assert.match(reset.stdout, /mints its link then: https:\/\/accounts\.example\/account\/set-password, valid 72 hours/);
    assert.equal(q1(server, "SELECT subject FROM outbox WHERE recipient = ? AND kind = 'password_reset'", u.email).subject,
      'Reset your Acme Cloud password', 'the branding of the config file');
    const mail = await waitForResetEmail(u.email);
    assert.ok(mail.text.includes('https://accounts.example/account/set-password?token='), 'the link points at the configured public URL');
  });
});

