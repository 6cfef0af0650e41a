import { type Address, shortAddress } from '../address.js';
import type { TimerHandle } from '../clock.js';
import { type Endpoint, isRelayEndpoint } from '../transport.js';
import { type LinkConfig, resolveConfig } from './config.js';
import { type LinkContext, emptyStats } from './context.js';
import { DataPath } from './data-path.js';
import { Initiator } from './initiator.js';
import { type Link, LinkTable, linkInfo } from './link-table.js';
import { OffloadCell, type OffloadHook, type OffloadedSession } from './offload.js';
import { canSendOn } from './session.js';
import { PEER_STOPPED_ANSWERING, rekeyAllowed, runMaintenance } from './maintenance.js';
import { PROTOCOL_VERSION, PacketType, decodePacket } from './packet-codec.js';
import { Responder } from './responder.js';
import type { ConnectOptions, LinkEvent, LinkInfo, LinkLayer, LinkLayerComponents, LinkLayerInit, LinkLiveness, LinkStats } from './types.js';

/** A quiet link layer (see LinkLayerImpl.tick) runs its maintenance this many times less often. */
const IDLE_TICK_FACTOR = 3;

/** How much state a link layer holds; every figure is bounded (tests and the simulator check it). */
export interface LinkStateSizes {
  links: number;
  sessions: number;
  pendingHandshakes: number;
  rateLimitedSources: number;
  rememberedPeers: number;
  queuedPayloads: number;
}

/** A {@link LinkLayer} that can also report the size of its state. */
export interface InspectableLinkLayer extends LinkLayer {
  stateSizes(): LinkStateSizes;
}

/**
 * The link layer: authenticated, encrypted sessions with peers over one datagram socket.
 * `createLinkLayer(init)(components)`: options first, injected clock/random/transport/identity/
 * admission/log second. Crypto must be ready (`await cryptoReady()`) before the first call.
 *
 * What the node can rely on:
 * - `up` once per link: on the initiator when the RESP is verified, on the responder when the
 *   INIT is accepted (if that RESP is lost for good, the responder's link goes `down` after
 *   `deadAfterMs`). `connect-failed` when the handshake is refused or unanswered.
 * - Simultaneous open (both sides connect at once): one session, one `up` per side; the
 *   handshake initiated by the lower address is kept.
 * - Rekeying has two tiers: key updates every `rekeyAfterMs` (a hash of the key, no packet;
 *   session.ts) and a full re-handshake every `handshakeRekeyAfterMs` (fresh ephemerals). Neither,
 *   nor roaming (the endpoint follows the newest authenticated packet), nor a peer restarting
 *   with the same identity causes a `down`/`up`.
 * - `down` once, with a reason: closed by either side, "peer stopped answering", "send queue
 *   overflow", or a re-handshake refused by admission.
 * - Events are emitted synchronously from `connect`, `send`, `close`, the socket handler or the
 *   tick; the handler may call back into the link layer.
 * - Nothing from the network throws: every bad datagram is dropped and counted in `stats`.
 * - `encryptPayloads: false` is INSECURE (see session.ts): simulator scale runs only.
 */
export function createLinkLayer(init: LinkLayerInit): (components: LinkLayerComponents) => InspectableLinkLayer {
  const config = resolveConfig(init);
  return (components) => new LinkLayerImpl(config, components);
}

class LinkLayerImpl implements InspectableLinkLayer {
  readonly stats: LinkStats = emptyStats();
  private readonly ctx: LinkContext;
  private readonly table = new LinkTable();
  private readonly initiator: Initiator;
  private readonly responder: Responder;
  private readonly data: DataPath;
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private handler: ((event: LinkEvent) => void) | null = null;
  private stopped = false;

  constructor(config: LinkConfig, private readonly components: LinkLayerComponents) {
    const { clock, random, transport, identity, admission } = components;
    const log = components.log.child('links');
    this.ctx = {
      config,
      clock,
      random,
      identity,
      admission,
      log,
      table: this.table,
      stats: this.stats,
      sendDatagram: (to, bytes) => {
        this.stats.packetsOut++;
        transport.send(to, bytes);
      },
      sendOpener: (to, bytes) => {
        if (transport.sendOpener === undefined || isRelayEndpoint(to)) return false;
        this.stats.packetsOut++;
        transport.sendOpener(to, bytes, config.openerTtl);
        return true;
      },
      emit: (event) => this.emit(event),
      newIndex: () => this.newIndex(),
      sendPing: (link) => this.data.sendPing(link),
      flushQueue: (link) => this.data.flushQueue(link),
      dropLink: (link, reason) => this.dropLink(link, reason),
    };
    this.initiator = new Initiator(this.ctx);
    this.responder = new Responder(this.ctx, this.initiator);
    this.data = new DataPath(this.ctx, (link, now) => {
      if (rekeyAllowed(link, now)) this.initiator.startRekey(link);
    });
    transport.onPacket((from, bytes) => this.receive(from, bytes));
    this.scheduleTick(config.tickMs);
  }

  connect(endpoint: Endpoint, expectedPeer?: Address, options?: ConnectOptions): void {
    if (this.stopped) return;
    this.initiator.connect(endpoint, expectedPeer ?? null, options ?? {});
    this.wake();
  }

  probePath(peer: Address, endpoint: Endpoint, options?: { opener?: boolean }): void {
    const link = this.table.links.get(peer);
    if (link === undefined || this.stopped) return;
    this.data.sendPingTo(link, endpoint, options?.opener === true);
  }

  redirect(peer: Address, endpoint: Endpoint): void {
    const link = this.table.links.get(peer);
    if (link === undefined || this.stopped || link.endpoint === endpoint) return;
    this.ctx.log.info('path changed', { peer: shortAddress(peer), endpoint });
    link.endpoint = endpoint;
    link.current.offloadChanged();
  }

  send(peer: Address, payload: Uint8Array): boolean {
    return !this.stopped && this.data.send(peer, payload);
  }

  close(peer: Address, reason: string): void {
    const link = this.table.links.get(peer);
    if (link !== undefined && !this.stopped) this.data.close(link, reason);
  }

  setLiveness(peer: Address, liveness: LinkLiveness | null): void {
    const link = this.table.links.get(peer);
    if (link === undefined) return;
    if (liveness !== null && !(liveness.keepaliveIdleMs > 0 && liveness.deadAfterMs > liveness.keepaliveIdleMs)) {
      throw new RangeError('liveness needs 0 < keepaliveIdleMs < deadAfterMs');
    }
    // A link that was quiet under the old profile gets a full deadline under the new one.
    link.liveness = liveness === null ? null : { ...liveness, since: this.components.clock.now() };
    link.nextCheckAt = 0;
    this.wake(liveness === null ? this.ctx.config.tickMs : Math.min(this.ctx.config.tickMs, liveness.keepaliveIdleMs / 2));
  }

  get(peer: Address): LinkInfo | undefined {
    const link = this.table.links.get(peer);
    return link === undefined || !link.confirmed ? undefined : linkInfo(link);
  }

  links(): Iterable<LinkInfo> {
    return Array.from(this.table.links.values()).filter((l) => l.confirmed).map(linkInfo);
  }

  offload(peer: Address, memory: Uint8Array, hook: OffloadHook): OffloadedSession | null {
    const link = this.table.links.get(peer);
    const { config } = this.ctx;
    if (link === undefined || this.stopped || !link.confirmed || !config.encryptPayloads || isRelayEndpoint(link.endpoint)) return null;
    const session = link.current;
    const now = this.components.clock.now();
    if (!canSendOn(session, now, config)) return null;
    const state = session.offload(memory, hook, link.endpoint, config);
    const received = new Float64Array(memory.buffer, memory.byteOffset, OffloadCell.LAST_RECEIVED_AT + 1)[OffloadCell.LAST_RECEIVED_AT] as number;
    if (received > link.lastReceivedAt) link.lastReceivedAt = Math.min(received, now);
    return state;
  }

  onEvent(handler: (event: LinkEvent) => void): void {
    this.handler = handler;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.initiator.clear();
    this.responder.clear();
    this.table.clear();
  }

  stateSizes(): LinkStateSizes {
    let queuedPayloads = 0;
    for (const link of this.table.links.values()) queuedPayloads += link.queue.length;
    return {
      links: this.table.links.size,
      sessions: this.table.sessions.size,
      pendingHandshakes: this.initiator.size,
      rateLimitedSources: this.responder.limiter.size,
      rememberedPeers: this.responder.lastTimestamps.size,
      queuedPayloads,
    };
  }

  /** The socket handler: decode, validate, act. Nothing thrown here reaches the transport. */
  private receive(from: Endpoint, bytes: Uint8Array): void {
    if (this.stopped) return;
    this.stats.packetsIn++;
    try {
      // DATA first, without building a decoded object: it is nearly every packet.
      if (bytes.length >= 2 && bytes[0] === PROTOCOL_VERSION && bytes[1] === PacketType.DATA) {
        this.data.onData(bytes, from);
        return;
      }
      const decoded = decodePacket(bytes);
      if (!decoded.ok) {
        this.stats.droppedMalformed++;
        return;
      }
      const packet = decoded.value;
      if (packet.type === PacketType.HANDSHAKE_INIT) this.responder.onInit(packet, bytes, from);
      else if (packet.type === PacketType.HANDSHAKE_RESP) this.initiator.onResp(packet, bytes, from);
      else this.data.onData(bytes, from);
    } catch (error) {
      this.stats.droppedMalformed++;
      this.ctx.log.error('packet handler failed', { endpoint: from, reason: String(error) });
    }
  }

  /**
   * The maintenance tick runs every tickMs while anything needs it soon (a handshake in flight,
   * queued payloads; a link on fast liveness: every half keepalive time), and every
   * IDLE_TICK_FACTOR × tickMs otherwise: a
   * quiet node wakes half as often, and keepalives and deadlines are late by at most one tick.
   */
  private tick(): void {
    this.timer = null;
    this.timerAt = Infinity;
    if (this.stopped) return;
    let soonest: number | null = this.ctx.config.tickMs;
    try {
      soonest = runMaintenance(this.ctx, { initiator: this.initiator, responder: this.responder, data: this.data }, this.components.clock.now());
    } catch (error) {
      this.ctx.log.error('link maintenance failed', { reason: String(error) });
    }
    if (!this.stopped) this.scheduleTick(soonest ?? this.ctx.config.tickMs * IDLE_TICK_FACTOR);
  }

  private scheduleTick(delayMs: number): void {
    this.timer?.cancel();
    this.timerAt = this.components.clock.now() + delayMs;
    this.timer = this.components.clock.setTimeout(() => this.tick(), delayMs);
  }

  /** Something needs the tick within `withinMs` (a new handshake, fast liveness). */
  private wake(withinMs = this.ctx.config.tickMs): void {
    if (!this.stopped && this.timerAt > this.components.clock.now() + withinMs) this.scheduleTick(withinMs);
  }

  private emit(event: LinkEvent): void {
    if (this.handler === null) return;
    try {
      this.handler(event);
    } catch (error) {
      this.ctx.log.error('link event handler failed', { reason: String(error) });
    }
  }

  private newIndex(): number {
    for (;;) {
      const index = this.components.random.int(0x1_0000_0000) >>> 0;
      if (!this.table.sessions.has(index) && !this.initiator.has(index)) return index;
    }
  }

  private dropLink(link: Link, reason: string | null): void {
    this.initiator.cancelRekey(link);
    this.table.remove(link);
    if (reason === null) return;
    this.ctx.log.info('link down', { peer: shortAddress(link.peer), reason });
    this.emit({ kind: 'down', peer: link.peer, reason, timedOut: reason === PEER_STOPPED_ANSWERING });
  }
}
