import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../overlay/log.js';
import { toHex } from '../groups/binary.js';
import { createGroupCa } from '../groups/group-ca.js';
import type { CaKeys } from './ca-keys.js';
import { conflict } from './http-error.js';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords.js';
import type { Db } from './storage/database.js';
import type { AdminRow, GroupRow, GroupsStore } from './storage/groups-store.js';

export const SESSION_LIFETIME_MS = 12 * 3600_000;

export const DEFAULT_TERMS =
  'I will use this network only for purposes the group allows. The admins may remove me at any time. ' +
  'My name and e-mail address are shown to the group admins; my name is shown to other members.';

export interface NewGroup {
  groupName: string;
  username: string;
  email: string;
  password: string;
  terms: string;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Groups, their admins and admin sessions. */
export class GroupService {
  constructor(
    private readonly deps: { db: Db; groups: GroupsStore; caKeys: CaKeys; now: () => number; log: Logger },
  ) {}

  get store(): GroupsStore {
    return this.deps.groups;
  }

  async createGroup(g: NewGroup): Promise<{ groupId: string; adminId: number }> {
    const { groups, caKeys, now, db } = this.deps;
    if (groups.adminByUsername(g.username) !== undefined) throw conflict('that user name is taken; choose another');
    const passwordHash = await hashPassword(g.password);
    const ca = createGroupCa();
    const groupId = toHex(ca.groupId);
    caKeys.save(ca);
    const t = now();
    const adminId = db.transaction(() => {
      if (groups.adminByUsername(g.username) !== undefined) throw conflict('that user name is taken; choose another');
      groups.insertGroup({
        id: groupId,
        name: g.groupName,
        ca_public_key: Buffer.from(ca.caPublicKey),
        invite_token: randomToken(24),
        terms: g.terms,
        crl_updated_at: t,
        created_at: t,
      });
      return groups.insertAdmin({ group_id: groupId, username: g.username, email: g.email, password_hash: passwordHash, created_at: t });
    })();
    this.deps.log.info('group created', { group: groupId.slice(0, 8) });
    return { groupId, adminId };
  }

  async login(username: string, password: string): Promise<AdminRow | null> {
    const admin = this.deps.groups.adminByUsername(username);
    if (admin === undefined) {
      await burnPasswordCheck(password);
      return null;
    }
    return (await verifyPassword(password, admin.password_hash)) ? admin : null;
  }

  /**
   * Changes an admin's password after checking the current one; every other session of the admin
   * ends (a stolen cookie stops working), the one in `keepToken` stays. False when the current password is wrong.
   */
  async changePassword(admin: AdminRow, current: string, next: string, keepToken: string): Promise<boolean> {
    if (!(await verifyPassword(current, admin.password_hash))) return false;
    const hash = await hashPassword(next);
    this.deps.db.transaction(() => {
      this.deps.groups.setPasswordHash(admin.id, hash);
      this.deps.groups.deleteOtherSessions(admin.id, sha256Hex(keepToken));
    })();
    this.deps.log.info('admin password changed', { admin: admin.id });
    return true;
  }

  openSession(adminId: number): string {
    const token = randomToken();
    const t = this.deps.now();
    this.deps.groups.insertSession(sha256Hex(token), adminId, t, t + SESSION_LIFETIME_MS);
    return token;
  }

  sessionAdmin(token: string | undefined): AdminRow | undefined {
    if (token === undefined || token.length === 0 || token.length > 100) return undefined;
    return this.deps.groups.sessionAdmin(sha256Hex(token), this.deps.now());
  }

  closeSession(token: string | undefined): void {
    if (token !== undefined && token.length <= 100) this.deps.groups.deleteSession(sha256Hex(token));
  }

  group(groupId: string): GroupRow | undefined {
    return this.deps.groups.group(groupId);
  }

  setAutoApprove(groupId: string, on: boolean): void {
    this.deps.groups.setAutoApprove(groupId, on);
  }

  newInviteToken(groupId: string): void {
    this.deps.groups.setInviteToken(groupId, randomToken(24));
  }
}
