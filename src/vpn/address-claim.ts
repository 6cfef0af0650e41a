import { type Address, shortAddress } from '../overlay/address.js';
import type { Clock, TimerHandle } from '../overlay/clock.js';
import type { Logger } from '../overlay/log.js';
import type { DhtResult } from '../overlay/node/dht-service.js';
import type { Random } from '../overlay/random.js';
import type { LeaseStore } from './lease-file.js';
import { formatIpv4 } from './packets/addresses.js';
import { type Ipv4Subnet, formatSubnet, isSubnetHost } from './subnet.js';
import { type OwnerRecord, compareClaims, encodeOwnerRecord, vipKey, winningOwner } from './vip-records.js';

/** The DHT operations a claim uses (the overlay node's DhtService has them). */
export interface ClaimDht {
  create(key: Uint8Array, value: Uint8Array, ttlSeconds: number, cb: (r: DhtResult) => void): void;
  put(key: Uint8Array, value: Uint8Array, ttlSeconds: number, cb: (r: DhtResult) => void): void;
  get(key: Uint8Array, cb: (r: DhtResult) => void): void;
  remove(key: Uint8Array, value: Uint8Array, cb: (r: DhtResult) => void): void;
}

export interface AddressClaimInit {
  readonly networkIdHex: string;
  readonly subnet: Ipv4Subnet;
  /** The address to try first when no lease of this network is stored. */
  readonly preferred?: number;
  /**
   * Lifetime of the DHT record (default 30 min). Renewed every third of it, so a node that stops
   * without leaving keeps its address reserved this long: long enough for a restart or a reboot,
   * short enough that a machine gone for good frees its address within the hour.
   */
  readonly leaseSeconds?: number;
}

export interface AddressClaimComponents {
  readonly dht: ClaimDht;
  readonly self: Address;
  readonly clock: Clock;
  readonly random: Random;
  readonly leases: LeaseStore;
  readonly log: Logger;
}

export type AddressChangeHandler = (ip: number | undefined, previous: number | undefined) => void;

const DEFAULT_LEASE_SECONDS = 30 * 60;
/**
 * Two nodes that create the same key at once on two different roots (the ring still forming) both
 * succeed; the records meet once replication runs (within a second or two). A claim is checked
 * against the key's records this long after it succeeded, again at VERIFY_AGAIN_MS and at every
 * renewal; the loser of a conflict gives its address up.
 */
const VERIFY_AFTER_MS = 3_000;
const VERIFY_AGAIN_MS = 30_000;
/** Waits between tries after a DHT timeout or refusal: doubles up to the maximum. */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 30_000;
/** Addresses remembered as taken, so a busy subnet is not probed in circles. */
const MAX_REMEMBERED_TAKEN = 1_024;

/**
 * Claims a virtual IP of the subnet with a DHT `create` (fails while another node's record of the
 * address lives), keeps it with renewals, remembers it in the lease store so a restart claims the
 * same address, and resolves conflicts: of two owners of one address, the later claim (then the
 * higher overlay address) gives it up and claims another. The subnet's lowest host address is the
 * virtual services address and is never claimed.
 */
export class AddressClaim {
  private held: OwnerRecord | undefined;
  private trying: OwnerRecord | undefined;
  private timers = new Set<TimerHandle>();
  private readonly taken = new Set<number>();
  private readonly handlers: AddressChangeHandler[] = [];
  private retryMs = RETRY_MIN_MS;
  private running = false;
  private readonly leaseSeconds: number;
  readonly stats = { claims: 0, conflicts: 0, renewals: 0, yielded: 0, dhtFailures: 0 };

  constructor(
    private readonly init: AddressClaimInit,
    private readonly c: AddressClaimComponents,
  ) {
    this.leaseSeconds = init.leaseSeconds ?? DEFAULT_LEASE_SECONDS;
    if (init.preferred !== undefined && !this.usable(init.preferred)) {
      throw new RangeError(`${formatIpv4(init.preferred)} is not a member address of ${formatSubnet(init.subnet)} (the lowest host address is reserved).`);
    }
  }

  /** The address held now (undefined while claiming). */
  get address(): number | undefined {
    return this.held?.ip;
  }

  get claimedAt(): number | undefined {
    return this.held?.claimedAt;
  }

  onChange(handler: AddressChangeHandler): void {
    this.handlers.push(handler);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const now = this.c.clock.now();
    const stored = this.c.leases.load();
    if (stored !== undefined && stored.networkIdHex === this.init.networkIdHex && stored.subnet === formatSubnet(this.init.subnet) && this.usable(stored.ip)) {
      // A live lease keeps its claim time (it still wins conflicts it won before); an expired one starts over.
      this.attempt({ ip: stored.ip, owner: this.c.self, claimedAt: stored.expiresAt > now ? stored.claimedAt : now });
      return;
    }
    this.attempt({ ip: this.init.preferred ?? this.derivedCandidate(), owner: this.c.self, claimedAt: now });
  }

  /** Stops renewing. The DHT record stays until its lease ends, so a restart gets the address back. */
  stop(): void {
    this.running = false;
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  /** Gives the address up now (removes the DHT record and the stored lease), e.g. when leaving the network for good. */
  release(): void {
    const held = this.held;
    this.stop();
    if (held === undefined) return;
    this.c.dht.remove(this.key(held.ip), encodeOwnerRecord(held), () => {});
    this.c.leases.clear();
    this.setHeld(undefined);
  }

  private attempt(claim: OwnerRecord): void {
    if (!this.running) return;
    this.trying = claim;
    this.c.dht.create(this.key(claim.ip), encodeOwnerRecord(claim), this.leaseSeconds, (r) => this.onCreated(claim, r));
  }

  private onCreated(claim: OwnerRecord, r: DhtResult): void {
    if (!this.running || this.trying !== claim) return;
    this.trying = undefined;
    if (r.ok) {
      this.retryMs = RETRY_MIN_MS;
      this.stats.claims++;
      this.hold(claim);
      this.later(VERIFY_AFTER_MS, () => this.verify());
      this.later(VERIFY_AGAIN_MS, () => this.verify());
      return;
    }
    if (r.status === 'exists' || r.status === 'rejected') {
      // The DHT keeps a failed create among the records its writer republishes (as a put, every
      // few minutes), which would plant a claim on an address this node never got: withdraw it.
      this.c.dht.remove(this.key(claim.ip), encodeOwnerRecord(claim), () => {});
    }
    if (r.status === 'exists') {
      this.stats.conflicts++;
      this.rememberTaken(claim.ip);
      this.c.log.debug('virtual address taken, trying another', { vip: formatIpv4(claim.ip) });
      this.attempt({ ip: this.nextCandidate(), owner: this.c.self, claimedAt: this.c.clock.now() });
      return;
    }
    this.stats.dhtFailures++;
    const wait = this.backoff();
    this.c.log.info('could not claim a virtual address yet; retrying', { vip: formatIpv4(claim.ip), reason: r.status, retryMs: wait });
    // 'rejected' may mean the root's store for that key is full: move on to another address.
    const next = r.status === 'rejected' ? { ...claim, ip: this.nextCandidate(), claimedAt: this.c.clock.now() } : claim;
    this.later(wait, () => this.attempt(next));
  }

  private hold(claim: OwnerRecord): void {
    const now = this.c.clock.now();
    this.c.leases.save({
      networkIdHex: this.init.networkIdHex,
      subnet: formatSubnet(this.init.subnet),
      ip: claim.ip,
      claimedAt: claim.claimedAt,
      expiresAt: now + this.leaseSeconds * 1000,
    });
    if (this.held?.ip !== claim.ip || this.held.claimedAt !== claim.claimedAt) {
      this.c.log.info('virtual address claimed', { vip: formatIpv4(claim.ip), peer: shortAddress(this.c.self) });
      this.setHeld(claim);
      this.scheduleRenewal();
    }
  }

  private scheduleRenewal(): void {
    const held = this.held;
    this.later((this.leaseSeconds * 1000) / 3, () => {
      if (this.held === held) this.renew();
    });
  }

  /** Writes the same record again with a fresh lifetime (same writer and value: it replaces the old one). */
  private renew(): void {
    const held = this.held;
    if (held === undefined || !this.running) return;
    this.c.dht.create(this.key(held.ip), encodeOwnerRecord(held), this.leaseSeconds, (r) => {
      if (!this.running || this.held !== held) return;
      if (r.ok) {
        this.stats.renewals++;
        this.hold(held);
        this.scheduleRenewal();
        this.verify();
        return;
      }
      if (r.status === 'exists') {
        // Another node holds a live record too (our lease ran out while we were cut off, or a race).
        const rival = winningOwner(r.records, held.ip);
        if (rival === undefined || compareClaims(held, rival) < 0) {
          // Ours is the earlier claim: store it anyway; the rival sees it and gives way.
          this.c.dht.put(this.key(held.ip), encodeOwnerRecord(held), this.leaseSeconds, () => {});
          this.hold(held);
          this.scheduleRenewal();
        } else this.giveUp(held, rival);
        return;
      }
      this.stats.dhtFailures++;
      // Try again well before the lease ends.
      this.later(Math.min(this.backoff(), (this.leaseSeconds * 1000) / 6), () => this.renew());
    });
  }

  /** Reads the key's records: if another owner's claim wins over ours, ours is given up. */
  private verify(): void {
    const held = this.held;
    if (held === undefined || !this.running) return;
    this.c.dht.get(this.key(held.ip), (r) => {
      if (!this.running || this.held !== held || !r.ok) return;
      const winner = winningOwner(r.records, held.ip);
      if (winner !== undefined && winner.owner !== this.c.self && compareClaims(winner, held) < 0) this.giveUp(held, winner);
    });
  }

  private giveUp(held: OwnerRecord, winner: OwnerRecord): void {
    this.stats.yielded++;
    this.c.log.warn('another node claimed the same virtual address first; moving to another', {
      vip: formatIpv4(held.ip),
      peer: shortAddress(winner.owner),
    });
    this.c.dht.remove(this.key(held.ip), encodeOwnerRecord(held), () => {});
    this.rememberTaken(held.ip);
    this.c.leases.clear();
    this.setHeld(undefined);
    this.attempt({ ip: this.nextCandidate(), owner: this.c.self, claimedAt: this.c.clock.now() });
  }

  private setHeld(claim: OwnerRecord | undefined): void {
    const previous = this.held?.ip;
    this.held = claim;
    if (previous === claim?.ip) return;
    for (const h of this.handlers) h(claim?.ip, previous);
  }

  private key(ip: number): Uint8Array {
    return vipKey(this.init.networkIdHex, ip);
  }

  /** Member addresses: the subnet's hosts minus the services address. */
  private usable(ip: number): boolean {
    return isSubnetHost(this.init.subnet, ip) && ip !== this.init.subnet.servicesAddress;
  }

  private get memberCount(): number {
    const { network, broadcast } = this.init.subnet;
    return broadcast - network - 2;
  }

  /** A first guess spread by the node's address, so nodes rarely start on the same one. */
  private derivedCandidate(): number {
    return (this.init.subnet.servicesAddress + 1 + Number(this.c.self % BigInt(this.memberCount))) >>> 0;
  }

  /** A random member address not known to be taken (any, once all are). */
  private nextCandidate(): number {
    const base = this.init.subnet.servicesAddress + 1;
    for (let i = 0; i < 64; i++) {
      const ip = (base + this.c.random.int(this.memberCount)) >>> 0;
      if (!this.taken.has(ip)) return ip;
    }
    for (let k = 0; k < this.memberCount; k++) {
      const ip = (base + k) >>> 0;
      if (!this.taken.has(ip)) return ip;
    }
    this.taken.clear();
    return (base + this.c.random.int(this.memberCount)) >>> 0;
  }

  private rememberTaken(ip: number): void {
    this.taken.add(ip);
    if (this.taken.size > MAX_REMEMBERED_TAKEN) {
      const oldest = this.taken.values().next().value;
      if (oldest !== undefined) this.taken.delete(oldest);
    }
  }

  private backoff(): number {
    const wait = this.retryMs;
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    return wait;
  }

  private later(ms: number, fn: () => void): void {
    const t = this.c.clock.setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}

export function createAddressClaim(init: AddressClaimInit): (components: AddressClaimComponents) => AddressClaim {
  return (components) => new AddressClaim(init, components);
}
