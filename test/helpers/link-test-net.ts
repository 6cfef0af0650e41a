import type { AdmissionCheck } from '../../src/overlay/admission.js';
import { openAdmission } from '../../src/overlay/admission.js';
import type { Address } from '../../src/overlay/address.js';
import type { Clock, TimerHandle } from '../../src/overlay/clock.js';
import { identityFromSeed, type Identity } from '../../src/overlay/identity.js';
import { type InspectableLinkLayer, createLinkLayer } from '../../src/overlay/links/link-layer.js';
import type { LinkEvent, LinkLayerInit } from '../../src/overlay/links/types.js';
import type { LogFields, Logger } from '../../src/overlay/log.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import type { DatagramTransport, Endpoint } from '../../src/overlay/transport.js';

/**
 * A small deterministic world for link-layer tests: a manual virtual clock (timer heap,
 * `advance(ms)`), an in-memory datagram network with a fixed delay and fault hooks, and a
 * fixture that builds a link layer on it. No real time, no sockets.
 */

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  period: number | null;
  cancelled: boolean;
}

/** A Clock whose time only moves when the test calls {@link VirtualClock.advance}. */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly heap: Timer[] = [];
  private live = 0;

  constructor(startMs = Date.UTC(2025, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, delayMs: number): TimerHandle {
    return this.schedule(fn, Math.max(0, delayMs), null);
  }

  setInterval(fn: () => void, periodMs: number): TimerHandle {
    return this.schedule(fn, Math.max(1, periodMs), Math.max(1, periodMs));
  }

  /** Timers not yet fired or cancelled (intervals count once). */
  get activeTimers(): number {
    return this.live;
  }

  /** Moves time forward by `ms`, firing every timer due on the way, in time order. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.at > target) break;
      this.pop();
      if (top.cancelled) continue;
      this.current = top.at;
      if (top.period !== null) {
        top.at += top.period;
        top.seq = this.seq++;
        this.push(top);
      } else {
        top.cancelled = true;
        this.live--;
      }
      top.fn();
    }
    this.current = target;
  }

  private schedule(fn: () => void, delay: number, period: number | null): TimerHandle {
    const timer: Timer = { at: this.current + delay, seq: this.seq++, fn, period, cancelled: false };
    this.push(timer);
    this.live++;
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        this.live--;
      },
    };
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i] as Timer, h[parent] as Timer)) break;
      [h[i], h[parent]] = [h[parent] as Timer, h[i] as Timer];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l] as Timer, h[m] as Timer)) m = l;
      if (r < h.length && this.less(h[r] as Timer, h[m] as Timer)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m] as Timer, h[i] as Timer];
      i = m;
    }
  }
}

export interface InFlight {
  from: Endpoint;
  to: Endpoint;
  bytes: Uint8Array;
}

/**
 * Decides the fate of one datagram: return undefined to deliver it unchanged, [] to drop it,
 * [a, b] to deliver two (duplicate), or modified bytes (tamper).
 */
export type FaultHook = (packet: InFlight) => Uint8Array[] | undefined;

/** An in-memory datagram network: fixed one-way delay, optional faults, endpoints that can move. */
export class TestNet {
  fault: FaultHook | null = null;
  delivered = 0;
  dropped = 0;
  private readonly bound = new Map<Endpoint, TestTransport>();

  constructor(
    readonly clock: VirtualClock,
    readonly delayMs = 5,
  ) {}

  transport(endpoint: Endpoint): TestTransport {
    if (this.bound.has(endpoint)) throw new Error(`${endpoint} is already bound`);
    const t = new TestTransport(this, endpoint);
    this.bound.set(endpoint, t);
    return t;
  }

  /** The host behind `from` now appears at `to` (a NAT rebinding or a laptop changing networks). */
  move(from: Endpoint, to: Endpoint): void {
    const t = this.bound.get(from);
    if (t === undefined) throw new Error(`${from} is not bound`);
    this.bound.delete(from);
    this.bound.set(to, t);
    t.rebind(to);
  }

  /** Hands a datagram to the socket at `to` at once, as if it came from `from` (no delay, no faults). */
  inject(to: Endpoint, from: Endpoint, bytes: Uint8Array): void {
    this.bound.get(to)?.deliver(from, bytes);
  }

  send(from: Endpoint, to: Endpoint, bytes: Uint8Array): void {
    const copy = Uint8Array.from(bytes);
    const fates = this.fault === null ? undefined : this.fault({ from, to, bytes: copy });
    const out = fates ?? [copy];
    if (out.length === 0) this.dropped++;
    for (const b of out) {
      this.clock.setTimeout(() => {
        const target = this.bound.get(to);
        if (target === undefined) {
          this.dropped++;
          return;
        }
        this.delivered++;
        target.deliver(from, b);
      }, this.delayMs);
    }
  }

  unbind(t: TestTransport): void {
    if (this.bound.get(t.localEndpoint) === t) this.bound.delete(t.localEndpoint);
  }
}

export class TestTransport implements DatagramTransport {
  private handler: ((from: Endpoint, bytes: Uint8Array) => void) | null = null;
  sent = 0;

  constructor(
    private readonly net: TestNet,
    private endpoint: Endpoint,
  ) {}

  get localEndpoint(): Endpoint {
    return this.endpoint;
  }

  send(to: Endpoint, bytes: Uint8Array): void {
    this.sent++;
    this.net.send(this.endpoint, to, bytes);
  }

  onPacket(handler: (from: Endpoint, bytes: Uint8Array) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.net.unbind(this);
    this.handler = null;
  }

  rebind(endpoint: Endpoint): void {
    this.endpoint = endpoint;
  }

  deliver(from: Endpoint, bytes: Uint8Array): void {
    this.handler?.(from, bytes);
  }
}

/** A logger that keeps warnings and errors, so tests can assert that none happened. */
export function recordingLogger(): Logger & { problems: string[] } {
  const problems: string[] = [];
  const keep = (level: string) => (message: string, fields?: LogFields) => {
    problems.push(`${level}: ${message} ${JSON.stringify(fields ?? {})}`);
  };
  const logger: Logger & { problems: string[] } = {
    problems,
    debug: () => {},
    info: () => {},
    warn: keep('warn'),
    error: keep('error'),
    child: () => logger,
  };
  return logger;
}

export const TEST_NETWORK_ID = new Uint8Array(16).fill(0x42);

export interface LinkNode {
  readonly name: string;
  readonly identity: Identity;
  readonly address: Address;
  readonly endpoint: Endpoint;
  readonly layer: InspectableLinkLayer;
  readonly transport: TestTransport;
  readonly events: LinkEvent[];
  readonly log: Logger & { problems: string[] };
  /** Events of one kind, in order. */
  eventsOf<K extends LinkEvent['kind']>(kind: K): Extract<LinkEvent, { kind: K }>[];
  /** Payloads received from `peer`, decoded as UTF-8. */
  messagesFrom(peer: Address): string[];
}

export interface LinkNodeOptions {
  name: string;
  endpoint: Endpoint;
  init?: Partial<LinkLayerInit>;
  admission?: AdmissionCheck;
  /** Seed of the node's identity (defaults to the name). */
  seed?: string;
}

/** Builds a link layer on the test network (crypto must be ready: `await cryptoReady()`). */
export function makeLinkNode(net: TestNet, o: LinkNodeOptions): LinkNode {
  const random = createSeededRandom(`node:${o.seed ?? o.name}`);
  const identity = identityFromSeed(createSeededRandom(`identity:${o.seed ?? o.name}`).bytes(32));
  const transport = net.transport(o.endpoint);
  const log = recordingLogger();
  const layer = createLinkLayer({ networkId: TEST_NETWORK_ID, ...o.init })({
    clock: net.clock,
    random,
    transport,
    identity,
    admission: o.admission ?? openAdmission,
    log,
  });
  const events: LinkEvent[] = [];
  layer.onEvent((e) => events.push(e));
  const decoder = new TextDecoder();
  return {
    name: o.name,
    identity,
    address: identity.address,
    endpoint: o.endpoint,
    layer,
    transport,
    events,
    log,
    eventsOf: <K extends LinkEvent['kind']>(kind: K) =>
      events.filter((e): e is Extract<LinkEvent, { kind: K }> => e.kind === kind),
    messagesFrom: (peer) =>
      events.flatMap((e) => (e.kind === 'message' && e.peer === peer ? [decoder.decode(e.payload)] : [])),
  };
}

/** Two nodes on a fresh network; `a` has the lower address (so tie-breaks are predictable). */
export function makePair(
  options: { delayMs?: number; init?: Partial<LinkLayerInit>; initA?: Partial<LinkLayerInit>; initB?: Partial<LinkLayerInit> } = {},
): { clock: VirtualClock; net: TestNet; a: LinkNode; b: LinkNode } {
  const clock = new VirtualClock();
  const net = new TestNet(clock, options.delayMs ?? 5);
  let a = makeLinkNode(net, { name: 'a', endpoint: '10.0.0.1:4000', init: { ...options.init, ...options.initA } });
  let b = makeLinkNode(net, { name: 'b', endpoint: '10.0.0.2:4000', init: { ...options.init, ...options.initB } });
  if (a.address > b.address) {
    // Rebuild with the seeds swapped, keeping names and endpoints.
    a.layer.stop();
    b.layer.stop();
    a.transport.close();
    b.transport.close();
    a = makeLinkNode(net, { name: 'a', seed: 'b', endpoint: '10.0.0.1:4000', init: { ...options.init, ...options.initA } });
    b = makeLinkNode(net, { name: 'b', seed: 'a', endpoint: '10.0.0.2:4000', init: { ...options.init, ...options.initB } });
  }
  return { clock, net, a, b };
}

/** Connects `a` to `b`, lets the handshake finish, and checks both sides are up. */
export function linkUp(clock: VirtualClock, a: LinkNode, b: LinkNode): void {
  a.layer.connect(b.endpoint, b.address);
  // The responder reports the link once the initiator's first packet confirms it: 2 one-way trips after the INIT.
  for (let waited = 0; waited < 2_000 && (a.layer.get(b.address) === undefined || b.layer.get(a.address) === undefined); waited += 10) {
    clock.advance(10);
  }
  if (a.layer.get(b.address) === undefined || b.layer.get(a.address) === undefined) {
    throw new Error(`link ${a.name}–${b.name} did not come up: ${JSON.stringify(a.events.map((e) => e.kind))}`);
  }
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
