import type { FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import { toBase64Url } from '../../groups/binary.js';
import { type Invitation, formatInvitationLink } from '../../groups/invitation.js';
import type { GroupService } from '../group-service.js';
import { forbidden } from '../http-error.js';
import type { MembershipService } from '../membership-service.js';
import type { RateLimits } from '../rate-limits.js';
import type { AdminRow, GroupRow } from '../storage/groups-store.js';
import type { InvitationView } from './admin-pages.js';
import { type PageChrome, page } from './layout.js';
import type { SafeHtml } from './html.js';

export const SESSION_COOKIE = 'ringvpn_session';

/** What the web routes share: services, the server's identity and a few helpers for pages. */
export class WebContext {
  constructor(
    readonly groups: GroupService,
    readonly membership: MembershipService,
    readonly limits: RateLimits,
    readonly server: { publicUrl: string; fingerprint: string | null; secureCookies: boolean; openGroupCreation: boolean },
  ) {}

  admin(req: FastifyRequest): AdminRow | undefined {
    return this.groups.sessionAdmin(req.cookies[SESSION_COOKIE]);
  }

  /** The logged-in admin of `groupId`, or null after sending the login redirect. */
  requireAdmin(req: FastifyRequest, reply: FastifyReply, groupId: string): AdminRow | null {
    const admin = this.admin(req);
    if (admin === undefined) {
      void reply.redirect('/login', 303);
      return null;
    }
    if (admin.group_id !== groupId) throw forbidden('you are not an admin of this group');
    return admin;
  }

  canCreateGroup(admin: AdminRow | undefined): boolean {
    return this.server.openGroupCreation || admin !== undefined || this.groups.store.countGroups() === 0;
  }

  chrome(title: string, admin: AdminRow | undefined, csrf: string, notice?: PageChrome['notice']): PageChrome {
    if (admin === undefined) return { title, csrf, notice };
    const g = this.groups.group(admin.group_id) as GroupRow;
    return {
      title,
      csrf,
      notice,
      admin: { groupId: g.id, groupName: g.name, username: admin.username, pending: this.membership.countPending(g.id) },
    };
  }

  send(reply: FastifyReply, chrome: PageChrome, body: SafeHtml, status = 200): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').send(page(chrome, body));
  }

  invitation(group: GroupRow): Invitation {
    return {
      serverUrl: this.server.publicUrl,
      groupId: group.id,
      fingerprint: this.server.fingerprint,
      token: group.invite_token,
      caPublicKey: toBase64Url(group.ca_public_key),
    };
  }

  webJoinLink(group: GroupRow): string {
    return `${this.server.publicUrl}/join/${group.id}/${group.invite_token}`;
  }

  async invitationView(group: GroupRow): Promise<InvitationView> {
    const link = formatInvitationLink(this.invitation(group));
    const qrSvg = await QRCode.toString(link, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
    return { link, webLink: this.webJoinLink(group), qrSvg, fingerprint: this.server.fingerprint ?? 'none (plain HTTP or behind a proxy)' };
  }
}
