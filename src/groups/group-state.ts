import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Identity } from '../overlay/identity.js';
import { silentLogger } from '../overlay/log.js';
import { createCryptoRandom } from '../overlay/real/crypto-random.js';
import { IDENTITY_FILE, loadOrCreateIdentity, prepareStateDir } from '../overlay/real/state-dir.js';
import { fromBase64Url, toBase64Url } from './binary.js';
import type { TrustAnchor } from './certificate.js';
import { GroupError } from './errors.js';
import { type Invitation, parseInvitation } from './invitation.js';
import { readPrivateFile, writePrivateFile } from './secret-file.js';

/**
 * What the client keeps on disk (directories 0700, secrets 0600):
 *   <state>/identity.key                     this node's Ed25519 key, the one `ringvpn node` uses (never leaves the machine)
 *   <state>/groups/<group id>/invitation     the invitation link (holds the invite token)
 *   <state>/groups/<group id>/group.json     group name and CA public key
 *   <state>/groups/<group id>/join.json      join request id (and, while waiting, its one-time secret)
 *   <state>/groups/<group id>/certificate    this node's member certificate (binary)
 *   <state>/groups/<group id>/crl            the newest verified CRL (binary)
 *   <state>/groups/<group id>/revocations    signed revocation records learned from other members (base64url lines)
 */
export interface StoredGroup {
  groupId: string;
  name: string;
  caPublicKey: string;
}

export interface StoredJoinRequest {
  requestId: string;
  /** Present until the certificate arrives. */
  secret?: string;
}

export function nodeKeyPath(stateDir: string): string {
  return join(stateDir, IDENTITY_FILE);
}

/**
 * This node's identity: the same key file as the overlay node's (made on first use, mode 0600), so
 * the certificate a join obtains names the key `ringvpn node` and `ringvpn up` present.
 */
export function loadOrCreateNodeIdentity(stateDir: string): Identity {
  prepareStateDir(stateDir, silentLogger);
  return loadOrCreateIdentity(stateDir, createCryptoRandom(), silentLogger).identity;
}

/** Revocation records kept at most (newest last); the CRL covers anything older. */
export const MAX_STORED_REVOCATIONS = 4096;

export class GroupStateDir {
  readonly dir: string;

  constructor(
    readonly stateDir: string,
    readonly groupId: string,
  ) {
    if (!/^[0-9a-f]{32}$/.test(groupId)) throw new GroupError('bad-group', 'the group id is malformed');
    this.dir = join(stateDir, 'groups', groupId);
  }

  private path(name: string): string {
    return join(this.dir, name);
  }

  ensure(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  saveInvitation(link: string): void {
    writePrivateFile(this.path('invitation'), `${link}\n`);
  }

  invitation(): Invitation {
    const parsed = parseInvitation(readPrivateFile(this.path('invitation')).toString('utf8'));
    if (!parsed.ok) throw new GroupError('state-corrupt', `the saved invitation of group ${this.groupId} is damaged: ${parsed.error}`);
    return parsed.value;
  }

  saveGroup(g: StoredGroup): void {
    writePrivateFile(this.path('group.json'), `${JSON.stringify(g)}\n`);
  }

  group(): StoredGroup {
    const g = this.readJson('group.json') as Partial<StoredGroup>;
    if (typeof g.name !== 'string' || typeof g.caPublicKey !== 'string' || g.groupId !== this.groupId) {
      throw new GroupError('state-corrupt', `the saved description of group ${this.groupId} is damaged`);
    }
    return { groupId: g.groupId, name: g.name, caPublicKey: g.caPublicKey };
  }

  anchor(): TrustAnchor {
    const caPublicKey = fromBase64Url(this.group().caPublicKey, 32);
    if (caPublicKey === null || caPublicKey.length !== 32) throw new GroupError('state-corrupt', `the saved key of group ${this.groupId} is damaged`);
    return { groupId: new Uint8Array(Buffer.from(this.groupId, 'hex')), caPublicKey };
  }

  saveJoinRequest(r: StoredJoinRequest): void {
    writePrivateFile(this.path('join.json'), `${JSON.stringify(r)}\n`);
  }

  joinRequest(): StoredJoinRequest | null {
    if (!existsSync(this.path('join.json'))) return null;
    const r = this.readJson('join.json') as Partial<StoredJoinRequest>;
    if (typeof r.requestId !== 'string' || !/^[0-9a-f]{32}$/.test(r.requestId)) return null;
    return typeof r.secret === 'string' ? { requestId: r.requestId, secret: r.secret } : { requestId: r.requestId };
  }

  /** After a denial: the next attempt files a new request. */
  forgetJoinRequest(): void {
    rmSync(this.path('join.json'), { force: true });
  }

  /** The membership ended (removed or banned): the next join files a new request. */
  forgetMembership(): void {
    rmSync(this.path('certificate'), { force: true });
    rmSync(this.path('join.json'), { force: true });
  }

  saveCertificate(bytes: Uint8Array): void {
    writePrivateFile(this.path('certificate'), bytes);
  }

  certificateBytes(): Uint8Array | null {
    return existsSync(this.path('certificate')) ? new Uint8Array(readFileSync(this.path('certificate'))) : null;
  }

  saveCrl(bytes: Uint8Array): void {
    writePrivateFile(this.path('crl'), bytes);
  }

  crlBytes(): Uint8Array | null {
    return existsSync(this.path('crl')) ? new Uint8Array(readFileSync(this.path('crl'))) : null;
  }

  /** Adds a verified revocation record learned on the overlay (kept across restarts, bounded). */
  addRevocationRecord(bytes: Uint8Array): void {
    const lines = this.revocationRecords().map((r) => toBase64Url(r));
    const line = toBase64Url(bytes);
    if (lines.includes(line)) return;
    lines.push(line);
    writePrivateFile(this.path('revocations'), `${lines.slice(-MAX_STORED_REVOCATIONS).join('\n')}\n`);
  }

  /** The stored records, undecoded and unverified: the caller verifies them against the CA. */
  revocationRecords(): Uint8Array[] {
    if (!existsSync(this.path('revocations'))) return [];
    return readPrivateFile(this.path('revocations'))
      .toString('utf8')
      .split('\n')
      .slice(0, MAX_STORED_REVOCATIONS)
      .map((l) => fromBase64Url(l.trim(), 256))
      .filter((b): b is Uint8Array => b !== null && b.length > 0);
  }

  private readJson(name: string): unknown {
    try {
      return JSON.parse(readPrivateFile(this.path(name)).toString('utf8'));
    } catch (e) {
      if (e instanceof GroupError) throw e;
      throw new GroupError('state-corrupt', `${this.path(name)} is missing or damaged`, { cause: e });
    }
  }
}

/** Group ids this state directory holds a certificate for. */
export function joinedGroupIds(stateDir: string): string[] {
  const root = join(stateDir, 'groups');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => /^[0-9a-f]{32}$/.test(name))
    .filter((id) => new GroupStateDir(stateDir, id).certificateBytes() !== null)
    .sort();
}
