import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openDatabase } from '../../src/group-server/storage/database.js';
import { MIGRATIONS, type Migration } from '../../src/group-server/storage/migrations.js';
import { createGroupThroughWeb, makeTempDir, startTestServer } from './server-fixture.js';

/** Schema migrations on a real SQLite file: recorded, applied once, all-or-nothing, never run backwards. */
const temp = makeTempDir('migrations');
after(() => temp.remove());

const latest = Math.max(...MIGRATIONS.map((m) => m.version));

function versions(path: string): number[] {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[]).map((r) => r.version);
  } finally {
    db.close();
  }
}

test('a new database gets every migration recorded; opening it again applies none and keeps the data', async () => {
  const dataDir = join(temp.path, 'server');
  const server = await startTestServer(dataDir);
  const group = await createGroupThroughWeb(server, 'Kept');
  await server.close();
  const file = join(dataDir, 'groups.sqlite');
  assert.deepEqual(versions(file), MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));

  const db = openDatabase(file);
  try {
    assert.deepEqual(migrate(db), [], 'nothing left to apply');
    const row = db.prepare('SELECT name FROM groups WHERE id = ?').get(group.groupId) as { name: string } | undefined;
    assert.equal(row?.name, 'Kept');
  } finally {
    db.close();
  }
});

test('a later migration upgrades an existing database in place; a failing one changes nothing', () => {
  const file = join(temp.path, 'upgrade.sqlite');
  const db = openDatabase(file);
  try {
    db.prepare("INSERT INTO groups (id, name, ca_public_key, invite_token, terms, crl_updated_at, created_at) VALUES (?, 'Old group', ?, 't', 'terms', 0, 0)").run(
      'ab'.repeat(16),
      Buffer.alloc(32),
    );
    const next: Migration = { version: latest + 1, sql: "ALTER TABLE groups ADD COLUMN description TEXT NOT NULL DEFAULT 'none yet'" };
    assert.deepEqual(migrate(db, Date.now, [...MIGRATIONS, next]), [latest + 1]);
    assert.deepEqual(db.prepare('SELECT name, description FROM groups').get(), { name: 'Old group', description: 'none yet' });

    // Half of this migration works, the other half fails: neither half stays, and it is not recorded.
    const broken: Migration = { version: latest + 2, sql: 'CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1);' };
    assert.throws(() => migrate(db, Date.now, [...MIGRATIONS, next, broken]), /no such table/);
    assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").get(), undefined);
    assert.deepEqual(migrate(db, Date.now, [...MIGRATIONS, next]), []);
  } finally {
    db.close();
  }
  assert.deepEqual(versions(file), [...MIGRATIONS.map((m) => m.version), latest + 1]);
});

test('a database written by a newer server is refused with a clear message, and the server does not start on it', async () => {
  const dataDir = join(temp.path, 'newer');
  const server = await startTestServer(dataDir);
  await server.close();
  const db = new Database(join(dataDir, 'groups.sqlite'));
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(latest + 50, Date.now());
  db.close();
  await assert.rejects(startTestServer(dataDir), /newer version of the group server \(schema version \d+, this one knows up to \d+\)/);
});

test('migration 2 on a database of the first schema: every member\'s certificate is listed, so removing it revokes it', () => {
  const file = join(temp.path, 'v1.sqlite');
  const db = new Database(file);
  try {
    assert.deepEqual(migrate(db, Date.now, MIGRATIONS.filter((m) => m.version === 1)), [1]);
    const group = 'cd'.repeat(16);
    db.prepare("INSERT INTO groups (id, name, ca_public_key, invite_token, terms, crl_updated_at, created_at) VALUES (?, 'G', ?, 't', 'terms', 0, 0)").run(group, Buffer.alloc(32));
    db.prepare("INSERT INTO join_requests (id, group_id, name, email, secret_hash, state, source, created_at) VALUES (?, ?, 'M', 'm@example.org', 'h', 'approved', 'app', 0)").run('ef'.repeat(16), group);
    db.prepare("INSERT INTO members (group_id, request_id, name, email, public_key, roles, status, serial, certificate, created_at) VALUES (?, ?, 'M', 'm@example.org', ?, 'member', 'active', 7, ?, 5)").run(
      group,
      'ef'.repeat(16),
      Buffer.alloc(32, 1),
      Buffer.alloc(10),
    );
    assert.deepEqual(migrate(db), MIGRATIONS.map((m) => m.version).filter((v) => v > 1));
    assert.deepEqual(db.prepare('SELECT group_id, serial, issued_at FROM certificates').all(), [{ group_id: group, serial: 7, issued_at: 5 }]);
  } finally {
    db.close();
  }
});
