import type { Logger } from '../overlay/log.js';
import type { Mailer } from './mailer.js';
import type { JoinNotifier } from './membership-service.js';
import type { GroupsStore } from './storage/groups-store.js';

/**
 * Tells a group's admins about a new join request by e-mail when SMTP is configured. Sending runs
 * in the background and a failure is only logged: the request is always in the queue page anyway.
 */
export function createAdminNotifier(deps: { mailer: Mailer | null; groups: GroupsStore; publicUrl: string; log: Logger }): JoinNotifier {
  return {
    newJoinRequest(group, request) {
      if (deps.mailer === null) return;
      const to = deps.groups.adminsOf(group.id).map((a) => a.email);
      if (to.length === 0) return;
      const queue = `${deps.publicUrl}/groups/${group.id}/requests`;
      deps.mailer
        .send({
          to,
          subject: `RingVPN: ${request.name} asks to join ${group.name}`,
          text:
            `${request.name} <${request.email}> asks to join the group "${group.name}".\n\n` +
            `Approve or deny the request here:\n${queue}\n`,
        })
        .catch((e: unknown) => deps.log.warn('could not send the join notification', { reason: e instanceof Error ? e.message : String(e) }));
    },
  };
}
