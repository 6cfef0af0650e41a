/**
 * The translation table of one simulated NAT: which public port a private endpoint's packets leave
 * from, and which inbound packets get back in. The network (sim-network.ts) routes packets for
 * the NAT's public address here; {@link SimNat} (sim-nat.ts) is the face tests and experiments use.
 *
 * Kinds (mapping and filtering as RFC 4787 names them):
 *
 *   kind                | mapping: public port of one private endpoint | inbound accepted from
 *   --------------------|-----------------------------------------------|--------------------------------------
 *   full-cone           | endpoint-independent: one port for every      | anyone, while the mapping lives
 *                       | destination; the private port if free         |
 *   address-restricted  | endpoint-independent (as above)               | any port of an IP the host sent to
 *   port-restricted     | endpoint-independent (as above)               | exactly an ip:port the host sent to
 *   symmetric           | endpoint-dependent: a new random port per     | only the destination of that mapping
 *                       | destination ip:port                           |
 *
 * Presets (`network.createNat(preset)`): the four kinds as above, plus `linux` = port-restricted with
 * `linuxConntrack` (a Linux router doing nftables masquerade: most home routers) and
 * `linux-symmetric` = symmetric with `linuxConntrack` (masquerade `random-fully`). A firewall without
 * translation is firewall-box.ts.
 *
 * State is kept per flow (private endpoint, remote endpoint), as Linux conntrack does: a flow lives
 * `unrepliedTimeoutMs` (default 30 s) after its last packet while only one direction was seen, and
 * `mappingTimeoutMs` (default 120 s) once both were; a mapping (public port) lives while any of its
 * flows does. Outbound packets refresh their flow, and so do accepted inbound ones. Filtering
 * permissions are per flow too, so a permission for one remote expires on its own.
 *
 * `linuxConntrack` (DESIGN.md, "Linux NATs and the first probe"): an inbound packet from X to public
 * port P that is dropped leaves an "unreplied" entry (X → P) for `unrepliedTimeoutMs`, refreshed by
 * every further such packet. While it lives, a new flow from the host toward X cannot use P (the
 * reply tuple would clash), so it gets a random port for that destination only: X's probes to P
 * keep being dropped, and the host's probes reach X from a port X does not expect. This is how one
 * side's probe arriving before the far host has sent spoils a hole punch.
 *
 * Simplifications: a public port belongs to one private endpoint at a time (no port overloading
 * between LAN hosts); random ports are drawn from 1024–65535; hairpinning (a LAN host sending to its own
 * NAT's public address) is not supported: such packets are dropped and counted as `hairpinDropped`.
 * Expiry is lazy (checked at lookup, plus a sweep at most every {@link SWEEP_INTERVAL_MS}), so a NAT
 * schedules no events; the table is capped at `maxEntries` flows plus unreplied entries.
 */
import type { Endpoint } from '../transport.js';
import type { Random } from '../random.js';
import type { SimPacket } from './sim-host.js';
import { SWEEP_INTERVAL_MS, type NatConfig, type NatStats } from './nat-config.js';

const PORT_MIN = 1024;
const PORT_SPAN = 65536 - PORT_MIN;
/** Random draws before falling back to a scan for a free port. */
const RANDOM_PORT_TRIES = 32;

/** The public port shared by a private endpoint's flows (endpoint-independent kinds). */
interface Binding {
  readonly privateEndpoint: Endpoint;
  /** 0 for symmetric NATs, whose flows each own a port. */
  readonly port: number;
  readonly flows: Map<Endpoint, Flow>;
  /** Latest expiry among its flows (flow expiries only grow). */
  expiresAt: number;
}

interface Flow {
  readonly binding: Binding;
  readonly remote: Endpoint;
  readonly remoteIp: string;
  readonly port: number;
  readonly publicEndpoint: Endpoint;
  /** True when `port` belongs to this flow alone (symmetric, or a tuple clash). */
  readonly ownPort: boolean;
  lastSeen: number;
  /** The host has sent to `remote`: only then do restricted kinds let `remote` in. */
  sent: boolean;
  received: boolean;
}

type PortOwner = Binding | Flow;

const isFlow = (owner: PortOwner): owner is Flow => 'remote' in owner;

export class NatBox {
  private readonly bindings = new Map<Endpoint, Binding>();
  private readonly ports = new Map<number, PortOwner>();
  /** Key `${remote}>${publicPort}` → time of the last packet. */
  private readonly unreplied = new Map<string, number>();
  private flowCount = 0;
  private nextSweepAt = -Infinity;
  /** Added to preserved ports after a restart, so that a rebooted NAT hands out new ports. */
  private portShift = 0;
  private readonly s: NatStats = {
    mappings: 0,
    flows: 0,
    unreplied: 0,
    mappingsCreated: 0,
    translatedOut: 0,
    translatedIn: 0,
    filtered: 0,
    hairpinDropped: 0,
    tupleClashes: 0,
    tableFull: 0,
    restarts: 0,
  };

  constructor(
    readonly config: NatConfig,
    private readonly random: Random,
    public publicIp: string,
  ) {}

  /** A packet from the LAN leaving for the outside: picks (or makes) its flow, rewrites `from`. */
  outbound(packet: SimPacket, now: number): boolean {
    this.maybeSweep(now);
    let binding = this.bindings.get(packet.from);
    if (binding !== undefined && binding.expiresAt <= now) {
      this.dropBinding(binding);
      binding = undefined;
    }
    let flow = binding?.flows.get(packet.to);
    if (flow !== undefined && this.expiry(flow) <= now) {
      this.dropFlow(flow);
      if (binding!.flows.size === 0) binding = undefined;
      flow = undefined;
    }
    if (flow === undefined) {
      const opened = this.openFlow(packet.from, binding, packet.to, now);
      if (opened === null) {
        this.s.tableFull++;
        this.s.filtered++;
        return false;
      }
      flow = opened;
    }
    flow.sent = true;
    this.touch(flow, now);
    packet.from = flow.publicEndpoint;
    this.s.translatedOut++;
    return true;
  }

  /** A packet for the public address: filters, then rewrites `to` to the private endpoint. */
  inbound(packet: SimPacket, now: number): boolean {
    this.maybeSweep(now);
    const from = packet.from;
    const port = portOf(packet.to);
    if (hasIp(from, this.publicIp)) {
      this.s.hairpinDropped++;
      this.s.filtered++;
      return false;
    }
    const owner = this.liveOwner(port, now);
    let flow: Flow | undefined;
    let binding: Binding | undefined;
    if (owner !== undefined) {
      if (isFlow(owner)) {
        if (owner.remote === from) flow = owner;
      } else if (this.admits(owner, from, port, now)) {
        binding = owner;
        flow = owner.flows.get(from);
      }
    }
    if (flow === undefined && binding === undefined) {
      this.noteUnreplied(from, port, now);
      this.s.filtered++;
      return false;
    }
    if (flow === undefined) {
      // Let in by a cone's filter without a flow of its own: track one, so that inbound traffic
      // keeps the mapping alive. With a full table it is still let in, just not tracked.
      if (this.hasRoom(now)) flow = this.addFlow(binding!, from, binding!.port, false, now);
    }
    if (flow !== undefined) {
      flow.received = true;
      this.touch(flow, now);
      binding = flow.binding;
    }
    packet.to = binding!.privateEndpoint;
    this.s.translatedIn++;
    return true;
  }

  /** The public endpoint a packet from `privateEndpoint` to `remote` would leave from now, if its flow exists. */
  publicEndpointFor(privateEndpoint: Endpoint, remote: Endpoint, now: number): Endpoint | undefined {
    const flow = this.bindings.get(privateEndpoint)?.flows.get(remote);
    return flow !== undefined && this.expiry(flow) > now ? flow.publicEndpoint : undefined;
  }

  /** A reboot: every mapping and conntrack entry is forgotten, and ports are handed out anew. */
  restart(): void {
    this.bindings.clear();
    this.ports.clear();
    this.unreplied.clear();
    this.flowCount = 0;
    this.portShift = 1 + this.random.int(PORT_SPAN - 1);
    this.s.restarts++;
  }

  stats(now: number): NatStats {
    this.sweep(now);
    return { ...this.s, mappings: this.ports.size, flows: this.flowCount, unreplied: this.unreplied.size };
  }

  // --- filtering ---

  /** Whether the binding's filter lets a packet from `from` to public port `port` in. */
  private admits(binding: Binding, from: Endpoint, port: number, now: number): boolean {
    let exact = binding.flows.get(from);
    if (exact !== undefined && this.expiry(exact) <= now) {
      this.dropFlow(exact);
      exact = undefined;
      if (binding.flows.size === 0) return false;
    }
    switch (this.config.kind) {
      case 'full-cone':
        return true;
      case 'address-restricted': {
        if (exact?.sent === true) return true;
        const ip = ipOf(from);
        for (const f of binding.flows.values()) if (f.sent && f.remoteIp === ip && this.expiry(f) > now) return true;
        return false;
      }
      default:
        return exact !== undefined && exact.sent && exact.port === port;
    }
  }

  private noteUnreplied(from: Endpoint, port: number, now: number): void {
    if (!this.config.linuxConntrack) return;
    const key = `${from}>${port}`;
    if (!this.unreplied.has(key) && !this.hasRoom(now)) {
      // Linux's early drop: a full table sacrifices the oldest unreplied entry.
      const oldest = this.unreplied.keys().next();
      if (oldest.done === true) return;
      this.unreplied.delete(oldest.value);
    }
    this.unreplied.set(key, now);
  }

  /** An unreplied entry (remote → port) is alive: a flow toward `remote` cannot leave from `port`. */
  private clashes(remote: Endpoint, port: number, now: number): boolean {
    if (!this.config.linuxConntrack) return false;
    const key = `${remote}>${port}`;
    const at = this.unreplied.get(key);
    if (at === undefined) return false;
    if (at + this.config.unrepliedTimeoutMs > now) return true;
    this.unreplied.delete(key);
    return false;
  }

  // --- table ---

  private openFlow(privateEndpoint: Endpoint, binding: Binding | undefined, remote: Endpoint, now: number): Flow | null {
    if (!this.hasRoom(now)) return null;
    const symmetric = this.config.kind === 'symmetric';
    if (binding === undefined) {
      const port = symmetric ? 0 : this.bindingPort(privateEndpoint, now);
      if (port < 0) return null;
      binding = { privateEndpoint, port, flows: new Map(), expiresAt: now };
      this.bindings.set(privateEndpoint, binding);
      if (port !== 0) {
        this.ports.set(port, binding);
        this.s.mappingsCreated++;
      }
    }
    if (!symmetric && !this.clashes(remote, binding.port, now)) return this.addFlow(binding, remote, binding.port, false, now);
    const port = this.randomPort(remote, now);
    if (port < 0) {
      if (binding.flows.size === 0) this.dropBinding(binding);
      return null;
    }
    if (!symmetric) this.s.tupleClashes++;
    this.s.mappingsCreated++;
    return this.addFlow(binding, remote, port, true, now);
  }

  private addFlow(binding: Binding, remote: Endpoint, port: number, ownPort: boolean, now: number): Flow {
    const flow: Flow = {
      binding,
      remote,
      remoteIp: ipOf(remote),
      port,
      publicEndpoint: `${this.publicIp}:${port}`,
      ownPort,
      lastSeen: now,
      sent: false,
      received: false,
    };
    binding.flows.set(remote, flow);
    if (ownPort) this.ports.set(port, flow);
    this.flowCount++;
    return flow;
  }

  private touch(flow: Flow, now: number): void {
    flow.lastSeen = now;
    const at = this.expiry(flow);
    if (at > flow.binding.expiresAt) flow.binding.expiresAt = at;
  }

  private expiry(flow: Flow): number {
    const c = this.config;
    return flow.lastSeen + (flow.sent && flow.received ? c.mappingTimeoutMs : c.unrepliedTimeoutMs);
  }

  /** The port's owner if it is still alive; an expired one is removed on the way. */
  private liveOwner(port: number, now: number): PortOwner | undefined {
    const owner = this.ports.get(port);
    if (owner === undefined) return undefined;
    if (isFlow(owner) ? this.expiry(owner) > now : owner.expiresAt > now) return owner;
    if (isFlow(owner)) this.dropFlow(owner);
    else this.dropBinding(owner);
    return undefined;
  }

  private bindingPort(privateEndpoint: Endpoint, now: number): number {
    if (this.config.portPreservation) {
      const privatePort = portOf(privateEndpoint);
      const preferred = 1 + ((privatePort - 1 + this.portShift) % 65535);
      if (this.liveOwner(preferred, now) === undefined) return preferred;
    }
    return this.randomPort(null, now);
  }

  /** A free port, at random (avoiding clashes toward `remote`); -1 when none is left. */
  private randomPort(remote: Endpoint | null, now: number): number {
    const usable = (p: number): boolean => this.liveOwner(p, now) === undefined && (remote === null || !this.clashes(remote, p, now));
    for (let i = 0; i < RANDOM_PORT_TRIES; i++) {
      const port = PORT_MIN + this.random.int(PORT_SPAN);
      if (usable(port)) return port;
    }
    const start = this.random.int(PORT_SPAN);
    for (let i = 0; i < PORT_SPAN; i++) {
      const port = PORT_MIN + ((start + i) % PORT_SPAN);
      if (usable(port)) return port;
    }
    return -1;
  }

  private hasRoom(now: number): boolean {
    if (this.flowCount + this.unreplied.size < this.config.maxEntries) return true;
    this.sweep(now);
    return this.flowCount + this.unreplied.size < this.config.maxEntries;
  }

  private dropFlow(flow: Flow): void {
    const binding = flow.binding;
    if (binding.flows.get(flow.remote) !== flow) return;
    binding.flows.delete(flow.remote);
    this.flowCount--;
    if (flow.ownPort && this.ports.get(flow.port) === flow) this.ports.delete(flow.port);
    if (binding.flows.size === 0) this.dropBinding(binding);
  }

  private dropBinding(binding: Binding): void {
    for (const flow of binding.flows.values()) {
      if (flow.ownPort && this.ports.get(flow.port) === flow) this.ports.delete(flow.port);
    }
    this.flowCount -= binding.flows.size;
    binding.flows.clear();
    if (this.bindings.get(binding.privateEndpoint) === binding) this.bindings.delete(binding.privateEndpoint);
    if (binding.port !== 0 && this.ports.get(binding.port) === binding) this.ports.delete(binding.port);
  }

  private maybeSweep(now: number): void {
    if (now >= this.nextSweepAt) this.sweep(now);
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const binding of this.bindings.values()) {
      if (binding.expiresAt <= now) {
        this.dropBinding(binding);
        continue;
      }
      for (const flow of binding.flows.values()) if (this.expiry(flow) <= now) this.dropFlow(flow);
    }
    const limit = this.config.unrepliedTimeoutMs;
    for (const [key, at] of this.unreplied) if (at + limit <= now) this.unreplied.delete(key);
  }
}

/** The address part of `ip:port` (IPv4 only in the simulator). */
export function ipOf(endpoint: Endpoint): string {
  const colon = endpoint.lastIndexOf(':');
  return colon < 0 ? endpoint : endpoint.slice(0, colon);
}

/** `ipOf(endpoint) === ip`, without making a string. */
export function hasIp(endpoint: Endpoint, ip: string): boolean {
  return endpoint.length > ip.length && endpoint.charCodeAt(ip.length) === 58 /* ':' */ && endpoint.startsWith(ip);
}

function portOf(endpoint: Endpoint): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}
