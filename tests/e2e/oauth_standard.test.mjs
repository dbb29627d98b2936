// The standard OAuth flow (docs/PAGES.md "The standard OAuth flow"): RFC 8414 metadata, /oauth/authorize
// for a metadata-document (CIMD) client hosted on the nginx TLS fixture, driven by real clients —
// openid-client v6 and the MCP SDK's auth helpers — with Chromium logging in and approving; the code
// bound to its redirect_uri; RFC 9207 iss; revoke (RFC 7009) and introspect (RFC 7662).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import {
  discoverAuthorizationServerMetadata, exchangeAuthorization, refreshAuthorization, startAuthorization,
} from '@modelcontextprotocol/sdk/client/auth.js';
import {
  ACCESS_RE, CATALOG, REFRESH_RE, api, pkce, q1, refreshGrant, sha256hex,
} from '../blackbox/harness.mjs';
import { publish, uid } from '../blackbox/cimd_common.mjs';
import { startTlsSite } from '../blackbox/tls_fixture.mjs';
import {
  PARTNER_NAME, assertPageHeaders, newUserByAccountRequest, registerPartner, startCallbackServer,
  startWithSmtp, stopServer, stopSite, userWithPassword, WebClient,
} from './e2e.mjs';
import { bodyText, clickButton, closeBrowser, logIn, newPage, redirectChain, screenshot, visit } from './browser.mjs';

const INTROSPECTION_TOKEN = `introspect-${randomBytes(16).toString('hex')}`;
let server;
let smtp;
let site;
let cb;
let clientId; // an operator-registered client (for users and the error cases)
let user;
let browserCtx;
let page;

before(async () => {
  site = await startTlsSite();
  cb = await startCallbackServer();
  ({ server, smtp } = await startWithSmtp({
    extraArgs: [...site.cimdArgs(['partner.test']), '--introspection-token', INTROSPECTION_TOKEN],
  }));
  clientId = await registerPartner(server, { name: PARTNER_NAME, redirectUri: cb.redirectUri });
  user = await userWithPassword(server, smtp, { clientId });
  ({ ctx: browserCtx, page } = await newPage());
});
after(async () => {
  await browserCtx?.close();
  await closeBrowser();
  await stopServer(server);
  await smtp?.stop();
  await cb?.stop();
  await stopSite(site);
});

/**
 * In the shared browser: open an authorization URL, log in if asked, check the consent page, press
 * Approve; returns the callback hit ({url, params}).
 */
async function authorizeInBrowser(authUrl, { partner, shot } = {}) {
  const first = await visit(page, authUrl.toString());
  if (new URL(page.url()).pathname === '/login') {
    const next = new URL(page.url()).searchParams.get('next');
    assert.ok(next && next.startsWith('/'), `login next is a relative consent URL: ${page.url()}`);
    await logIn(page, user.email, user.password);
  } else {
    assert.equal(first.status(), 200, await bodyText(page));
  }
  const cu = new URL(page.url());
  assert.equal(cu.pathname, '/api/agentic/authorize', `the consent page: ${page.url()}`);
  const text = await bodyText(page);
  if (partner) assert.ok(text.includes(partner), `consent names ${partner}: ${text}`);
  assert.ok(text.includes('partner.test'), `consent shows the client id host: ${text}`);
  assert.ok(text.includes('127.0.0.1'), `consent shows the redirect host: ${text}`);
  assert.match(text, /Unverified partner/);
  if (shot) await screenshot(page, shot);
  const since = cb.hits.length;
  const landed = await clickButton(page, 'Approve');
  const chain = await redirectChain(landed);
  assert.equal(chain[0].status, 302, JSON.stringify(chain));
  return cb.waitForHit({ since });
}

function tokenRequest(form) {
  return api(server, 'POST', '/oauth/token', { form, apiVersion: false });
}

describe('metadata', () => {
  test('/.well-known/oauth-authorization-server (RFC 8414)', async () => {
    const r = await api(server, 'GET', '/.well-known/oauth-authorization-server', { apiVersion: false });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers['content-type'], /^application\/json/);
    const m = r.json;
    assert.equal(m.issuer, server.url);
    assert.equal(m.authorization_endpoint, `${server.url}/oauth/authorize`);
    assert.ok(typeof m.token_endpoint === 'string' && m.token_endpoint.startsWith(`${server.url}/`), m.token_endpoint);
    assert.equal(m.revocation_endpoint, `${server.url}/oauth/revoke`);
    assert.equal(m.introspection_endpoint, `${server.url}/oauth/introspect`);
    assert.deepEqual(m.response_types_supported, ['code']);
    assert.ok(m.grant_types_supported.includes('authorization_code') && m.grant_types_supported.includes('refresh_token'));
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    assert.ok(m.token_endpoint_auth_methods_supported.includes('none'));
    assert.equal(m.client_id_metadata_document_supported, true);
    assert.equal(m.authorization_response_iss_parameter_supported, true);
    if (m.scopes_supported) assert.deepEqual([...m.scopes_supported].sort(), CATALOG);
  });
});

describe('openid-client v6 with a metadata-document client', () => {
  test('discover → authorize (Chromium logs in and approves) → code+state+iss → exchange with a placeholder secret → refresh → revoke', async () => {
    const path = `/oidc/${uid()}.json`;
    const cimd = publish(site, path, { client_name: 'OIDC Partner', redirect_uris: [cb.redirectUri, `${cb.origin}/cb2`] });
    const sent = [];
    const config = await oidc.discovery(new URL(server.url), cimd, undefined, oidc.ClientSecretPost('nango-placeholder-secret'), {
      algorithm: 'oauth2',
      execute: [oidc.allowInsecureRequests],
    });
    config[oidc.customFetch] = (url, options) => { sent.push({ url, body: String(options.body ?? '') }); return fetch(url, options); };
    assert.equal(config.serverMetadata().issuer, server.url);

    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: cb.redirectUri,
      scope: 'project:read user:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    assert.equal(authUrl.origin + authUrl.pathname, `${server.url}/oauth/authorize`);
    assert.equal(site.fetchCount(path), 0, 'the document is not fetched before /oauth/authorize');

    const hit = await authorizeInBrowser(authUrl, { partner: 'OIDC Partner', shot: 'consent-oauth-authorize' });
    assert.ok(site.fetchCount(path) >= 1, 'the document was fetched synchronously by /oauth/authorize');
    assert.equal(hit.params.get('state'), state, 'the client\'s own state comes back');
    assert.equal(hit.params.get('iss'), server.url, 'RFC 9207 iss');
    const code = hit.params.get('code');
    const row = q1(server, 'SELECT * FROM authorization_codes WHERE code_hash = ?', sha256hex(code));
    assert.equal(row.client_id, cimd);
    assert.equal(row.redirect_uri, cb.redirectUri, 'the code is bound to the redirect_uri');
    assert.deepEqual(row.scopes.split(' ').sort(), ['project:read', 'user:read']);

    const tokens = await oidc.authorizationCodeGrant(config, hit.url, { pkceCodeVerifier: verifier, expectedState: state });
    assert.match(tokens.access_token, ACCESS_RE);
    assert.match(tokens.refresh_token, REFRESH_RE);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.expires_in, 3600);
    const tokenBody = new URLSearchParams(sent.at(-1).body);
    assert.equal(tokenBody.get('client_secret'), 'nango-placeholder-secret', 'the client did send its placeholder secret');
    assert.equal(tokenBody.get('redirect_uri'), cb.redirectUri);
    assert.equal(tokenBody.get('client_id'), cimd);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
    assert.match(refreshed.access_token, ACCESS_RE);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token, 'rotated');

    // RFC 7009 through the client: revoking the refresh token ends the family.
    await oidc.tokenRevocation(config, refreshed.refresh_token);
    await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token), (e) => e.error === 'invalid_grant');
    const intro = await introspect(refreshed.access_token);
    assert.equal(intro.status, 200);
    assert.deepEqual(intro.json, { active: false }, 'the family\'s access token is revoked too');
  });

  test('a code presented with another (also registered) redirect_uri → invalid_grant', async () => {
    const path = `/oidc/${uid()}.json`;
    const cimd = publish(site, path, { client_name: 'OIDC Partner', redirect_uris: [cb.redirectUri, `${cb.origin}/cb2`] });
    const { verifier, challenge } = pkce();
    const state = randomBytes(12).toString('hex');
    const authUrl = new URL(`${server.url}/oauth/authorize`);
    for (const [k, v] of Object.entries({
      response_type: 'code', client_id: cimd, redirect_uri: cb.redirectUri, state, scope: 'project:read',
      code_challenge: challenge, code_challenge_method: 'S256',
    })) authUrl.searchParams.set(k, v);
    const hit = await authorizeInBrowser(authUrl, { partner: 'OIDC Partner' });
    const code = hit.params.get('code');
    const base = { grant_type: 'authorization_code', code, code_verifier: verifier, client_id: cimd };
    const wrong = await tokenRequest({ ...base, redirect_uri: `${cb.origin}/cb2` });
    assert.equal(wrong.status, 400, wrong.text);
    assert.equal(wrong.json.error, 'invalid_grant', wrong.text);
    const other = await tokenRequest({ ...base, redirect_uri: `${cb.redirectUri}/` });
    assert.equal(other.status, 400, other.text);
    assert.equal(other.json.error, 'invalid_grant', other.text);
  });
});

describe('the MCP SDK auth helpers with a metadata-document client', () => {
  test('discoverAuthorizationServerMetadata → startAuthorization → Chromium → exchangeAuthorization → refreshAuthorization', async () => {
    const path = `/mcp/${uid()}.json`;
    const cimd = publish(site, path, { client_name: 'MCP Test Client', redirect_uris: [cb.redirectUri] });
    const metadata = await discoverAuthorizationServerMetadata(server.url);
    assert.ok(metadata, 'metadata discovered');
    assert.equal(metadata.issuer, server.url);
    assert.equal(metadata.client_id_metadata_document_supported, true);
    const clientInformation = { client_id: cimd };
    const state = randomBytes(16).toString('hex');
    const { authorizationUrl, codeVerifier } = await startAuthorization(server.url, {
      metadata, clientInformation, redirectUrl: cb.redirectUri, scope: 'project:read', state,
    });
    assert.equal(authorizationUrl.searchParams.get('client_id'), cimd);
    const hit = await authorizeInBrowser(authorizationUrl, { partner: 'MCP Test Client' });
    assert.equal(hit.params.get('state'), state);
    assert.equal(hit.params.get('iss'), server.url);
    const tokens = await exchangeAuthorization(server.url, {
      metadata, clientInformation, authorizationCode: hit.params.get('code'), codeVerifier, redirectUri: cb.redirectUri,
    });
    assert.match(tokens.access_token, ACCESS_RE);
    assert.match(tokens.refresh_token, REFRESH_RE);
    assert.equal(tokens.expires_in, 3600);
    const refreshed = await refreshAuthorization(server.url, { metadata, clientInformation, refreshToken: tokens.refresh_token });
    assert.match(refreshed.access_token, ACCESS_RE);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    const fam = q1(server, `SELECT f.client_id, f.user_id FROM token_families f JOIN access_tokens a ON a.family_id = f.id
      WHERE a.token_hash = ?`, sha256hex(refreshed.access_token));
    assert.deepEqual(fam, { client_id: cimd, user_id: user.userId });
  });
});

describe('/oauth/authorize errors', () => {
  const authorizePath = (params) => `/oauth/authorize?${new URLSearchParams(params)}`;
  const good = () => {
    const { challenge } = pkce();
    return {
      response_type: 'code', client_id: clientId, redirect_uri: cb.redirectUri, state: 'st-1', scope: 'project:read',
      code_challenge: challenge, code_challenge_method: 'S256',
    };
  };

  test('an unknown client or a redirect_uri that is not the client\'s exactly → a 400 page, never a redirect', async () => {
    const web = new WebClient(server);
    const cases = [
      ['unknown client', { ...good(), client_id: 'no-such-client' }],
      ['unregistered redirect_uri', { ...good(), redirect_uri: 'https://evil.example/cb' }],
      ['redirect_uri + trailing slash', { ...good(), redirect_uri: `${cb.redirectUri}/` }],
      ['redirect_uri + query', { ...good(), redirect_uri: `${cb.redirectUri}?x=1` }],
      ['empty client_id', { ...good(), client_id: '' }],
    ];
    for (const [what, params] of cases) {
      const r = await web.get(authorizePath(Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined))));
      assert.equal(r.status, 400, `${what}: ${r.status} ${r.location ?? ''}`);
      assert.equal(r.location, undefined, `${what}: no redirect`);
      assertPageHeaders(r, `${what} page`);
    }
  });

  test('other errors go to the redirect URI with error, state and iss', async () => {
    const web = new WebClient(server);
    const cases = [
      ['response_type=token', { ...good(), response_type: 'token' }, 'unsupported_response_type'],
      ['no code_challenge', { ...good(), code_challenge: undefined }, 'invalid_request'],
      ['code_challenge_method=plain', { ...good(), code_challenge_method: 'plain' }, 'invalid_request'],
      ['unknown scope', { ...good(), scope: 'project:read no_such:scope' }, 'invalid_scope'],
    ];
    for (const [what, params, error] of cases) {
      const p = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
      const r = await web.get(authorizePath(p));
      assert.equal(r.status, 302, `${what}: ${r.status} ${r.pageText?.slice(0, 200)}`);
      const loc = new URL(r.location);
      assert.equal(`${loc.origin}${loc.pathname}`, cb.redirectUri, `${what}: ${r.location}`);
      assert.equal(loc.searchParams.get('error'), error, `${what}: ${r.location}`);
      assert.equal(loc.searchParams.get('state'), 'st-1', what);
      assert.equal(loc.searchParams.get('iss'), server.url, what);
      assert.equal(loc.searchParams.get('code'), null, what);
    }
  });
});

function introspect(token, { auth = `Bearer ${INTROSPECTION_TOKEN}` } = {}) {
  return api(server, 'POST', '/oauth/introspect', { form: { token }, apiVersion: false, headers: auth ? { authorization: auth } : {} });
}

describe('revoke and introspect', () => {
  test('introspect: 401 without the bearer; active tokens described; unknown → {active:false}', async () => {
    const u = await newUserByAccountRequest(server, smtp, { clientId });
    const t = u.tokens;
    const none = await introspect(t.access_token, { auth: null });
    assert.equal(none.status, 401, none.text);
    const wrong = await introspect(t.access_token, { auth: 'Bearer not-the-token' });
    assert.equal(wrong.status, 401, wrong.text);
    const basic = await introspect(t.access_token, { auth: `Basic ${Buffer.from(`x:${INTROSPECTION_TOKEN}`).toString('base64')}` });
    assert.equal(basic.status, 401, basic.text);

    const r = await introspect(t.access_token);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.active, true);
    assert.equal(r.json.client_id, clientId);
    assert.equal(typeof r.json.scope, 'string');
    assert.equal(typeof r.json.exp, 'number');
    assert.ok(Math.abs(r.json.exp - (Math.floor(Date.now() / 1000) + 3600)) <= 10, `exp in an hour: ${r.json.exp}`);
    assert.equal(r.headers['cache-control'], 'no-store');

    for (const bogus of ['pha_' + 'x'.repeat(43), 'garbage', t.access_token.slice(0, -1)]) {
      const b = await introspect(bogus);
      assert.equal(b.status, 200, b.text);
      assert.deepEqual(b.json, { active: false });
    }
  });

  test('revoke: always 200; a refresh token revokes its whole family', async () => {
    const u = await newUserByAccountRequest(server, smtp, { clientId });
    const t = u.tokens;
    for (const token of ['garbage', `phr_${'y'.repeat(43)}`, `pha_${'z'.repeat(43)}`]) {
      const r = await api(server, 'POST', '/oauth/revoke', { form: { token, client_id: clientId }, apiVersion: false });
      assert.equal(r.status, 200, `revoke ${JSON.stringify(token)}: ${r.text}`);
    }
    assert.equal((await introspect(t.access_token)).json.active, true, 'unrelated revokes changed nothing');

    const r = await api(server, 'POST', '/oauth/revoke', {
      form: { token: t.refresh_token, token_type_hint: 'refresh_token', client_id: clientId }, apiVersion: false,
    });
    assert.equal(r.status, 200, r.text);
    const fam = q1(server, 'SELECT f.revoked_at FROM token_families f JOIN refresh_tokens r ON r.family_id = f.id WHERE r.token_hash = ?', sha256hex(t.refresh_token));
    assert.notEqual(fam.revoked_at, null, 'the family is revoked');
    const again = await refreshGrant(server, t.refresh_token);
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    assert.deepEqual((await introspect(t.access_token)).json, { active: false }, 'the access token of the family too');
    const twice = await api(server, 'POST', '/oauth/revoke', { form: { token: t.refresh_token }, apiVersion: false });
    assert.equal(twice.status, 200, 'revoking again is still 200');

    // An access token on its own.
    const u2 = await newUserByAccountRequest(server, smtp, { clientId });
    const ra = await api(server, 'POST', '/oauth/revoke', { form: { token: u2.tokens.access_token, client_id: clientId }, apiVersion: false });
    assert.equal(ra.status, 200);
    assert.deepEqual((await introspect(u2.tokens.access_token)).json, { active: false });
  });
});
