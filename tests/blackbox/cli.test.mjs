// The operator CLI: commands that only read or change rows refuse a database file that does not
// exist (they used to create an empty provisiond.db wherever they were run); serve and migrate
// create it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { BIN, makeTempDir, runProcess } from './harness.mjs';

const READ_OR_CHANGE = [
  ['clients', 'list'],
  ['clients', 'show', 'my-partner'],
  ['clients', 'add', '--client-id', 'my-partner', '--name', 'My Partner',
    '--redirect-uri', 'https://partner.example/callback'],
  ['clients', 'edit', 'my-partner', '--name', 'Renamed'],
  ['clients', 'delete', 'my-partner'],
  ['clients', 'blocked'],
  ['verification-tokens', 'list'],
  ['webhooks', 'list'],
  ['users', 'list'],
  ['users', 'show', 'jane@example.com'],
  ['users', 'disable', 'jane@example.com'],
  ['users', 'reset-link', 'jane@example.com'],
  ['organizations', 'list'],
  ['organizations', 'show', 'some-org'],
];

for (const args of READ_OR_CHANGE) {
  test(`${args.slice(0, 2).join(' ')} refuses a missing --database and creates nothing`, async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'missing.db');
    const r = await runProcess(BIN, [...args, '--database', path]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`there is no database at ${path.replace(/[.]/g, '\\.')}`));
    assert.match(r.stderr, /--database \(or PROVISIOND_DATABASE\)/);
    assert.match(r.stderr, /provisiond migrate --database/);
    assert.equal(existsSync(path), false, 'no database file may be created');
  });
}

test('clients list without --database refuses and leaves no provisiond.db in the working directory', async () => {
  const dir = await makeTempDir();
  const r = await runProcess(BIN, ['clients', 'list'], { cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /there is no database at provisiond\.db/);
  assert.equal(existsSync(join(dir, 'provisiond.db')), false);
});

test('PROVISIOND_DATABASE names the missing file in the refusal', async () => {
  const dir = await makeTempDir();
  const path = join(dir, 'from-env.db');
  const r = await runProcess(BIN, ['clients', 'list'], { env: { PROVISIOND_DATABASE: path } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /there is no database at .*from-env\.db/);
  assert.equal(existsSync(path), false);
});

test('migrate creates the database, then clients add and list work on it', async () => {
  const dir = await makeTempDir();
  const path = join(dir, 'new.db');
  const migrated = await runProcess(BIN, ['migrate', '--database', path]);
  assert.equal(migrated.code, 0, migrated.stderr);
  assert.match(migrated.stdout, /schema version \d+/);
  assert.equal(existsSync(path), true);
  const added = await runProcess(BIN, ['clients', 'add', '--database', path, '--client-id', 'my-partner',
    '--name', 'My Partner', '--redirect-uri', 'https://partner.example/callback']);
  assert.equal(added.code, 0, added.stderr);
  const listed = await runProcess(BIN, ['clients', 'list', '--database', path]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /my-partner/);
});
