import { type Address, shortAddress } from '../overlay/address.js';
import type { Clock, TimerHandle } from '../overlay/clock.js';
import type { Logger } from '../overlay/log.js';
import type { OverlayNode } from '../overlay/node/overlay-node.js';
import type { Random } from '../overlay/random.js';
import { bytesEqual } from './binary.js';
import { type TrustAnchor, decodeCertificate } from './certificate.js';
import { revocationDhtKey, targetId } from './revocation-keys.js';
import { type Crl, type RevocationRecord, type RevocationSet, decodeCrl, decodeRevocationRecord } from './revocation.js';

/** Overlay channels of the group's private ring (u16; the VPN uses 0x56). */
export const REVOCATION_BROADCAST_CHANNEL = 0x5256;
export const REVOCATION_GOSSIP_CHANNEL = 0x5257;
/** The longest revocation record (a key target): anything longer is dropped before decoding. */
export const MAX_REVOCATION_RECORD_BYTES = 123;

export type RevocationSource = 'local' | 'server' | 'dht' | 'broadcast' | 'gossip';
export type LearnOutcome = 'new' | 'known' | 'malformed' | 'refused';

/** What the group server hands out: its newest signed CRL and every single signed revocation record. */
export interface CrlUpdate {
  crl: Uint8Array;
  records: Uint8Array[];
  /** A new certificate for this very member (encoded), when the server has one: see `onCertificate`. */
  certificate?: Uint8Array;
}

export interface CrlSource {
  /** The server's revocations; a server may hold the answer until its CRL is newer than `afterSequence`. */
  fetch(afterSequence: number, signal: AbortSignal): Promise<CrlUpdate>;
}

export interface RevocationServiceInit {
  anchor: TrustAnchor;
  /** The set the admission check consults: whatever is added here refuses new links at once. */
  revocations: RevocationSet;
  /** This node's own certificate, to notice when an admin removes this very computer. */
  self?: { serial: number; publicKey: Uint8Array };
  crlSource?: CrlSource;
  /**
   * A revocation learned from the server or the DHT is broadcast after a random delay up to this
   * (default 1 s), and not at all when the same one arrives over the ring first: when every member
   * learns it from the server at once, about one broadcast goes out instead of one per member.
   */
  broadcastJitterMs?: number;
  /** How often new links are looked for to check their peer's revocations in the DHT (default 1 s). */
  linkScanMs?: number;
  /** CA signature checks per second on records from peers (default 200); more are dropped and counted. */
  verifyPerSecond?: number;
  /** Lifetime of the records this node puts in the DHT (default 24 h, the DHT's longest; the writer republishes them). */
  dhtTtlSeconds?: number;
  /**
   * Wait between two CRL fetches when nothing changed and the server answered at once (default
   * 60 s). A server that held the request (long polling) is asked again after a second.
   */
  crlIntervalMs?: number;
  /** First wait after a failed CRL fetch (default 15 s), doubled per failure up to 5 minutes. */
  crlRetryMs?: number;
  /** Persistence: a new verified record, a newer verified CRL. */
  onRecord?: (record: RevocationRecord) => void;
  onCrl?: (crl: Crl) => void;
  /** This node's own certificate or key was revoked. */
  onSelfRevoked?: () => void;
  /** The server sent a new certificate for this node (unverified: the receiver checks it). */
  onCertificate?: (bytes: Uint8Array) => void;
}

export interface RevocationServiceComponents {
  node: OverlayNode;
  clock: Clock;
  random: Random;
  log: Logger;
}

export interface RevocationServiceStats {
  learned: number;
  duplicates: number;
  malformed: number;
  wrongGroup: number;
  forged: number;
  rateLimited: number;
  broadcastsSent: number;
  broadcastsSuppressed: number;
  gossipSent: number;
  linksClosed: number;
  dhtPuts: number;
  dhtLookups: number;
  crlFetches: number;
  crlFailures: number;
}

/** Pending delayed broadcasts at most; beyond this a new one goes out at once. */
const MAX_PENDING_BROADCASTS = 256;
/** DHT lookups in flight at most (each new link costs two). */
const MAX_LOOKUPS_IN_FLIGHT = 64;
/** Quickest re-fetch of the CRL right after it changed (several revocations often come together). */
const CRL_REFETCH_AFTER_CHANGE_MS = 1_000;
const CRL_MAX_RETRY_MS = 5 * 60_000;
/** An answer that took this long was held by a long-polling server. */
const CRL_LONG_POLL_HELD_MS = 800;

interface CheckedLink {
  establishedAt: number;
  /** The serial of the certificate the peer presented; -1 when it presented none. */
  serial: number;
}

/**
 * Revocation on the private ring. A member learns a CA-signed revocation from the group server's
 * CRL, from the DHT (looked up for every peer it links with), from a ring broadcast, or from a
 * neighbour's gossip. A new one is verified, added to the set the admission check consults (so
 * the revoked member cannot link again), persisted, and every link whose peer it revokes is closed;
 * then it spreads: learned first-hand (server, DHT, local) it is broadcast over the ring and put in
 * the DHT; learned from the ring it is passed to the near neighbours once, which fills the gap a
 * lost broadcast datagram would leave. Known targets are dropped before any signature check, and
 * signature checks of records from peers are rate limited, so neither memory nor CPU grows with
 * what peers send.
 */
export class RevocationService {
  readonly stats: RevocationServiceStats = {
    learned: 0, duplicates: 0, malformed: 0, wrongGroup: 0, forged: 0, rateLimited: 0, broadcastsSent: 0,
    broadcastsSuppressed: 0, gossipSent: 0, linksClosed: 0, dhtPuts: 0, dhtLookups: 0, crlFetches: 0, crlFailures: 0,
  };
  private running = false;
  private readonly pending = new Map<string, TimerHandle>();
  private readonly checked = new Map<Address, CheckedLink>();
  private lookupsInFlight = 0;
  private scanTimer: TimerHandle | null = null;
  private sleepTimer: { handle: TimerHandle; wake: () => void } | null = null;
  private abort = new AbortController();
  private verifyTokens: number;
  private tokensAt: number;
  private selfRevokedTold = false;
  private self: { serial: number; publicKey: Uint8Array } | undefined;
  private readonly node: OverlayNode;

  constructor(
    private readonly init: RevocationServiceInit,
    private readonly c: RevocationServiceComponents,
  ) {
    this.node = c.node;
    this.self = init.self;
    this.verifyTokens = this.verifyPerSecond;
    this.tokensAt = c.clock.now();
  }

  private get verifyPerSecond(): number {
    return this.init.verifyPerSecond ?? 200;
  }

  /** Attach to the node (call once; the node may already run) and start checking links and fetching the CRL. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.node.onBroadcast(REVOCATION_BROADCAST_CHANNEL, (_origin, data) => this.learn(data, 'broadcast'));
    this.node.onApp(REVOCATION_GOSSIP_CHANNEL, (source, data) => this.learn(data, 'gossip', source));
    this.scanTimer = this.c.clock.setInterval(() => this.scanLinks(), this.init.linkScanMs ?? 1_000);
    this.scanLinks();
    if (this.init.crlSource !== undefined) void this.crlLoop(this.init.crlSource);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.scanTimer?.cancel();
    this.scanTimer = null;
    for (const t of this.pending.values()) t.cancel();
    this.pending.clear();
    this.abort.abort();
    if (this.sleepTimer !== null) {
      this.sleepTimer.handle.cancel();
      this.sleepTimer.wake();
      this.sleepTimer = null;
    }
    this.checked.clear();
  }

  /** This node presents another certificate from now on (the group server issued a new one). */
  setSelf(self: { serial: number; publicKey: Uint8Array }): void {
    this.self = self;
    this.selfRevokedTold = false;
    this.checkSelf();
  }

  /** A revocation this node publishes first (an admin's tool, or a test): spread at once. */
  publish(record: RevocationRecord | Uint8Array): LearnOutcome {
    return this.learn(record, 'local');
  }

  /** Takes a revocation from any source; never throws on bad input. */
  learn(input: RevocationRecord | Uint8Array, source: RevocationSource, from?: Address): LearnOutcome {
    if (!this.running && source !== 'local' && source !== 'server') return 'refused';
    let record: RevocationRecord;
    if (input instanceof Uint8Array) {
      if (input.length > MAX_REVOCATION_RECORD_BYTES) return this.malformed(source, from, 'too long');
      const decoded = decodeRevocationRecord(input);
      if (!decoded.ok) return this.malformed(source, from, decoded.error.message);
      record = decoded.value;
    } else record = input;
    if (!bytesEqual(record.groupId, this.init.anchor.groupId)) {
      this.stats.wrongGroup++;
      return 'refused';
    }
    const id = targetId(record.target);
    if (this.init.revocations.covers(record)) {
      this.stats.duplicates++;
      if (source === 'broadcast' || source === 'gossip') this.suppress(id);
      return 'known';
    }
    if (source !== 'local' && source !== 'server' && !this.takeVerifyToken()) {
      this.stats.rateLimited++;
      return 'refused';
    }
    if (!this.init.revocations.applyRecord(record)) {
      this.stats.forged++;
      this.c.log.warn('dropped a revocation not signed by the group authority', { source, peer: from === undefined ? undefined : shortAddress(from) });
      return 'refused';
    }
    this.stats.learned++;
    this.c.log.info('learned a revocation', { target: id.slice(0, 20), source });
    this.init.onRecord?.(record);
    this.closeRevokedLinks();
    this.checkSelf();
    this.spread(record, id, source, from);
    return 'new';
  }

  /** Closes every link whose peer's certificate or key is revoked now. */
  closeRevokedLinks(): number {
    let closed = 0;
    for (const link of [...this.node.links.links()]) {
      const serial = this.serialOf(link.peer, link.establishedAt, link.credential);
      if (!this.init.revocations.isRevoked(serial, link.publicKey)) continue;
      this.node.links.close(link.peer, 'revoked');
      this.checked.delete(link.peer);
      this.stats.linksClosed++;
      closed++;
      this.c.log.info('closed the session with a revoked member', { peer: shortAddress(link.peer) });
    }
    return closed;
  }

  private malformed(source: RevocationSource, from: Address | undefined, reason: string): LearnOutcome {
    this.stats.malformed++;
    this.c.log.debug('dropped a malformed revocation', { source, reason, peer: from === undefined ? undefined : shortAddress(from) });
    return 'malformed';
  }

  private spread(record: RevocationRecord, id: string, source: RevocationSource, from: Address | undefined): void {
    if (!this.running) return;
    if (source === 'broadcast' || source === 'gossip') {
      this.gossip(record, from);
      return;
    }
    if (source === 'local' || this.pending.size >= MAX_PENDING_BROADCASTS) {
      this.announce(record, source !== 'dht');
      return;
    }
    const delay = this.c.random.float() * (this.init.broadcastJitterMs ?? 1_000);
    this.pending.set(
      id,
      this.c.clock.setTimeout(() => {
        this.pending.delete(id);
        this.announce(record, source !== 'dht');
      }, delay),
    );
  }

  /** The same revocation came over the ring while ours waited: someone else announced it. */
  private suppress(id: string): void {
    const timer = this.pending.get(id);
    if (timer === undefined) return;
    timer.cancel();
    this.pending.delete(id);
    this.stats.broadcastsSuppressed++;
  }

  private announce(record: RevocationRecord, putInDht: boolean): void {
    if (!this.running) return;
    this.node.broadcast.send(REVOCATION_BROADCAST_CHANNEL, record.bytes);
    this.stats.broadcastsSent++;
    if (!putInDht) return;
    this.node.dht.put(revocationDhtKey(this.init.anchor.groupId, record.target), record.bytes, this.init.dhtTtlSeconds ?? 24 * 3600, (r) => {
      if (r.ok) this.stats.dhtPuts++;
      else this.c.log.debug('could not store a revocation in the DHT', { reason: r.status });
    });
  }

  private gossip(record: RevocationRecord, from: Address | undefined): void {
    const k = 3;
    const near = new Set([...this.node.leftNeighbours(k), ...this.node.rightNeighbours(k)]);
    for (const peer of near) {
      if (peer === from) continue;
      this.node.sendApp(peer, REVOCATION_GOSSIP_CHANNEL, record.bytes);
      this.stats.gossipSent++;
    }
  }

  private takeVerifyToken(): boolean {
    const now = this.c.clock.now();
    const rate = this.verifyPerSecond;
    this.verifyTokens = Math.min(rate, this.verifyTokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
    if (this.verifyTokens < 1) return false;
    this.verifyTokens--;
    return true;
  }

  private serialOf(peer: Address, establishedAt: number, credential: Uint8Array): number {
    const known = this.checked.get(peer);
    if (known !== undefined && known.establishedAt === establishedAt) return known.serial;
    const cert = credential.length === 0 ? null : decodeCertificate(credential);
    return cert !== null && cert.ok ? cert.value.serial : -1;
  }

  /** New links (and links made again) get their peer's revocations looked up in the DHT. */
  private scanLinks(): void {
    if (!this.running) return;
    const live = new Set<Address>();
    for (const link of [...this.node.links.links()]) {
      live.add(link.peer);
      const known = this.checked.get(link.peer);
      if (known !== undefined && known.establishedAt === link.establishedAt) continue;
      const serial = this.serialOf(link.peer, link.establishedAt, link.credential);
      if (this.init.revocations.isRevoked(serial, link.publicKey)) {
        this.closeRevokedLinks();
        continue;
      }
      if (!this.node.joined || this.lookupsInFlight + 2 > MAX_LOOKUPS_IN_FLIGHT) continue;
      this.checked.set(link.peer, { establishedAt: link.establishedAt, serial });
      if (serial >= 0) this.lookup(revocationDhtKey(this.init.anchor.groupId, { kind: 'serial', serial }));
      this.lookup(revocationDhtKey(this.init.anchor.groupId, { kind: 'key', publicKey: link.publicKey }));
    }
    for (const peer of this.checked.keys()) if (!live.has(peer)) this.checked.delete(peer);
  }

  private lookup(key: Uint8Array): void {
    this.lookupsInFlight++;
    this.stats.dhtLookups++;
    this.node.dht.get(key, (r) => {
      this.lookupsInFlight--;
      if (!r.ok || !this.running) return;
      for (const found of r.records) this.learn(found.value, 'dht');
    });
  }

  private checkSelf(): void {
    const self = this.self;
    if (self === undefined || this.selfRevokedTold || !this.init.revocations.isRevoked(self.serial, self.publicKey)) return;
    this.selfRevokedTold = true;
    this.c.log.error(
      "an admin removed this computer from the group, or changed its role: other members refuse the certificate it holds (after a change of role the group server has a new one for it)",
    );
    this.init.onSelfRevoked?.();
  }

  /** Applies what the server sent; true when its CRL is newer than what this node had. */
  private applyServerUpdate(update: CrlUpdate): boolean {
    if (update.certificate !== undefined) this.init.onCertificate?.(update.certificate);
    for (const bytes of update.records) this.learn(bytes, 'server');
    const decoded = decodeCrl(update.crl);
    if (!decoded.ok) throw new Error(`the group server sent a damaged revocation list (${decoded.error.message})`);
    const before = this.init.revocations.sequence;
    // A new certificate counts as a change: the next long poll, with the new serial, follows soon.
    if (decoded.value.sequence <= before) return update.certificate !== undefined;
    if (!this.init.revocations.applyCrl(decoded.value)) throw new Error("the revocation list is not signed by the group's authority");
    this.init.onCrl?.(decoded.value);
    this.closeRevokedLinks();
    this.checkSelf();
    return true;
  }

  private async crlLoop(source: CrlSource): Promise<void> {
    let failures = 0;
    while (this.running) {
      const started = this.c.clock.now();
      let changed = false;
      this.stats.crlFetches++;
      try {
        const update = await source.fetch(this.init.revocations.sequence, this.abort.signal);
        if (!this.running) return;
        changed = this.applyServerUpdate(update);
        failures = 0;
      } catch (error) {
        if (!this.running) return;
        failures++;
        this.stats.crlFailures++;
        this.c.log.warn('could not get the revocation list from the group server; members still tell each other', {
          reason: error instanceof Error ? error.message : String(error),
        });
      }
      // A server that held the request (long polling) is asked again at once, so that a revocation
      // reaches this node at any time, not only while a request happens to be waiting.
      const held = this.c.clock.now() - started >= CRL_LONG_POLL_HELD_MS;
      const wait =
        failures > 0 ? Math.min(CRL_MAX_RETRY_MS, (this.init.crlRetryMs ?? 15_000) * 2 ** (failures - 1))
        : changed || held ? CRL_REFETCH_AFTER_CHANGE_MS
        : Math.max(CRL_REFETCH_AFTER_CHANGE_MS, (this.init.crlIntervalMs ?? 60_000) - (this.c.clock.now() - started));
      await this.sleep(wait);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (!this.running) return resolve();
      const handle = this.c.clock.setTimeout(() => {
        this.sleepTimer = null;
        resolve();
      }, ms);
      this.sleepTimer = { handle, wake: resolve };
    });
  }
}

export function createRevocationService(init: RevocationServiceInit): (components: RevocationServiceComponents) => RevocationService {
  return (components) => new RevocationService(init, components);
}
