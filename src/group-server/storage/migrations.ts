/**
 * Schema migrations, applied in order inside one transaction each. Never edit a migration that has
 * shipped: add a new one. `schema_migrations` records which ones a database already has.
 */
export interface Migration {
  version: number;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE groups (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        ca_public_key BLOB NOT NULL,
        invite_token TEXT NOT NULL,
        terms TEXT NOT NULL,
        auto_approve INTEGER NOT NULL DEFAULT 0,
        next_serial INTEGER NOT NULL DEFAULT 1,
        crl_sequence INTEGER NOT NULL DEFAULT 0,
        crl_updated_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE admins (
        id INTEGER PRIMARY KEY,
        group_id TEXT NOT NULL REFERENCES groups(id),
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        email TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        admin_id INTEGER NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE join_requests (
        id TEXT PRIMARY KEY,
        group_id TEXT NOT NULL REFERENCES groups(id),
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
        source TEXT NOT NULL CHECK (source IN ('app', 'web')),
        created_at INTEGER NOT NULL,
        decided_at INTEGER,
        public_key BLOB,
        member_id INTEGER
      );
      CREATE INDEX join_requests_by_group ON join_requests(group_id, state, created_at);
      CREATE TABLE members (
        id INTEGER PRIMARY KEY,
        group_id TEXT NOT NULL REFERENCES groups(id),
        request_id TEXT NOT NULL REFERENCES join_requests(id),
        name TEXT NOT NULL,
        email TEXT NOT NULL,
        public_key BLOB NOT NULL,
        roles TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'banned', 'removed')),
        serial INTEGER NOT NULL,
        certificate BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen INTEGER,
        endpoints TEXT NOT NULL DEFAULT '[]'
      );
      CREATE UNIQUE INDEX members_active_key ON members(group_id, public_key) WHERE status = 'active';
      CREATE TABLE revocations (
        id INTEGER PRIMARY KEY,
        group_id TEXT NOT NULL REFERENCES groups(id),
        serial INTEGER,
        public_key BLOB,
        revoked_at INTEGER NOT NULL,
        record BLOB NOT NULL,
        CHECK ((serial IS NULL) <> (public_key IS NULL))
      );
      CREATE INDEX revocations_by_group ON revocations(group_id);
      CREATE TABLE banned_emails (
        group_id TEXT NOT NULL REFERENCES groups(id),
        email TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (group_id, email)
      );
      CREATE TABLE used_nonces (
        group_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (group_id, nonce)
      );
      CREATE INDEX used_nonces_expiry ON used_nonces(expires_at);
    `,
  },
  {
    // Every certificate issued, by member: a member holds several over time (gateway role on,
    // renewal), and removing or banning it must revoke all of them, not only the newest.
    // Databases from before this knew only each member's newest serial.
    version: 2,
    sql: `
      CREATE TABLE certificates (
        group_id TEXT NOT NULL REFERENCES groups(id),
        serial INTEGER NOT NULL,
        member_id INTEGER NOT NULL REFERENCES members(id),
        issued_at INTEGER NOT NULL,
        PRIMARY KEY (group_id, serial)
      );
      CREATE INDEX certificates_by_member ON certificates(group_id, member_id);
      INSERT INTO certificates (group_id, serial, member_id, issued_at) SELECT group_id, serial, id, created_at FROM members;
    `,
  },
  {
    // One-time links by which an admin invites another admin of the group.
    version: 3,
    sql: `
      CREATE TABLE admin_invites (
        token_hash TEXT PRIMARY KEY,
        group_id TEXT NOT NULL REFERENCES groups(id),
        created_by INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_by INTEGER
      );
    `,
  },
];
