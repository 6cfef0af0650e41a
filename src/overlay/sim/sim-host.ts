/**
 * Hosts and sockets of the simulated network (see sim-network.ts for the packet path). A host has
 * a virtual IPv4 address, UDP-like sockets, optionally a {@link Middlebox} of its own (a firewall,
 * a fault injector) and optionally a NAT it sits behind (its LAN).
 */
import type { Endpoint, DatagramTransport } from '../transport.js';
import type { Coordinates } from './latency-model.js';
import type { Nat, SimNat } from './sim-nat.js';

/** Port used by `bind()` without an argument. */
export const DEFAULT_PORT = 4000;
/** `bind(0)` picks the lowest free port from here (the IANA dynamic range). */
export const EPHEMERAL_PORT_MIN = 49152;
/** Largest IP TTL `sendOpener` accepts (the IPv4 field is one byte). */
const MAX_TTL = 255;

/** A packet as middleboxes see it. */
export interface SimPacket {
  /** Source endpoint; a NAT rewrites it on the way out. */
  from: Endpoint;
  /** Destination endpoint; a NAT rewrites it on the way in. */
  to: Endpoint;
  readonly bytes: Uint8Array;
}

/** A box between one host and the network (firewall, fault injector). NATs are routers of the network instead (sim-nat.ts). */
export interface Middlebox {
  /** A packet leaving the host. May rewrite `packet.from`; false drops it (counted as `filtered`). */
  outbound(packet: SimPacket, now: number): boolean;
  /** A packet arriving for the host. May rewrite `packet.to`; false drops it (counted as `filtered`). */
  inbound(packet: SimPacket, now: number): boolean;
}

export interface SocketStats {
  /** Datagrams handed to the network, openers included. */
  sent: number;
  received: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface SimSocket extends DatagramTransport {
  readonly stats: Readonly<SocketStats>;
  readonly host: SimHost;
  readonly port: number;
  readonly closed: boolean;
  /**
   * Sends a datagram that passes this host's own firewall and NAT (creating their state, as any
   * outbound packet does) and then dies in the network (counted as `expired`): the simulator does
   * not count hops, so any `ttl` (an integer in 1..255) stops before the far side's NAT. Toward a
   * host on the same LAN (behind the same NAT) no router is crossed, and it is delivered normally.
   */
  sendOpener(to: Endpoint, bytes: Uint8Array, ttl: number): void;
}

export interface SimHost {
  /** Virtual IPv4 address inside 10.0.0.0/8, unique in its network. */
  readonly ip: string;
  readonly coordinates: Coordinates;
  readonly alive: boolean;
  /** The NAT this host sits behind (null: it is on the open network). Changed by `nat.attach/detach`. */
  readonly nat: SimNat | null;
  /** The host's own middlebox (firewall, fault injector), or null. */
  readonly middlebox: Middlebox | null;
  /** Binds a socket on `port` (default 4000; 0 picks a free ephemeral port). One socket per port. */
  bind(port?: number): SimSocket;
  /** Crash without warning: from now on the host sends and receives nothing; its sockets are closed. */
  kill(): void;
  /** Brings a killed host back with the same address and no sockets (a reboot). */
  revive(): void;
  /** Sockets currently bound (for "no sockets left" checks). */
  openSockets(): number;
  /** Puts a middlebox between this host and the network (null removes it). */
  setMiddlebox(box: Middlebox | null): void;
}

export type SimNetworkErrorCode = 'EADDRINUSE' | 'EHOSTDOWN' | 'EINVAL' | 'EADDRNOTAVAIL';

export class SimNetworkError extends Error {
  override readonly name = 'SimNetworkError';
  constructor(
    readonly code: SimNetworkErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** What a host needs from its network (implemented by SimNetwork). */
export interface HostNetwork {
  _transmit(socket: Socket, to: Endpoint, bytes: Uint8Array, opener: boolean): void;
  _register(socket: Socket): void;
  _unregister(socket: Socket): void;
}

type Handler = (from: Endpoint, bytes: Uint8Array) => void;

/** @internal */
export class Socket implements SimSocket {
  readonly localEndpoint: Endpoint;
  readonly stats: SocketStats = { sent: 0, received: 0, bytesSent: 0, bytesReceived: 0 };
  handler: Handler | null = null;
  closed = false;

  constructor(
    readonly host: Host,
    readonly port: number,
  ) {
    this.localEndpoint = `${host.ip}:${port}`;
  }

  send(to: Endpoint, bytes: Uint8Array): void {
    if (this.closed) return;
    this.host.network._transmit(this, to, bytes, false);
  }

  sendOpener(to: Endpoint, bytes: Uint8Array, ttl: number): void {
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) {
      throw new RangeError(`an opener's TTL must be a whole number from 1 to ${MAX_TTL}, got ${ttl}`);
    }
    if (this.closed) return;
    this.host.network._transmit(this, to, bytes, true);
  }

  onPacket(handler: Handler): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    this.host._unbind(this);
  }
}

/** @internal */
export class Host implements SimHost {
  readonly sockets = new Map<number, Socket>();
  middlebox: Middlebox | null = null;
  nat: Nat | null = null;
  alive = true;

  constructor(
    readonly network: HostNetwork,
    readonly ip: string,
    readonly coordinates: Coordinates,
  ) {}

  bind(port: number = DEFAULT_PORT): SimSocket {
    if (!this.alive) throw new SimNetworkError('EHOSTDOWN', `host ${this.ip} is down`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SimNetworkError('EINVAL', `bad port ${port}`);
    if (port === 0) {
      port = EPHEMERAL_PORT_MIN;
      while (this.sockets.has(port)) if (++port > 65535) throw new SimNetworkError('EADDRNOTAVAIL', 'no free port');
    } else if (this.sockets.has(port)) {
      throw new SimNetworkError('EADDRINUSE', `${this.ip}:${port} is already bound`);
    }
    const socket = new Socket(this, port);
    this.sockets.set(port, socket);
    this.network._register(socket);
    return socket;
  }

  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    for (const socket of [...this.sockets.values()]) socket.close();
  }

  revive(): void {
    this.alive = true;
  }

  openSockets(): number {
    return this.sockets.size;
  }

  setMiddlebox(box: Middlebox | null): void {
    this.middlebox = box;
  }

  _unbind(socket: Socket): void {
    this.sockets.delete(socket.port);
    this.network._unregister(socket);
  }
}
