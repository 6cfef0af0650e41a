/**
 * Fixtures for the NAT tests: a network without jitter, sites (a host on the open network, behind
 * a firewall or behind a NAT of some kind), a STUN-like server that tells a site the endpoint it
 * sees it at, and probers that answer every probe to its source (as a hole-punching node would).
 */
import assert from 'node:assert/strict';
import { EventQueue } from '../../src/overlay/sim/event-queue.js';
import { SIM_EPOCH_MS } from '../../src/overlay/sim/virtual-clock.js';
import { createLatencyModel } from '../../src/overlay/sim/latency-model.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import {
  SimNetwork,
  type NatPreset,
  type SimFirewall,
  type SimHost,
  type SimNat,
  type SimSocket,
} from '../../src/overlay/sim/sim-network.js';

export const SECOND = 1000;
export const PROBE = 1;
export const ACK = 2;
/** Plain data: recorded, not answered. */
export const DATA = 3;

export type SiteKind = 'public' | 'firewall' | NatPreset;

export function makeNet(seed: number | string): { queue: EventQueue; network: SimNetwork } {
  const queue = new EventQueue(SIM_EPOCH_MS);
  const network = new SimNetwork({
    queue,
    random: createSeededRandom(`${seed}:net`),
    latency: createLatencyModel(createSeededRandom(`${seed}:lat`), { jitter: 0 }),
  });
  return { queue, network };
}

/** Every test ends here: counters add up, nothing in flight, nothing bound, no events left. */
export function assertClean(network: SimNetwork, queue: EventQueue): void {
  const c = network.counters();
  assert.equal(c.sent, c.delivered + c.lost + c.droppedNoRoute + c.filtered + c.expired + c.inFlight);
  assert.equal(c.inFlight, 0);
  assert.equal(network.openSockets(), 0);
  assert.equal(queue.size, 0);
}

/** Advances virtual time by `ms`, running everything due. */
export function run(queue: EventQueue, ms: number): void {
  queue.runUntil(queue.now + ms);
}

/** A socket that records what it receives and answers probes to their source. */
export class Peer {
  readonly got: Array<{ from: string; kind: number }> = [];

  constructor(
    readonly socket: SimSocket,
    readonly nat: SimNat | null = null,
    readonly firewall: SimFirewall | null = null,
  ) {
    socket.onPacket((from, bytes) => {
      this.got.push({ from, kind: bytes[0]! });
      if (bytes[0] === PROBE) socket.send(from, new Uint8Array([ACK]));
    });
  }

  get host(): SimHost {
    return this.socket.host;
  }

  get endpoint(): string {
    return this.socket.localEndpoint;
  }

  /** Sources seen since the last `clear()`. */
  sources(): string[] {
    return [...new Set(this.got.map((g) => g.from))];
  }

  heardFrom(ip: string): boolean {
    return this.got.some((g) => g.from.startsWith(`${ip}:`));
  }

  clear(): void {
    this.got.length = 0;
  }

  send(to: string, kind = PROBE): void {
    this.socket.send(to, new Uint8Array([kind]));
  }

  opener(to: string): void {
    this.socket.sendOpener(to, new Uint8Array([PROBE]), 2);
  }

  /** Schedules `count` probes to `to`, one every `everyMs`, the first at `now + startInMs`. */
  probe(queue: EventQueue, to: string, count: number, everyMs: number, startInMs = 0): void {
    for (let i = 0; i < count; i++) queue.schedule(queue.now + startInMs + i * everyMs, () => this.send(to));
  }
}

/** A host on the open network, behind a firewall, or behind a NAT of the given preset. */
export function makeSite(network: SimNetwork, kind: SiteKind, port = 4000): Peer {
  if (kind === 'public') return new Peer(network.createHost().bind(port));
  if (kind === 'firewall') {
    const host = network.createHost();
    const firewall = network.createFirewall();
    firewall.attach(host);
    return new Peer(host.bind(port), null, firewall);
  }
  const nat = network.createNat(kind);
  return new Peer(network.createHost({ behind: nat }).bind(port), nat);
}

/** A public server that answers every datagram (like STUN), so a peer learns how it is seen. */
export class Server {
  readonly socket: SimSocket;
  private lastSource = '';

  constructor(network: SimNetwork) {
    this.socket = network.createHost().bind(3478);
    this.socket.onPacket((from) => {
      this.lastSource = from;
      this.socket.send(from, new Uint8Array([ACK]));
    });
  }

  get endpoint(): string {
    return this.socket.localEndpoint;
  }

  /** The endpoint the server sees `peer` at (one round trip; runs the queue for 2 s). */
  observe(queue: EventQueue, peer: Peer): string {
    const before = peer.got.length;
    this.lastSource = '';
    peer.send(this.endpoint, ACK);
    run(queue, 2 * SECOND);
    const replies = peer.got.splice(before);
    assert.ok(
      replies.some((g) => g.from === this.endpoint),
      `the server's reply reached ${peer.endpoint}`,
    );
    return this.lastSource;
  }

  close(): void {
    this.socket.close();
  }
}
