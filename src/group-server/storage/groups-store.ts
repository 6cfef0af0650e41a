import type { Db } from './database.js';

export interface GroupRow {
  id: string;
  name: string;
  ca_public_key: Buffer;
  invite_token: string;
  terms: string;
  auto_approve: number;
  next_serial: number;
  crl_sequence: number;
  crl_updated_at: number;
  created_at: number;
}

export interface AdminRow {
  id: number;
  group_id: string;
  username: string;
  email: string;
  password_hash: string;
  created_at: number;
}

/** Groups, their admins, admin sessions and used request nonces. */
export class GroupsStore {
  constructor(private readonly db: Db) {}

  countGroups(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM groups').get() as { n: number }).n;
  }

  insertGroup(g: Omit<GroupRow, 'next_serial' | 'crl_sequence' | 'auto_approve'>): void {
    this.db
      .prepare(
        `INSERT INTO groups (id, name, ca_public_key, invite_token, terms, crl_updated_at, created_at)
         VALUES (@id, @name, @ca_public_key, @invite_token, @terms, @crl_updated_at, @created_at)`,
      )
      .run(g);
  }

  group(id: string): GroupRow | undefined {
    return this.db.prepare('SELECT * FROM groups WHERE id = ?').get(id) as GroupRow | undefined;
  }

  setAutoApprove(id: string, on: boolean): void {
    this.db.prepare('UPDATE groups SET auto_approve = ? WHERE id = ?').run(on ? 1 : 0, id);
  }

  setInviteToken(id: string, token: string): void {
    this.db.prepare('UPDATE groups SET invite_token = ? WHERE id = ?').run(token, id);
  }

  /** Takes the next certificate serial of a group. */
  takeSerial(id: string): number {
    const row = this.db.prepare('UPDATE groups SET next_serial = next_serial + 1 WHERE id = ? RETURNING next_serial - 1 AS serial').get(id) as
      | { serial: number }
      | undefined;
    if (row === undefined) throw new Error(`no group ${id}`);
    return row.serial;
  }

  bumpCrl(id: string, now: number): void {
    this.db.prepare('UPDATE groups SET crl_sequence = crl_sequence + 1, crl_updated_at = ? WHERE id = ?').run(now, id);
  }

  insertAdmin(a: Omit<AdminRow, 'id'>): number {
    const r = this.db
      .prepare(
        `INSERT INTO admins (group_id, username, email, password_hash, created_at)
         VALUES (@group_id, @username, @email, @password_hash, @created_at)`,
      )
      .run(a);
    return Number(r.lastInsertRowid);
  }

  adminByUsername(username: string): AdminRow | undefined {
    return this.db.prepare('SELECT * FROM admins WHERE username = ?').get(username) as AdminRow | undefined;
  }

  admin(id: number): AdminRow | undefined {
    return this.db.prepare('SELECT * FROM admins WHERE id = ?').get(id) as AdminRow | undefined;
  }

  adminsOf(groupId: string): AdminRow[] {
    return this.db.prepare('SELECT * FROM admins WHERE group_id = ? ORDER BY id').all(groupId) as AdminRow[];
  }

  insertSession(tokenHash: string, adminId: number, now: number, expiresAt: number): void {
    this.db.prepare('DELETE FROM sessions WHERE expires_at <= ?').run(now);
    this.db
      .prepare('INSERT INTO sessions (token_hash, admin_id, created_at, expires_at) VALUES (?, ?, ?, ?)')
      .run(tokenHash, adminId, now, expiresAt);
  }

  sessionAdmin(tokenHash: string, now: number): AdminRow | undefined {
    return this.db
      .prepare('SELECT admins.* FROM sessions JOIN admins ON admins.id = sessions.admin_id WHERE token_hash = ? AND expires_at > ?')
      .get(tokenHash, now) as AdminRow | undefined;
  }

  insertAdminInvite(tokenHash: string, groupId: string, createdBy: number, now: number, expiresAt: number): void {
    this.db.prepare('DELETE FROM admin_invites WHERE expires_at <= ? AND used_by IS NULL').run(now);
    this.db
      .prepare('INSERT INTO admin_invites (token_hash, group_id, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
      .run(tokenHash, groupId, createdBy, now, expiresAt);
  }

  /** The group of an unused, unexpired admin invitation. */
  adminInviteGroup(tokenHash: string, now: number): string | undefined {
    const row = this.db
      .prepare('SELECT group_id FROM admin_invites WHERE token_hash = ? AND used_by IS NULL AND expires_at > ?')
      .get(tokenHash, now) as { group_id: string } | undefined;
    return row?.group_id;
  }

  /** Marks an admin invitation used; false when it was used or expired meanwhile. */
  useAdminInvite(tokenHash: string, adminId: number, now: number): boolean {
    return this.db.prepare('UPDATE admin_invites SET used_by = ? WHERE token_hash = ? AND used_by IS NULL AND expires_at > ?').run(adminId, tokenHash, now).changes === 1;
  }

  /** Removes an admin; its sessions go with it. */
  deleteAdmin(groupId: string, adminId: number): boolean {
    return this.db.prepare('DELETE FROM admins WHERE group_id = ? AND id = ?').run(groupId, adminId).changes === 1;
  }

  setPasswordHash(adminId: number, passwordHash: string): void {
    this.db.prepare('UPDATE admins SET password_hash = ? WHERE id = ?').run(passwordHash, adminId);
  }

  /** Ends every session of an admin but the one named (after a password change). */
  deleteOtherSessions(adminId: number, keepTokenHash: string): void {
    this.db.prepare('DELETE FROM sessions WHERE admin_id = ? AND token_hash != ?').run(adminId, keepTokenHash);
  }

  deleteSession(tokenHash: string): void {
    this.db.prepare('DELETE FROM sessions WHERE token_hash = ?').run(tokenHash);
  }

  /** Records a request nonce; false when it was seen before (a replay). Expired nonces are forgotten. */
  useNonce(groupId: string, nonce: string, now: number, expiresAt: number): boolean {
    this.db.prepare('DELETE FROM used_nonces WHERE expires_at <= ?').run(now);
    const r = this.db.prepare('INSERT OR IGNORE INTO used_nonces (group_id, nonce, expires_at) VALUES (?, ?, ?)').run(groupId, nonce, expiresAt);
    return r.changes === 1;
  }
}
