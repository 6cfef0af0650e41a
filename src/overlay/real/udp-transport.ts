import { type Socket, type SocketType, createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { type Logger, silentLogger } from '../log.js';
import { SendLane, defaultTtl } from './send-lane.js';
import { type DatagramTransport, type Endpoint, type ParsedEndpoint, formatEndpoint, parseEndpoint } from '../transport.js';

export interface UdpTransportOptions {
  /** UDP port to bind (0: any free port). The IPv6 socket, if any, takes the same port. */
  port: number;
  /** IPv4 address to bind (default 0.0.0.0: every interface). */
  host?: string;
  /** Also open an IPv6 socket (default true; skipped quietly when the host has no IPv6). */
  ipv6?: boolean;
  /**
   * Socket receive buffer (default 4 MiB: a burst of handshakes or a busy relay must not be lost
   * in the kernel while the event loop is busy; Linux caps it at net.core.rmem_max).
   */
  receiveBufferBytes?: number;
  log?: Logger;
}

/** Counters of the socket layer; never reset. */
export interface UdpTransportStats {
  datagramsIn: number;
  bytesIn: number;
  datagramsOut: number;
  bytesOut: number;
  /** The kernel refused or failed a send (unreachable network, no route, buffer full...). */
  sendErrors: number;
  /** Sends to an endpoint that does not parse, or of a family this transport has no socket for. */
  badEndpoints: number;
  /** The receive handler threw (it must not: the link layer catches everything). */
  handlerErrors: number;
  /** Errors the sockets reported outside of a send. */
  socketErrors: number;
  /** Low-TTL openers sent (counted in datagramsOut too). */
  openersOut: number;
  /** Sends dropped because too many were waiting behind an opener's TTL. */
  heldDropped: number;
}

export interface UdpTransport extends DatagramTransport {
  readonly port: number;
  readonly stats: UdpTransportStats;
  readonly hasIpv6: boolean;
  /**
   * Every endpoint this node can be reached at on its own interfaces (loopback excluded unless
   * bound to it), as of the last {@link refreshLocalEndpoints} (or the opening of the socket).
   */
  localEndpoints(): Endpoint[];
  /**
   * Reads the host's interface addresses again (a few system calls: call it every few seconds,
   * not per packet). Returns true when the endpoints changed.
   */
  refreshLocalEndpoints(): boolean;
  /**
   * Sends one datagram with IP TTL (IPv6: hop limit) `ttl`, from the same socket and port as every
   * other send; the socket's default TTL applies again to the next datagram.
   */
  sendOpener(to: Endpoint, bytes: Uint8Array, ttl: number): void;
  /** Kernel receive buffer actually granted, in bytes (IPv4 socket). */
  receiveBufferBytes(): number;
  /** Closes once the sends already handed to the kernel are out (at most `maxWaitMs`). */
  closeGracefully(maxWaitMs?: number): Promise<void>;
  /**
   * Hands the reading of the IPv4 socket to a native data path (the VPN's, native-helpers/tap):
   * node:dgram stops reading it, and the native path reads the descriptor returned here and passes
   * every datagram it does not consume to {@link deliver}. `onTtl` hears when an opener's TTL is set
   * on the socket and when it is restored (the native path must not send meanwhile). Null when the
   * descriptor cannot be had; `giveBack` restores node:dgram's reading.
   */
  lendIpv4Receive(onTtl: (set: boolean) => void): { fd: number; giveBack: () => void } | null;
  /** A datagram read by whoever reads the socket on this transport's behalf. */
  deliver(from: Endpoint, bytes: Uint8Array): void;
}

/** node:dgram's internal handle (its `fd` and recvStart/recvStop), reached without the deprecated `_handle` getter. */
interface UdpHandle {
  fd?: number;
  recvStart?: () => number;
  recvStop?: () => number;
}

function udpHandle(socket: Socket): UdpHandle | null {
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  if (state === undefined) return null;
  const handle = (socket as unknown as Record<symbol, { handle?: UdpHandle } | undefined>)[state]?.handle;
  return handle ?? null;
}

const DEFAULT_RECEIVE_BUFFER = 4 * 1024 * 1024;
/** Parsed endpoints kept; a peer set larger than this only costs re-parsing. */
const ENDPOINT_CACHE_SIZE = 4096;

/** Opens the node's UDP socket(s). Rejects with a plain-words error when the port cannot be bound. */
export async function openUdpTransport(options: UdpTransportOptions): Promise<UdpTransport> {
  const log = options.log ?? silentLogger;
  const host = options.host ?? '0.0.0.0';
  const bufferBytes = options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER;
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new RangeError(`UDP port must be a whole number from 0 to 65535, got ${options.port}`);
  }
  const v4 = await bindSocket('udp4', host, options.port, bufferBytes);
  const port = v4.address().port;
  let v6: Socket | null = null;
  if (options.ipv6 !== false && host === '0.0.0.0') {
    try {
      v6 = await bindSocket('udp6', '::', port, bufferBytes);
    } catch (error) {
      log.debug('no IPv6 socket', { reason: (error as Error).message });
    }
  }
  return new UdpTransportImpl(v4, v6, host, port, log);
}

function bindSocket(type: SocketType, host: string, port: number, bufferBytes: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type, ipv6Only: type === 'udp6', recvBufferSize: bufferBytes, sendBufferSize: bufferBytes });
    const onError = (error: NodeJS.ErrnoException): void => {
      socket.close();
      reject(new Error(bindErrorText(error, type, host, port), { cause: error }));
    };
    socket.once('error', onError);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function bindErrorText(error: NodeJS.ErrnoException, type: SocketType, host: string, port: number): string {
  const where = `${type === 'udp6' ? 'IPv6' : 'IPv4'} address ${host}, UDP port ${port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return `UDP port ${port} is already in use (${where}): another ringvpn node or program holds it. Choose another --port or stop the other program.`;
    case 'EADDRNOTAVAIL':
      return `Cannot listen on ${where}: this machine has no such address.`;
    case 'EACCES':
      return `Not allowed to listen on ${where}: ports below 1024 need root.`;
    default:
      return `Cannot listen on ${where}: ${error.message}`;
  }
}

class UdpTransportImpl implements UdpTransport {
  readonly stats: UdpTransportStats = {
    datagramsIn: 0,
    bytesIn: 0,
    datagramsOut: 0,
    bytesOut: 0,
    sendErrors: 0,
    badEndpoints: 0,
    handlerErrors: 0,
    socketErrors: 0,
    openersOut: 0,
    heldDropped: 0,
  };
  private handler: ((from: Endpoint, bytes: Uint8Array) => void) | null = null;
  private readonly parsed = new Map<Endpoint, ParsedEndpoint | null>();
  private readonly lane4: SendLane;
  private readonly lane6: SendLane | null;
  private local: Endpoint[] = [];
  private onTtl: ((set: boolean) => void) | null = null;
  private closed = false;
  private flushed: (() => void) | null = null;

  constructor(
    private readonly v4: Socket,
    private readonly v6: Socket | null,
    private readonly host: string,
    readonly port: number,
    private readonly log: Logger,
  ) {
    const counters = {
      sent: (error: Error | null | undefined, length: number, opener: boolean) => this.sent(error, length, opener),
      dropped: () => {
        this.stats.heldDropped++;
      },
      ttl: (set: boolean) => this.onTtl?.(set),
    };
    this.lane4 = new SendLane(v4, defaultTtl(4), counters);
    this.lane6 = v6 === null ? null : new SendLane(v6, defaultTtl(6), counters);
    for (const socket of [v4, v6]) {
      if (socket === null) continue;
      socket.on('message', (msg, rinfo) => this.receive(formatEndpoint(rinfo.address, rinfo.port), msg));
      socket.on('error', (error) => {
        this.stats.socketErrors++;
        this.log.warn('socket error', { reason: error.message });
      });
    }
    this.refreshLocalEndpoints();
  }

  /** The first local endpoint (what the node calls its own endpoint before peers report others). */
  get localEndpoint(): Endpoint {
    return this.local[0] ?? formatEndpoint('127.0.0.1', this.port);
  }

  get hasIpv6(): boolean {
    return this.v6 !== null;
  }

  localEndpoints(): Endpoint[] {
    return [...this.local];
  }

  refreshLocalEndpoints(): boolean {
    const next = this.readLocalEndpoints();
    const changed = next.length !== this.local.length || next.some((e, i) => e !== this.local[i]);
    this.local = next;
    return changed;
  }

  private readLocalEndpoints(): Endpoint[] {
    if (this.host !== '0.0.0.0') return [formatEndpoint(this.host, this.port)];
    const v4: Endpoint[] = [];
    const v6: Endpoint[] = [];
    for (const addresses of Object.values(networkInterfaces())) {
      for (const a of addresses ?? []) {
        if (a.internal) continue;
        if (a.family === 'IPv4') v4.push(formatEndpoint(a.address, this.port));
        else if (this.v6 !== null && !a.address.toLowerCase().startsWith('fe80')) v6.push(formatEndpoint(a.address, this.port));
      }
    }
    return [...v4, ...v6];
  }

  receiveBufferBytes(): number {
    try {
      return this.v4.getRecvBufferSize();
    } catch {
      return 0;
    }
  }

  send(to: Endpoint, bytes: Uint8Array): void {
    if (this.closed) return;
    const target = this.parse(to);
    const lane = target === null ? null : target.family === 4 ? this.lane4 : this.lane6;
    if (target === null || lane === null) {
      this.stats.badEndpoints++;
      return;
    }
    lane.send(bytes, target.port, target.host);
  }

  sendOpener(to: Endpoint, bytes: Uint8Array, ttl: number): void {
    if (this.closed) return;
    const target = this.parse(to);
    const lane = target === null ? null : target.family === 4 ? this.lane4 : this.lane6;
    if (target === null || lane === null || !Number.isInteger(ttl) || ttl < 1 || ttl > 255) {
      this.stats.badEndpoints++;
      return;
    }
    lane.sendWithTtl(bytes, target.port, target.host, ttl);
  }

  lendIpv4Receive(onTtl: (set: boolean) => void): { fd: number; giveBack: () => void } | null {
    const handle = udpHandle(this.v4);
    if (this.closed || handle === null || typeof handle.fd !== 'number' || handle.fd < 0 || handle.recvStop === undefined || handle.recvStart === undefined) return null;
    if (handle.recvStop() !== 0) return null;
    this.onTtl = onTtl;
    return {
      fd: handle.fd,
      giveBack: () => {
        this.onTtl = null;
        if (!this.closed) handle.recvStart?.();
      },
    };
  }

  deliver(from: Endpoint, bytes: Uint8Array): void {
    if (!this.closed) this.receive(from, bytes);
  }

  onPacket(handler: (from: Endpoint, bytes: Uint8Array) => void): void {
    this.handler = handler;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = null;
    this.lane4.clear();
    this.lane6?.clear();
    for (const socket of [this.v4, this.v6]) {
      try {
        socket?.close();
      } catch {
        // already closed
      }
    }
    this.flushed?.();
  }

  closeGracefully(maxWaitMs = 200): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.flushed = null;
        this.close();
        resolve();
      };
      const timer = setTimeout(done, maxWaitMs);
      if (this.pending() === 0) done();
      else this.flushed = done;
    });
  }

  private pending(): number {
    return this.lane4.pending + (this.lane6?.pending ?? 0);
  }

  private sent(error: Error | null | undefined, length: number, opener: boolean): void {
    if (error) this.stats.sendErrors++;
    else {
      this.stats.datagramsOut++;
      this.stats.bytesOut += length;
      if (opener) this.stats.openersOut++;
    }
    if (this.flushed !== null && !this.closed && this.pending() === 0) this.flushed();
  }

  private receive(from: Endpoint, bytes: Uint8Array): void {
    this.stats.datagramsIn++;
    this.stats.bytesIn += bytes.length;
    const handler = this.handler;
    if (handler === null) return;
    try {
      handler(from, bytes);
    } catch (error) {
      this.stats.handlerErrors++;
      this.log.error('receive handler failed', { endpoint: from, reason: String(error) });
    }
  }

  private parse(to: Endpoint): ParsedEndpoint | null {
    let p = this.parsed.get(to);
    if (p === undefined) {
      p = parseEndpoint(to);
      if (this.parsed.size >= ENDPOINT_CACHE_SIZE) this.parsed.clear();
      this.parsed.set(to, p);
    }
    return p;
  }
}
