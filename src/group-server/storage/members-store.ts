import type { Db } from './database.js';

export type RequestState = 'pending' | 'approved' | 'denied';
export type MemberStatus = 'active' | 'banned' | 'removed';

export interface JoinRequestRow {
  id: string;
  group_id: string;
  name: string;
  email: string;
  secret_hash: string;
  state: RequestState;
  source: 'app' | 'web';
  created_at: number;
  decided_at: number | null;
  public_key: Buffer | null;
  member_id: number | null;
}

export interface MemberRow {
  id: number;
  group_id: string;
  request_id: string;
  name: string;
  email: string;
  public_key: Buffer;
  roles: string;
  status: MemberStatus;
  serial: number;
  certificate: Buffer;
  created_at: number;
  last_seen: number | null;
  endpoints: string;
}

export interface RevocationRow {
  serial: number | null;
  public_key: Buffer | null;
  record: Buffer;
}

/** Join requests, members, revocations and banned e-mail addresses. */
export class MembersStore {
  constructor(private readonly db: Db) {}

  insertRequest(r: Omit<JoinRequestRow, 'decided_at' | 'public_key' | 'member_id'>): void {
    this.db
      .prepare(
        `INSERT INTO join_requests (id, group_id, name, email, secret_hash, state, source, created_at)
         VALUES (@id, @group_id, @name, @email, @secret_hash, @state, @source, @created_at)`,
      )
      .run(r);
  }

  request(groupId: string, id: string): JoinRequestRow | undefined {
    return this.db.prepare('SELECT * FROM join_requests WHERE group_id = ? AND id = ?').get(groupId, id) as JoinRequestRow | undefined;
  }

  pendingRequests(groupId: string): JoinRequestRow[] {
    return this.db
      .prepare("SELECT * FROM join_requests WHERE group_id = ? AND state = 'pending' ORDER BY created_at, id")
      .all(groupId) as JoinRequestRow[];
  }

  countPending(groupId: string): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM join_requests WHERE group_id = ? AND state = 'pending'").get(groupId) as { n: number }).n;
  }

  decideRequest(groupId: string, id: string, state: RequestState, now: number): boolean {
    return (
      this.db
        .prepare("UPDATE join_requests SET state = ?, decided_at = ? WHERE group_id = ? AND id = ? AND state = 'pending'")
        .run(state, now, groupId, id).changes === 1
    );
  }

  bindKey(groupId: string, id: string, publicKey: Uint8Array): void {
    this.db.prepare('UPDATE join_requests SET public_key = ? WHERE group_id = ? AND id = ? AND public_key IS NULL').run(Buffer.from(publicKey), groupId, id);
  }

  linkMember(groupId: string, requestId: string, memberId: number): void {
    this.db.prepare('UPDATE join_requests SET member_id = ? WHERE group_id = ? AND id = ?').run(memberId, groupId, requestId);
  }

  insertMember(m: Omit<MemberRow, 'id' | 'last_seen' | 'endpoints'>): number {
    const r = this.db
      .prepare(
        `INSERT INTO members (group_id, request_id, name, email, public_key, roles, status, serial, certificate, created_at)
         VALUES (@group_id, @request_id, @name, @email, @public_key, @roles, @status, @serial, @certificate, @created_at)`,
      )
      .run(m);
    return Number(r.lastInsertRowid);
  }

  /** Notes a certificate issued to a member, so that removing the member can revoke every one. */
  recordCertificate(groupId: string, serial: number, memberId: number, now: number): void {
    this.db.prepare('INSERT INTO certificates (group_id, serial, member_id, issued_at) VALUES (?, ?, ?, ?)').run(groupId, serial, memberId, now);
  }

  /** Serials issued to a member that no revocation names yet. */
  unrevokedSerials(groupId: string, memberId: number): number[] {
    return (
      this.db
        .prepare(
          `SELECT serial FROM certificates c WHERE group_id = ? AND member_id = ?
             AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.group_id = c.group_id AND r.serial = c.serial)
           ORDER BY serial`,
        )
        .all(groupId, memberId) as { serial: number }[]
    ).map((r) => r.serial);
  }

  member(groupId: string, id: number): MemberRow | undefined {
    return this.db.prepare('SELECT * FROM members WHERE group_id = ? AND id = ?').get(groupId, id) as MemberRow | undefined;
  }

  activeMemberByKey(groupId: string, publicKey: Uint8Array): MemberRow | undefined {
    return this.db
      .prepare("SELECT * FROM members WHERE group_id = ? AND public_key = ? AND status = 'active'")
      .get(groupId, Buffer.from(publicKey)) as MemberRow | undefined;
  }

  members(groupId: string): MemberRow[] {
    return this.db
      .prepare("SELECT * FROM members WHERE group_id = ? ORDER BY status = 'active' DESC, name COLLATE NOCASE, id")
      .all(groupId) as MemberRow[];
  }

  setStatus(groupId: string, id: number, status: MemberStatus): void {
    this.db.prepare('UPDATE members SET status = ? WHERE group_id = ? AND id = ?').run(status, groupId, id);
  }

  replaceCertificate(groupId: string, id: number, roles: string, serial: number, certificate: Uint8Array): void {
    this.db
      .prepare('UPDATE members SET roles = ?, serial = ?, certificate = ? WHERE group_id = ? AND id = ?')
      .run(roles, serial, Buffer.from(certificate), groupId, id);
  }

  reportSeen(groupId: string, id: number, now: number, endpoints: string | null): void {
    if (endpoints === null) this.db.prepare('UPDATE members SET last_seen = ? WHERE group_id = ? AND id = ?').run(now, groupId, id);
    else this.db.prepare('UPDATE members SET last_seen = ?, endpoints = ? WHERE group_id = ? AND id = ?').run(now, endpoints, groupId, id);
  }

  /** Active members seen since `since`, most recent first. */
  recentlySeen(groupId: string, since: number, limit: number): MemberRow[] {
    return this.db
      .prepare("SELECT * FROM members WHERE group_id = ? AND status = 'active' AND last_seen >= ? AND endpoints != '[]' ORDER BY last_seen DESC LIMIT ?")
      .all(groupId, since, limit) as MemberRow[];
  }

  insertRevocation(groupId: string, target: { serial: number } | { publicKey: Uint8Array }, now: number, record: Uint8Array): void {
    this.db
      .prepare('INSERT INTO revocations (group_id, serial, public_key, revoked_at, record) VALUES (?, ?, ?, ?, ?)')
      .run(groupId, 'serial' in target ? target.serial : null, 'publicKey' in target ? Buffer.from(target.publicKey) : null, now, Buffer.from(record));
  }

  revocations(groupId: string): RevocationRow[] {
    return this.db.prepare('SELECT serial, public_key, record FROM revocations WHERE group_id = ? ORDER BY id').all(groupId) as RevocationRow[];
  }

  isSerialRevoked(groupId: string, serial: number): boolean {
    return this.db.prepare('SELECT 1 FROM revocations WHERE group_id = ? AND serial = ?').get(groupId, serial) !== undefined;
  }

  isKeyRevoked(groupId: string, publicKey: Uint8Array): boolean {
    return this.db.prepare('SELECT 1 FROM revocations WHERE group_id = ? AND public_key = ?').get(groupId, Buffer.from(publicKey)) !== undefined;
  }

  banEmail(groupId: string, email: string): void {
    this.db.prepare('INSERT OR IGNORE INTO banned_emails (group_id, email) VALUES (?, ?)').run(groupId, email);
  }

  isEmailBanned(groupId: string, email: string): boolean {
    return this.db.prepare('SELECT 1 FROM banned_emails WHERE group_id = ? AND email = ?').get(groupId, email) !== undefined;
  }
}
