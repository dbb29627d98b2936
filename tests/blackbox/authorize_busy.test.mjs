// /oauth/authorize when every synchronous metadata-fetch slot is busy (docs/CIMD.md "Fetching"):
// that is our capacity, not the partner's fault, so the page says "try again" with 503 and
// Retry-After instead of a 400 that blames the app. With --threads 2 there is one slot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { api, pkce, sleep, startServer } from './harness.mjs';
import { startTlsSite } from './tls_fixture.mjs';
import { cimdDoc, uid } from './cimd_common.mjs';

const REDIRECT = 'https://partner.example/callback';
let site;
let server;
before(async () => {
  site = await startTlsSite();
  server = await startServer({ extraArgs: [...site.cimdArgs(['partner.test']), '--threads', '2'] });
});
after(async () => {
  await server?.stop();
  await site?.stop();
});

/** A document served at ~1200 bytes/s (about 2.5 s) or at once. */
function publish(dir) {
  const path = `/${dir}/${uid()}.json`;
  const url = site.url('partner.test', path);
  site.writeDoc(path, cimdDoc(url, dir === 'slowish' ? { x_pad: 'p'.repeat(3000) } : {}));
  return url;
}

const authorize = (clientId) => api(server, 'GET', `/oauth/authorize?${new URLSearchParams({
  response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, state: 's',
  code_challenge: pkce().challenge, code_challenge_method: 'S256',
})}`, { apiVersion: false, timeoutMs: 30000 });

test('every fetch slot busy: 503 page with Retry-After, not a 400 blaming the app; the same request works once the slot is free', async () => {
  const slow = publish('slowish');
  const quick = publish('plain');
  const first = authorize(slow); // holds the one slot for ~2.5 s
  await sleep(500);
  const busy = await authorize(quick);
  assert.equal(busy.status, 503, busy.text.slice(0, 400));
  assert.equal(busy.headers['retry-after'], '5');
  assert.match(busy.headers['content-type'], /^text\/html/);
  assert.match(busy.text, /Please try again in a moment/);
  assert.doesNotMatch(busy.text, /not valid|could not be identified/);
  assert.equal(busy.headers.location, undefined, 'nothing is redirected');

  const done = await first;
  assert.equal(done.status, 302, `the slow document's request completes: ${done.status} ${done.text.slice(0, 300)}`);
  const again = await authorize(quick);
  assert.equal(again.status, 302, `positive control, slot free: ${again.status} ${again.text.slice(0, 300)}`);
});
