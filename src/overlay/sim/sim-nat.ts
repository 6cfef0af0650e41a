/**
 * A NAT router in the simulated network: a public address (from 198.18.0.0/15, the network's
 * "public" range), a LAN of hosts behind it, and the translation table in nat-box.ts, which
 * documents the kinds. Made with `network.createNat(...)`.
 */
import type { Endpoint } from '../transport.js';
import type { Coordinates } from './latency-model.js';
import type { NatBox } from './nat-box.js';
import type { NatConfig, NatKind, NatStats } from './nat-config.js';
import { SimNetworkError, type Host, type SimHost } from './sim-host.js';

export interface SimNat {
  /** The NAT's public address: packets to `publicIp:port` are routed to it. */
  readonly publicIp: string;
  readonly kind: NatKind;
  readonly config: Readonly<NatConfig>;
  /** Where the router sits in the latency plane; hosts made with `createHost({ behind })` share it. */
  readonly coordinates: Coordinates;
  /**
   * Puts a host of this network behind this NAT (moving it from another NAT if it was behind one).
   * From then on its packets to anything outside the LAN leave translated, and from outside it is
   * reachable only through this NAT's mappings. LAN hosts reach each other by private address.
   */
  attach(host: SimHost): void;
  /** Takes the host out of the LAN onto the open network (its mappings here just expire). */
  detach(host: SimHost): void;
  /** Hosts behind this NAT now. */
  hosts(): SimHost[];
  /**
   * A router reboot: every mapping and conntrack entry is forgotten and ports are handed out anew
   * (a preserved port becomes another port). `newPublicIp` also gives it a new public address
   * (packets still on their way to the old one are dropped as unroutable).
   */
  restart(opts?: { newPublicIp?: boolean }): void;
  stats(): NatStats;
  /** The public endpoint `privateEndpoint`'s packets to `remote` leave from now, if that flow exists. */
  publicEndpointFor(privateEndpoint: Endpoint, remote: Endpoint): Endpoint | undefined;
}

/** What a NAT needs from its network (implemented by SimNetwork). */
export interface NatNetwork {
  readonly now: number;
  /** The network's own host object; throws for a host of another network. */
  _ownHost(host: SimHost): Host;
  /** Moves the NAT to a fresh public address and returns it. */
  _renumberNat(nat: Nat): string;
}

/** @internal */
export class Nat implements SimNat {
  private readonly lan = new Set<Host>();

  constructor(
    private readonly network: NatNetwork,
    readonly box: NatBox,
    readonly coordinates: Coordinates,
  ) {}

  get publicIp(): string {
    return this.box.publicIp;
  }

  get kind(): NatKind {
    return this.box.config.kind;
  }

  get config(): Readonly<NatConfig> {
    return this.box.config;
  }

  attach(host: SimHost): void {
    const own = this.network._ownHost(host);
    if (own.nat === this) return;
    if (own.nat !== null) own.nat.detach(own);
    own.nat = this;
    this.lan.add(own);
  }

  detach(host: SimHost): void {
    const own = this.network._ownHost(host);
    if (own.nat !== this) throw new SimNetworkError('EINVAL', `host ${host.ip} is not behind the NAT at ${this.publicIp}`);
    own.nat = null;
    this.lan.delete(own);
  }

  hosts(): SimHost[] {
    return [...this.lan];
  }

  restart(opts: { newPublicIp?: boolean } = {}): void {
    this.box.restart();
    if (opts.newPublicIp === true) this.box.publicIp = this.network._renumberNat(this);
  }

  stats(): NatStats {
    return this.box.stats(this.network.now);
  }

  publicEndpointFor(privateEndpoint: Endpoint, remote: Endpoint): Endpoint | undefined {
    return this.box.publicEndpointFor(privateEndpoint, remote, this.network.now);
  }
}
