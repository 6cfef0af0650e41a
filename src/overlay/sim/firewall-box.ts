/**
 * A stateful firewall for simulated hosts: no translation; every inbound UDP datagram is dropped
 * unless it answers a flow the host started, i.e. comes from exactly an ip:port the host sent to
 * from that local endpoint (`ct state established` and a drop policy). Flows time out as in Linux
 * conntrack: `unrepliedTimeoutMs` (30 s) while only the host has sent, `mappingTimeoutMs` (120 s)
 * once both sides have; each packet refreshes its flow. Made with `network.createFirewall(...)` and
 * installed as the host's {@link Middlebox}; one firewall may guard several hosts (a site firewall).
 *
 * Unlike a Linux NAT, a firewall cannot spoil a hole punch: an unsolicited probe that arrives first
 * is dropped, but the host's own later packet toward the prober is then the reply to that conntrack
 * entry, and the prober's next probe is let in. So unsolicited probes are simply dropped here.
 */
import type { Endpoint } from '../transport.js';
import {
  DEFAULT_MAPPING_TIMEOUT_MS,
  DEFAULT_MAX_ENTRIES,
  DEFAULT_UNREPLIED_TIMEOUT_MS,
  SWEEP_INTERVAL_MS,
} from './nat-config.js';
import type { Middlebox, SimHost, SimPacket } from './sim-host.js';

export interface FirewallOptions {
  /** Idle lifetime of a flow that saw traffic both ways. Default 120 s. */
  mappingTimeoutMs?: number;
  /** Idle lifetime of a flow only the host has sent on. Default 30 s. */
  unrepliedTimeoutMs?: number;
  /** Cap on tracked flows; new outbound flows are dropped while it is full. Default 16,384. */
  maxEntries?: number;
}

export interface FirewallStats {
  flows: number;
  /** Inbound datagrams let in as replies. */
  allowedIn: number;
  /** Datagrams dropped (unsolicited inbound, or outbound with a full table). */
  filtered: number;
  tableFull: number;
  restarts: number;
}

export interface SimFirewall extends Middlebox {
  /** Installs this firewall as the host's middlebox (replacing any other). */
  attach(host: SimHost): void;
  /** Removes it from the host, if it is the host's middlebox. */
  detach(host: SimHost): void;
  /** Forgets every flow (a reboot of the firewall). */
  restart(): void;
  stats(): FirewallStats;
}

interface FirewallFlow {
  lastSeen: number;
  replied: boolean;
}

export class FirewallBox implements SimFirewall {
  private readonly mappingTimeoutMs: number;
  private readonly unrepliedTimeoutMs: number;
  private readonly maxEntries: number;
  /** Key `${local}>${remote}`. */
  private readonly flows = new Map<string, FirewallFlow>();
  private nextSweepAt = -Infinity;
  private readonly s = { allowedIn: 0, filtered: 0, tableFull: 0, restarts: 0 };

  constructor(
    opts: FirewallOptions,
    private readonly now: () => number,
  ) {
    this.mappingTimeoutMs = opts.mappingTimeoutMs ?? DEFAULT_MAPPING_TIMEOUT_MS;
    this.unrepliedTimeoutMs = opts.unrepliedTimeoutMs ?? DEFAULT_UNREPLIED_TIMEOUT_MS;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    for (const [name, ms] of [
      ['mappingTimeoutMs', this.mappingTimeoutMs],
      ['unrepliedTimeoutMs', this.unrepliedTimeoutMs],
    ] as const) {
      if (!(ms > 0 && Number.isFinite(ms))) throw new RangeError(`${name} must be a positive number of ms`);
    }
    if (!(Number.isInteger(this.maxEntries) && this.maxEntries >= 1)) throw new RangeError('maxEntries must be a whole number ≥ 1');
  }

  outbound(packet: SimPacket, now: number): boolean {
    this.maybeSweep(now);
    const key = flowKey(packet.from, packet.to);
    const flow = this.flows.get(key);
    if (flow !== undefined && this.alive(flow, now)) {
      flow.lastSeen = now;
      return true;
    }
    if (flow === undefined && this.flows.size >= this.maxEntries) {
      this.sweep(now);
      if (this.flows.size >= this.maxEntries) {
        this.s.tableFull++;
        this.s.filtered++;
        return false;
      }
    }
    this.flows.set(key, { lastSeen: now, replied: false });
    return true;
  }

  inbound(packet: SimPacket, now: number): boolean {
    this.maybeSweep(now);
    const flow = this.flows.get(flowKey(packet.to, packet.from));
    if (flow === undefined || !this.alive(flow, now)) {
      this.s.filtered++;
      return false;
    }
    flow.replied = true;
    flow.lastSeen = now;
    this.s.allowedIn++;
    return true;
  }

  attach(host: SimHost): void {
    host.setMiddlebox(this);
  }

  detach(host: SimHost): void {
    if (host.middlebox === this) host.setMiddlebox(null);
  }

  restart(): void {
    this.flows.clear();
    this.s.restarts++;
  }

  stats(): FirewallStats {
    this.sweep(this.now());
    return { ...this.s, flows: this.flows.size };
  }

  private alive(flow: FirewallFlow, now: number): boolean {
    return flow.lastSeen + (flow.replied ? this.mappingTimeoutMs : this.unrepliedTimeoutMs) > now;
  }

  private maybeSweep(now: number): void {
    if (now >= this.nextSweepAt) this.sweep(now);
  }

  private sweep(now: number): void {
    this.nextSweepAt = now + SWEEP_INTERVAL_MS;
    for (const [key, flow] of this.flows) if (!this.alive(flow, now)) this.flows.delete(key);
  }
}

function flowKey(local: Endpoint, remote: Endpoint): string {
  return `${local}>${remote}`;
}
