// Inputs an attacker shapes (issue "Hardening"): responses that quote input stay valid UTF-8,
// partner-supplied display text cannot carry line breaks or invisible characters into emails and
// pages, and a JSON key given twice is refused as a repeated form parameter is.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  P, TOKEN_PATH, accountRequest, api, count, createResource, decodeQuotedPrintable, mimeParts, newAccount, q1,
  registerClient, startServer, uniqueEmail, waitForEmail,
} from './harness.mjs';

let server;
let clientId;
before(async () => {
  server = await startServer();
  clientId = await registerClient(server);
});
after(async () => { await server.stop(); });

/** Throws unless the bytes are well-formed UTF-8. */
function assertUtf8(raw, what) {
  assert.doesNotThrow(() => new TextDecoder('utf-8', { fatal: true }).decode(raw), `${what} is valid UTF-8`);
}

describe('responses that quote input are valid UTF-8', () => {
  // 'a' + 'é'×40: a byte cut at 64 falls inside a two-byte character.
  const odd = `a${'é'.repeat(40)}`;

  test('token endpoint: an unsupported grant_type is quoted, cut on a character boundary', async () => {
    const r = await api(server, 'POST', TOKEN_PATH, { form: { grant_type: odd }, apiVersion: false });
    assert.equal(r.status, 400, r.text);
    assertUtf8(r.raw, 'the body');
    assert.equal(r.json.error, 'unsupported_grant_type');
    assert.ok(r.json.error_description.startsWith(`Unsupported grant_type: a${'é'.repeat(31)}…`), r.json.error_description);
  });

  test('resources: an unknown service_id is quoted, cut on a character boundary', async () => {
    const acct = await newAccount(server, { clientId });
    const r = await createResource(server, acct.tokens.access_token, { service_id: odd });
    assert.equal(r.status, 400, r.text);
    assertUtf8(r.raw, 'the body');
    assert.equal(r.json.error.code, 'unknown_service');
    assert.ok(r.json.error.message.startsWith(`Unknown service_id: a${'é'.repeat(31)}…`), r.json.error.message);
  });

  test('a repeated form key is quoted, cut on a character boundary', async () => {
    const key = `k${'€'.repeat(60)}`; // three-byte characters
    const body = `${encodeURIComponent(key)}=1&${encodeURIComponent(key)}=2`;
    const r = await api(server, 'POST', TOKEN_PATH, {
      body, headers: { 'content-type': 'application/x-www-form-urlencoded' }, apiVersion: false,
    });
    assert.equal(r.status, 400, r.text);
    assertUtf8(r.raw, 'the body');
    assert.match(r.json.error_description, /^Parameter k€+… appears more than once$/);
  });
});

describe('display text a partner supplies is one clean line', () => {
  const invisible = ['\u202e', '\u200b', '\u{e0041}', '\u180e', '\ufff9', '\u2066', '\u00ad', '\ufe0f'];

  test('name and organization_name: line breaks become spaces, controls and invisible characters are removed', async () => {
    const email = uniqueEmail('display');
    const ar = await accountRequest(server, {
      clientId, email,
      name: `Jane${invisible.join('')}\r\n\r\nClick https://evil.example\u0007 now`,
      configuration: { region: 'US', organization_name: `Org\n\nBcc: victim@example.com${invisible.join('')}\t!` },
    });
    assert.equal(ar.res.status, 200, ar.res.text);
    const user = q1(server, 'SELECT id, name, first_name FROM users WHERE email = ?', email);
    assert.equal(user.name, 'Jane Click https://evil.example now');
    assert.equal(user.first_name, 'Jane');
    const org = q1(server, `SELECT o.name FROM organizations o JOIN memberships m ON m.organization_id = o.id
                            WHERE m.user_id = ?`, user.id);
    assert.equal(org.name, 'Org Bcc: victim@example.com !');
    const mail = await waitForEmail(server, email);
    // No header or line an attacker's line break could start; the name stays whole in both parts
    // (the plain-text part wraps paragraphs at 72 columns, so its line breaks are read as spaces).
    assert.doesNotMatch(mail.raw, /^Bcc:/im, mail.raw);
    const { parts } = mimeParts(mail.raw);
    const part = (type) => parts.find((p) => p.headers['content-type']?.startsWith(type))?.body ?? '';
    assert.match(part('text/plain').replace(/\r?\n/g, ' '), /organization "Org Bcc: victim@example\.com !" and/, mail.raw);
    assert.ok(decodeQuotedPrintable(part('text/html')).includes('&quot;Org Bcc: victim@example.com !&quot;'), mail.raw);
    for (const ch of invisible) assert.ok(!mail.raw.includes(ch), `no U+${ch.codePointAt(0).toString(16)} in the email`);
  });

  test('an organization_name of only invisible characters is treated as absent', async () => {
    const email = uniqueEmail('blank-org');
    const ar = await accountRequest(server, { clientId, email, configuration: { region: 'US', organization_name: '\u200b\u202e' } });
    assert.equal(ar.res.status, 200, ar.res.text);
    const org = q1(server, `SELECT o.name FROM organizations o JOIN memberships m ON m.organization_id = o.id
                            JOIN users u ON u.id = m.user_id WHERE u.email = ?`, email);
    assert.match(org.name, /\(.*@example\.com\)$/, 'the default organization name');
  });

  test('label_prefix still refuses invisible characters (the same rule)', async () => {
    const acct = await newAccount(server, { clientId });
    for (const ch of ['\u202e', '\u{e0041}', '\u180e', '\ufe0f']) {
      const r = await createResource(server, acct.tokens.access_token, { label_prefix: `Ac${ch}me` });
      assert.equal(r.status, 400, `U+${ch.codePointAt(0).toString(16)}: ${r.text}`);
      assert.equal(r.json.error.code, 'invalid_label_prefix');
    }
  });
});

describe('a key given twice is refused in JSON as in forms', () => {
  test('account_requests: a repeated email → 400 invalid_request naming the key; nothing stored', async () => {
    const before = count(server, 'SELECT count(*) FROM users');
    const body = `{"id":"dup-1","email":"${uniqueEmail('a')}","email":"${uniqueEmail('b')}",` +
      `"client_id":"${clientId}","code_challenge":"${'a'.repeat(43)}","code_challenge_method":"S256"}`;
    const r = await api(server, 'POST', `${P}/account_requests`, { body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400, r.text);
    // The body is refused whole, before its id is read: no id to echo.
    assert.deepEqual(r.json, {
      type: 'error', error: { code: 'invalid_request', message: 'Parameter email appears more than once' },
    });
    assert.equal(count(server, 'SELECT count(*) FROM users'), before);
  });

  test('a repeat inside a nested object is refused too; equal keys in different objects are fine', async () => {
    const nested = `{"id":"dup-2","email":"${uniqueEmail('n')}","client_id":"${clientId}",` +
      `"code_challenge":"${'a'.repeat(43)}","code_challenge_method":"S256",` +
      '"configuration":{"region":"US","region":"EU"}}';
    const r = await api(server, 'POST', `${P}/account_requests`, { body: nested, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error.message, 'Parameter region appears more than once');
    const email = uniqueEmail('fine');
    const ok = await accountRequest(server, { clientId, email, configuration: { region: 'US', id: 'x' } });
    assert.equal(ok.res.status, 200, `"id" at two levels is not a repeat: ${ok.res.text}`);
  });

  test('token endpoint: a JSON body with grant_type twice → 400 invalid_request (OAuth envelope)', async () => {
    const r = await api(server, 'POST', TOKEN_PATH, {
      body: '{"grant_type":"refresh_token","grant_type":"authorization_code","code":"x","code_verifier":"y"}',
      headers: { 'content-type': 'application/json' }, apiVersion: false,
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json.error, 'invalid_request');
    assert.equal(r.json.error_description, 'Parameter grant_type appears more than once');
    const form = await api(server, 'POST', TOKEN_PATH, {
      body: 'grant_type=refresh_token&grant_type=authorization_code',
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, apiVersion: false,
    });
    assert.equal(form.json.error_description, r.json.error_description, 'the same words for both encodings');
  });
});
