// "Send a new link" (docs/PAGES.md): limited per email identity to 3 an hour from one client
// address and 10 an hour in all, with the same page whether or not anything was sent. Before,
// the only budget was 3 an hour per identity from anywhere: three requests by a stranger used up
// the owner's links, and a new account cannot log in until it follows one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { accountRequest, avoidWindowBoundary, emailsTo, registerClient, sleep, startServer, uniqueEmail, waitForEmail } from './harness.mjs';
import { WebClient, formWithButton } from '../e2e/e2e.mjs';

let server;
let clientId;
before(async () => {
  server = await startServer({ extraArgs: ['--trusted-proxies', '127.0.0.1'] });
  clientId = await registerClient(server);
});
after(async () => { await server.stop(); });

/** POST the "send a new link" form for `email`, as the client at `address` (through the proxy). */
async function askForLink(email, address) {
  const web = new WebClient(server);
  const headers = { 'x-forwarded-for': address };
  const page = await web.request('GET', '/account/set-password?token=expired-or-unknown', { headers });
  assert.equal(page.status, 410, page.pageText.slice(0, 300));
  const form = formWithButton(page.forms, /new link/i);
  assert.ok(form, `a "send a new link" form: ${page.text.slice(0, 1500)}`);
  const res = await web.submit(form, { email }, { headers });
  assert.equal(res.status, 200, res.pageText.slice(0, 300));
  return res;
}

async function linksTo(email, expected) {
  const deadline = Date.now() + 3000;
  while ((await emailsTo(server, email)).length < expected && Date.now() < deadline) await sleep(100);
  await sleep(300); // and no more than that
  return (await emailsTo(server, email)).length;
}

test('a stranger asking for the owner\'s links does not use up the owner\'s budget; 10 an hour in all', async () => {
  await avoidWindowBoundary(3600, 120);
  const email = uniqueEmail('links');
  const ar = await accountRequest(server, { clientId, email });
  assert.equal(ar.res.json.type, 'oauth', ar.res.text);
  await waitForEmail(server, email); // the welcome email
  const stranger = '203.0.113.50';
  const owner = '198.51.100.60';
  for (let i = 0; i < 4; i += 1) await askForLink(email, stranger);
  assert.equal(await linksTo(email, 1 + 3), 1 + 3, 'the stranger got 3 links sent, the 4th was not');
  const answer = await askForLink(email, owner);
  assert.equal(await linksTo(email, 1 + 4), 1 + 4, 'the owner still gets a link from their own address');
  assert.match(answer.pageText, /If an account exists/i);
  // 10 in all: 6 more from other addresses reach 10; an 11th from a fresh address sends nothing.
  for (let i = 0; i < 7; i += 1) await askForLink(email, `192.0.2.${10 + i}`);
  assert.equal(await linksTo(email, 1 + 10), 1 + 10, 'at most 10 links an hour for one identity');
});
