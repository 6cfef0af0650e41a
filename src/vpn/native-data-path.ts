import type { Address } from '../overlay/address.js';
import type { Clock, TimerHandle } from '../overlay/clock.js';
import { OFFLOAD_MEMORY_BYTES, OffloadCell, type OffloadHook } from '../overlay/links/offload.js';
import type { LinkLayer } from '../overlay/links/types.js';
import type { Logger } from '../overlay/log.js';
import type { UdpTransport } from '../overlay/real/udp-transport.js';
import { formatEndpoint, parseEndpoint } from '../overlay/transport.js';
import { formatIpv4, parseIpv4 } from './packets/addresses.js';
import type { FastPathStats, TapAddon, TapHandle } from './tap-addon.js';
import type { TapBridge } from './tap-bridge.js';

/** Slots of the native path (FP_SLOTS in fastpath.c): peers beyond this use the JavaScript path. */
const SLOTS = 64;
/** How often the installed sessions are refreshed (endpoint, limits, liveness, resolver answers). */
const SYNC_MS = 250;

interface Slot {
  readonly index: number;
  readonly memory: Uint8Array;
  readonly cells: Float64Array;
  readonly hook: OffloadHook;
  installed: boolean;
  lastOut: number;
}

export interface NativeDataPathParts {
  readonly addon: TapAddon;
  readonly tap: TapHandle;
  readonly transport: UdpTransport;
  readonly links: LinkLayer;
  readonly bridge: TapBridge;
  readonly gatewayMac: Uint8Array;
  readonly tunnelMtu: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * The VPN's bulk packets in C (native-helpers/tap/src/fastpath.c): for each peer the bridge has a
 * session with, the link's current session is shared with the native path (offload.ts), which
 * then reads frames from the TAP device, seals and sends them with sendmmsg, and reads DATA
 * packets with recvmmsg, opens them and writes them to the TAP device, without JavaScript. The
 * native path takes over reading the node's IPv4 UDP socket; what it does not handle (handshakes,
 * control messages, packets it refuses) comes back here and goes to the overlay as before.
 *
 * Everything that decides stays in JavaScript: which peer owns a virtual IP (the resolver's
 * answer is what gets installed, refreshed every SYNC_MS), the sessions, their key updates and
 * rekeys (the native path stops at each limit and the JS path does the update, after which the
 * new keys are installed), roaming (a packet from another endpoint comes here), keepalives.
 */
export class NativeDataPath {
  private readonly slots = new Map<Address, Slot>();
  private readonly free: number[] = [];
  private timer: TimerHandle | null = null;
  private syncQueued = false;
  private giveBack: (() => void) | null = null;
  private stopped = false;

  private constructor(private readonly p: NativeDataPathParts) {
    for (let i = SLOTS - 1; i >= 0; i--) this.free.push(i);
  }

  /** Starts it, or returns null (and logs why) when the addon has no native path or the socket cannot be lent. */
  static start(p: NativeDataPathParts): NativeDataPath | null {
    const { addon } = p;
    if (p.links.offload === undefined || addon.fpStart === undefined || addon.fpSetSlot === undefined) {
      p.log.info('native data path not available: the JavaScript path carries every packet');
      return null;
    }
    const lent = p.transport.lendIpv4Receive((set) => addon.fpPause?.(set));
    if (lent === null) {
      p.log.warn('native data path not started: the UDP socket cannot be read natively');
      return null;
    }
    const path = new NativeDataPath(p);
    try {
      addon.fpStart(p.tap, lent.fd, (data, lengths, addresses) => path.fromNative(data, lengths, addresses));
    } catch (error) {
      lent.giveBack();
      p.log.warn('native data path not started', { reason: (error as Error).message });
      return null;
    }
    path.giveBack = lent.giveBack;
    path.timer = p.clock.setInterval(() => path.sync(), SYNC_MS);
    path.sync();
    p.log.info('native data path on');
    return path;
  }

  stats(): FastPathStats | null {
    return this.p.addon.fpStats?.() ?? null;
  }

  /** Something changed (a session's keys, the bridge's address): refresh before the next packet batch. */
  requestSync(): void {
    if (this.syncQueued || this.stopped) return;
    this.syncQueued = true;
    queueMicrotask(() => {
      this.syncQueued = false;
      this.sync();
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    for (const peer of [...this.slots.keys()]) this.remove(peer);
    this.p.addon.fpStop?.();
    this.giveBack?.();
    this.giveBack = null;
  }

  /** Datagrams the native path did not consume: to the overlay, as if node:dgram had read them. */
  private fromNative(data: Buffer, lengths: Uint32Array, addresses: Uint32Array): void {
    let offset = 0;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i] as number;
      const from = formatEndpoint(formatIpv4(addresses[2 * i] as number), addresses[2 * i + 1] as number);
      try {
        this.p.transport.deliver(from, data.subarray(offset, offset + length));
      } catch (error) {
        // Never let an exception reach the addon (it would end the process): count it as the socket layer does.
        this.p.log.error('receive handler failed', { endpoint: from, reason: String(error) });
      }
      offset += length;
    }
  }

  private sync(): void {
    if (this.stopped) return;
    const { bridge, addon } = this.p;
    const vip = bridge.address;
    addon.fpConfigure?.(vip ?? 0, this.p.gatewayMac, bridge.hostMac, this.p.tunnelMtu);
    const wanted = new Map<Address, number>();
    if (vip !== undefined) {
      for (const peer of bridge.sessionPeers()) {
        const peerVip = bridge.resolver.vipOf(peer);
        // The resolver's current answer (lookup also refreshes it when stale): only then is the peer the owner.
        if (peerVip !== undefined && bridge.resolver.lookup(peerVip) === peer) wanted.set(peer, peerVip);
      }
    }
    for (const peer of [...this.slots.keys()]) if (!wanted.has(peer)) this.remove(peer);
    for (const [peer, peerVip] of wanted) this.install(peer, peerVip);
  }

  private install(peer: Address, peerVip: number): void {
    const { addon, links, bridge } = this.p;
    let slot = this.slots.get(peer);
    if (slot === undefined) {
      const index = this.free.pop();
      if (index === undefined) return;
      const memory = new Uint8Array(OFFLOAD_MEMORY_BYTES);
      slot = {
        index,
        memory,
        cells: new Float64Array(memory.buffer, 0, 8),
        hook: { changed: () => this.requestSync(), released: () => this.unload(peer) },
        installed: false,
        lastOut: 0,
      };
      this.slots.set(peer, slot);
    }
    const state = links.offload?.(peer, slot.memory, slot.hook) ?? null;
    const endpoint = state === null ? null : parseEndpoint(state.endpoint);
    const ip = endpoint === null || endpoint.family !== 4 ? undefined : parseIpv4(endpoint.host);
    if (state === null || endpoint === null || ip === undefined) {
      this.unload(peer);
      return;
    }
    addon.fpSetSlot?.(slot.index, state.localIndex, state.remoteIndex, ip, endpoint.port, peerVip, state.sendKey, state.sendEpoch, state.receiveKey, state.receiveEpoch, slot.memory);
    state.sendKey.fill(0);
    state.receiveKey.fill(0);
    slot.installed = true;
    const out = slot.cells[OffloadCell.PACKETS_OUT] as number;
    if (out !== slot.lastOut) {
      slot.lastOut = out;
      bridge.touchSession(peer);
    }
  }

  /** The session let go (or cannot be offloaded): the native path forgets its keys at once. */
  private unload(peer: Address): void {
    const slot = this.slots.get(peer);
    if (slot === undefined || !slot.installed) return;
    slot.installed = false;
    this.p.addon.fpClearSlot?.(slot.index);
    this.requestSync();
  }

  /** The session keeps its counter and replay window in the slot's memory until it is offloaded elsewhere or ends. */
  private remove(peer: Address): void {
    const slot = this.slots.get(peer);
    if (slot === undefined) return;
    if (slot.installed) this.p.addon.fpClearSlot?.(slot.index);
    this.slots.delete(peer);
    this.free.push(slot.index);
  }
}
