import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../overlay/log.js';
import { toHex } from '../groups/binary.js';
import { createGroupCa } from '../groups/group-ca.js';
import type { CaKeys } from './ca-keys.js';
import { conflict, forbidden, notFound } from './http-error.js';
import { burnPasswordCheck, hashPassword, verifyPassword } from './passwords.js';
import type { Db } from './storage/database.js';
import type { AdminRow, GroupRow, GroupsStore } from './storage/groups-store.js';

export const SESSION_LIFETIME_MS = 12 * 3600_000;
export const ADMIN_INVITE_LIFETIME_MS = 7 * 24 * 3600_000;

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

  /** A one-time link (its token) by which `admin` invites another admin of its group; valid for 7 days. */
  createAdminInvite(admin: AdminRow): string {
    const token = randomToken(24);
    const t = this.deps.now();
    this.deps.groups.insertAdminInvite(sha256Hex(token), admin.group_id, admin.id, t, t + ADMIN_INVITE_LIFETIME_MS);
    this.deps.log.info('admin invitation made', { group: admin.group_id.slice(0, 8), by: admin.id });
    return token;
  }

  /** The group an admin invitation is for, while it is unused and valid. */
  adminInviteGroup(token: string): string | undefined {
    if (token.length > 100) return undefined;
    return this.deps.groups.adminInviteGroup(sha256Hex(token), this.deps.now());
  }

  /** Creates the invited admin; the invitation works once. */
  async acceptAdminInvite(token: string, a: { username: string; email: string; password: string }): Promise<{ groupId: string; adminId: number }> {
    const groupId = this.adminInviteGroup(token);
    if (groupId === undefined) throw forbidden('this admin invitation was used already or has expired; ask an admin of the group for a new one');
    if (this.deps.groups.adminByUsername(a.username) !== undefined) throw conflict('that user name is taken; choose another');
    const passwordHash = await hashPassword(a.password);
    const t = this.deps.now();
    const adminId = this.deps.db.transaction(() => {
      if (this.deps.groups.adminByUsername(a.username) !== undefined) throw conflict('that user name is taken; choose another');
      const id = this.deps.groups.insertAdmin({ group_id: groupId, username: a.username, email: a.email, password_hash: passwordHash, created_at: t });
      if (!this.deps.groups.useAdminInvite(sha256Hex(token), id, t)) {
        throw forbidden('this admin invitation was used already or has expired; ask an admin of the group for a new one');
      }
      return id;
    })();
    this.deps.log.info('admin added', { group: groupId.slice(0, 8), admin: adminId });
    return { groupId, adminId };
  }

  /** Removes another admin of the group (never oneself, never the last one); their sessions end. */
  removeAdmin(acting: AdminRow, adminId: number): void {
    if (adminId === acting.id) throw conflict('you cannot remove yourself; another admin of the group can');
    const target = this.deps.groups.admin(adminId);
    if (target === undefined || target.group_id !== acting.group_id) throw notFound('there is no such admin in this group');
    this.deps.groups.deleteAdmin(acting.group_id, adminId);
    this.deps.log.info('admin removed', { group: acting.group_id.slice(0, 8), admin: adminId, by: acting.id });
  }

  admins(groupId: string): AdminRow[] {
    return this.deps.groups.adminsOf(groupId);
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
