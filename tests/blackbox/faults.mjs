// Helpers shared by the fault tests (faults_*.test.mjs): one file per fault, so that each runs
// within the runner's per-file budget (--test-timeout in run.sh) even on a loaded machine.
import assert from 'node:assert/strict';

import { count, setLimit } from './harness.mjs';

/** No rate limit stands between the fault and what the test checks. */
export async function unlimited(server, clientId) {
  for (const ep of ['account_requests', 'token_exchanges', 'resource_creates']) await setLimit(server, clientId, ep, 'unlimited');
}

/** A connection error (the process died under the request), as opposed to an HTTP answer. */
export const isConnectionError = (e) => e && /ECONNRESET|ECONNREFUSED|socket hang up|EPIPE/.test(`${e.code} ${e.message}`);

/** No account is half stored: every user has one organization with a project, every recorded request its user, organization, project and code, every consumed code its whole family. */
export function assertNoHalfAccount(s) {
  assert.equal(count(s, 'SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = u.id)'), 0, 'a user without an organization');
  assert.equal(count(s, 'SELECT COUNT(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.organization_id = o.id)'), 0, 'an organization without a project');
  assert.equal(count(s, 'SELECT COUNT(*) FROM organizations o WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = o.id)'), 0, 'an organization without a member');
  assert.equal(count(s, 'SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.user_id = u.id)'), 0, 'a user without a welcome email');
  assert.equal(count(s, `SELECT COUNT(*) FROM account_requests a WHERE a.outcome = 'oauth' AND (
      NOT EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)
      OR NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = a.user_id AND m.organization_id = a.organization_id)
      OR NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = a.project_id AND p.organization_id = a.organization_id)
      OR NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.code_hash = a.code_hash AND c.user_id = a.user_id))`), 0,
  'an account request without its user, organization, project or code');
  assert.equal(count(s, 'SELECT COUNT(*) FROM authorization_codes WHERE consumed_at IS NULL AND family_id IS NOT NULL'), 0, 'an unconsumed code with a family');
  assert.equal(count(s, `SELECT COUNT(*) FROM authorization_codes c WHERE c.consumed_at IS NOT NULL AND (
      NOT EXISTS (SELECT 1 FROM token_families f WHERE f.id = c.family_id)
      OR NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.family_id = c.family_id)
      OR NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = c.family_id))`), 0, 'a consumed code without its whole family');
  assert.equal(count(s, 'SELECT COUNT(*) FROM token_families f WHERE NOT EXISTS (SELECT 1 FROM authorization_codes c WHERE c.family_id = f.id)'), 0, 'a family without its code');
  assert.equal(count(s, 'SELECT COUNT(*) FROM access_tokens a WHERE NOT EXISTS (SELECT 1 FROM token_families f WHERE f.id = a.family_id)'), 0, 'an orphan access token');
  assert.equal(count(s, 'SELECT COUNT(*) FROM refresh_tokens r WHERE NOT EXISTS (SELECT 1 FROM token_families f WHERE f.id = r.family_id)'), 0, 'an orphan refresh token');
}
