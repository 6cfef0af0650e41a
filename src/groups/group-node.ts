import type { AdmissionCheck } from '../overlay/admission.js';
import type { Clock, TimerHandle } from '../overlay/clock.js';
import type { Logger } from '../overlay/log.js';
import type { OverlayNode } from '../overlay/node/overlay-node.js';
import type { Random } from '../overlay/random.js';
import { PUBLIC_NETWORK_NAME } from '../overlay/real/network-id.js';
import { parseEndpoint } from '../overlay/transport.js';
import { DEFAULT_VPN_NETWORK } from '../vpn/vpn-config.js';
import { serverCrlSource } from './crl-source.js';
import { GroupError } from './errors.js';
import { GroupApiClient } from './group-api-client.js';
import { GroupStateDir, joinedGroupIds } from './group-state.js';
import { fromBase64Url } from './binary.js';
import { decodeCertificate } from './certificate.js';
import { type GroupMembership, adoptCertificate, loadMembership } from './membership.js';
import { type RevocationService, createRevocationService } from './revocation-service.js';

/** Members tell the server they are alive (the admin's "last seen") and where they are, this often. */
const REPORT_INTERVAL_MS = 5 * 60_000;
/** The names `ringvpn node` and `ringvpn up` use when no --network is given: a membership takes their place. */
const DEFAULT_NETWORK_NAMES: ReadonlySet<string> = new Set([PUBLIC_NETWORK_NAME, DEFAULT_VPN_NETWORK]);
/** The first report waits until peers have told the node its public endpoint. */
const FIRST_REPORT_MS = 5_000;
/** A node waits this long at most for the server's member list before starting. */
const BOOTSTRAP_LOOKUP_TIMEOUT_MS = 5_000;
const MAX_BOOTSTRAPS = 8;

export interface GroupNodeComponents {
  clock: Clock;
  random: Random;
  log: Logger;
}

/** A running node's group parts; stop them before the node. */
export interface GroupNodeAttachment {
  readonly revocation: RevocationService;
  stop(): void;
}

/** What an overlay node needs to run on its group's private ring. */
export interface GroupNode {
  readonly membership: GroupMembership;
  /** The private ring's id: the group's 16-byte id. */
  readonly networkId: Uint8Array;
  readonly admission: AdmissionCheck;
  /** "Family network (group 0123abcd…)" for logs and status. */
  readonly label: string;
  /** Other members' endpoints from the group server (empty when it cannot be reached in time). */
  discoverBootstraps(ownEndpoints: string[]): Promise<string[]>;
  /** Revocations (server, DHT, ring) and reports to the server, for the running node. */
  attach(node: OverlayNode, components: GroupNodeComponents): GroupNodeAttachment;
}

/**
 * The group a node in `stateDir` runs for: the one named by `network` (a group id or a group's
 * name), or, when `network` is a command's default name (no --network given), the only group this state directory
 * holds a certificate for. Null when the node is not run for a group.
 */
export function openGroupForNode(stateDir: string, network: string | undefined, now: number = Date.now()): GroupNode | null {
  const ids = joinedGroupIds(stateDir);
  if (ids.length === 0) return null;
  let chosen: string | undefined;
  if (network === undefined || DEFAULT_NETWORK_NAMES.has(network)) {
    if (ids.length > 1) {
      const names = ids.map((id) => `"${new GroupStateDir(stateDir, id).group().name}" (${id})`).join(', ');
      throw new GroupError('several-groups', `this computer is a member of several groups: ${names}; choose one with --network GROUP-ID`);
    }
    chosen = ids[0];
  } else {
    chosen = ids.find((id) => id === network.toLowerCase() || new GroupStateDir(stateDir, id).group().name === network);
    if (chosen === undefined) return null;
  }
  const membership = loadMembership(stateDir, chosen as string, now);
  return groupNode(stateDir, membership);
}

function groupNode(stateDir: string, membership: GroupMembership): GroupNode {
  const state = new GroupStateDir(stateDir, membership.groupId);
  const invitation = state.invitation();
  return {
    membership,
    networkId: Uint8Array.from(membership.anchor.groupId),
    admission: membership.admission,
    label: `${membership.groupName} (group ${membership.groupId.slice(0, 8)})`,
    async discoverBootstraps(ownEndpoints) {
      try {
        const peers = await new GroupApiClient(invitation, { timeoutMs: BOOTSTRAP_LOOKUP_TIMEOUT_MS }).report(membership.identity, ownEndpoints.slice(0, 8));
        return peers.flatMap((p) => p.endpoints.filter((e) => parseEndpoint(e) !== null && !ownEndpoints.includes(e))).slice(0, MAX_BOOTSTRAPS);
      } catch {
        return [];
      }
    },
    attach(node, c) {
      const log = c.log;
      let reporting = false;
      let again = false;
      let stopped = false;
      // The certificate in force: the server hands out a new one with each report when an admin
      // changed this member's roles (turning the gateway role off revokes the old one) or the old
      // one nears its end; it is saved and presented from the next handshake on.
      // The serial the server last offered, adopted or not: the long poll names it, so that a
      // certificate this node cannot use is not sent again and again.
      let offered: number | null = null;
      const adopt = (bytes: Uint8Array | null): void => {
        if (bytes === null || stopped) return;
        const decoded = decodeCertificate(bytes);
        if (decoded.ok) offered = decoded.value.serial;
        try {
          const { certificate, changed } = adoptCertificate(stateDir, membership.groupId, membership, bytes, c.clock.now());
          if (!changed) return;
          const previous = membership.certificate.serial;
          membership.certificate = certificate;
          membership.admission.setOwnCertificate(certificate.bytes);
          revocation.setSelf({ serial: certificate.serial, publicKey: certificate.publicKey });
          log.info('the group server issued a new certificate for this computer', {
            serial: certificate.serial,
            previous,
            roles: certificate.roles.join(','),
            validUntil: new Date(certificate.notAfter).toISOString(),
          });
        } catch (error) {
          log.warn('kept the certificate held: the one the group server sent is not usable', { reason: error instanceof Error ? error.message : String(error) });
        }
      };
      const report = (): void => {
        if (stopped) return;
        if (reporting) {
          again = true;
          return;
        }
        reporting = true;
        new GroupApiClient(invitation)
          .checkIn(membership.identity, node.selfRecord().endpoints.slice(0, 8))
          .then((answer) => adopt(answer.certificate === null ? null : fromBase64Url(answer.certificate, 2048)))
          .catch((error: unknown) => {
            log.debug('could not report to the group server', { reason: error instanceof Error ? error.message : String(error) });
          })
          .finally(() => {
            reporting = false;
            if (again) {
              again = false;
              report();
            }
          });
      };
      const revocation = createRevocationService({
        anchor: membership.anchor,
        revocations: membership.revocations,
        self: { serial: membership.certificate.serial, publicKey: membership.certificate.publicKey },
        crlSource: serverCrlSource(invitation, undefined, () => ({ publicKey: membership.certificate.publicKey, serial: offered ?? membership.certificate.serial })),
        onRecord: (record) => saveQuietly(log, () => state.addRevocationRecord(record.bytes)),
        onCrl: (crl) => saveQuietly(log, () => state.saveCrl(crl.bytes)),
        // Revoked because an admin changed this member's roles: the server has the certificate in force.
        onSelfRevoked: report,
        // A change of role, heard at once through the long poll.
        onCertificate: adopt,
      })({ node, clock: c.clock, random: c.random, log: log.child('revocation') });
      revocation.start();
      const firstReport: TimerHandle = c.clock.setTimeout(report, FIRST_REPORT_MS);
      const reportTimer: TimerHandle = c.clock.setInterval(report, REPORT_INTERVAL_MS);
      log.info('running on the private ring of the group', { group: membership.groupId, name: membership.groupName, serial: membership.certificate.serial });
      return {
        revocation,
        stop() {
          stopped = true;
          firstReport.cancel();
          reportTimer.cancel();
          revocation.stop();
        },
      };
    },
  };
}

function saveQuietly(log: Logger, save: () => void): void {
  try {
    save();
  } catch (error) {
    log.warn('could not save a revocation to the state directory', { reason: error instanceof Error ? error.message : String(error) });
  }
}
