import { chmodSync, closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

/** Opens (creating if needed) the server's SQLite file and brings its schema up to date. */
export function openDatabase(path: string, now: () => number = Date.now): Db {
  // It holds password hashes and e-mail addresses: owner-only, and SQLite gives its -wal and -shm files the same mode.
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  try {
    migrate(db, now);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/**
 * Applies the migrations a database lacks, each in its own transaction (a failing one leaves the
 * database as it was and is not recorded), and returns their versions. A database written by a
 * newer server (a version this one does not know) is refused rather than used with a schema this
 * code does not understand.
 */
export function migrate(db: Db, now: () => number = Date.now, migrations: readonly Migration[] = MIGRATIONS): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const known = new Set(migrations.map((m) => m.version));
  const unknown = [...applied].filter((v) => !known.has(v)).sort((a, b) => a - b);
  if (unknown.length > 0) {
    throw new Error(
      `the database was written by a newer version of the group server (schema version ${unknown.join(', ')}, this one knows up to ${Math.max(0, ...known)}); run that version, or restore a backup`,
    );
  }
  const newlyApplied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, now());
    })();
    newlyApplied.push(m.version);
  }
  return newlyApplied;
}
