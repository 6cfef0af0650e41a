import { readFileSync } from 'node:fs';
import type { Socket } from 'node:dgram';

/** Sends held while an opener's TTL is set; beyond this they are dropped (and counted). */
export const MAX_HELD_SENDS = 4096;
/** Linux's default unicast TTL / hop limit, when the sysctl cannot be read. */
const FALLBACK_TTL = 64;

interface HeldSend {
  bytes: Uint8Array;
  port: number;
  host: string;
  /** The TTL this datagram must leave with; null: the socket's default. */
  ttl: number | null;
}

export interface SendLaneCounters {
  /** Called once per finished send (error or not), with the datagram's length. */
  sent(error: Error | null | undefined, length: number, opener: boolean): void;
  /** A send was dropped because too many were held behind an opener. */
  dropped(): void;
  /** An opener's TTL was set on the socket (true), or the default TTL restored (false). */
  ttl?(set: boolean): void;
}

/**
 * The sends of one UDP socket, with openers: datagrams that must leave with a small IP TTL from
 * the same socket (same source port, so that they open this host's NAT mapping for the port the
 * peer will use). node:dgram has no per-datagram TTL, so an opener sets the socket's TTL, sends,
 * and restores the default once the kernel has taken the datagram (the send callback). The TTL
 * only applies to datagrams the kernel takes while it is set, so:
 * - an opener waits until every earlier send on the socket has completed (a send whose callback
 *   has not run may still be queued in libuv, and would otherwise leave with the small TTL);
 * - every send issued after it is held, in order, until its TTL is restored.
 * Openers are rare (the first probes toward a NATed peer), so holding costs nothing in practice.
 */
export class SendLane {
  private inFlight = 0;
  /** An opener's TTL is set on the socket now. */
  private ttlSet = false;
  private readonly held: HeldSend[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly defaultTtl: number,
    private readonly counters: SendLaneCounters,
  ) {}

  get pending(): number {
    return this.inFlight + this.held.length;
  }

  send(bytes: Uint8Array, port: number, host: string): void {
    if (this.ttlSet || this.held.length > 0) this.hold({ bytes, port, host, ttl: null });
    else this.transmit(bytes, port, host, false);
  }

  sendWithTtl(bytes: Uint8Array, port: number, host: string, ttl: number): void {
    if (this.ttlSet || this.held.length > 0 || this.inFlight > 0) this.hold({ bytes, port, host, ttl });
    else this.transmitOpener(bytes, port, host, ttl);
  }

  /** Drops what is held (the socket is closing). */
  clear(): void {
    this.held.length = 0;
  }

  private hold(s: HeldSend): void {
    if (this.held.length >= MAX_HELD_SENDS) {
      this.counters.dropped();
      return;
    }
    // The caller may reuse its buffer once send returns: keep a copy.
    this.held.push({ ...s, bytes: Uint8Array.from(s.bytes) });
  }

  private transmit(bytes: Uint8Array, port: number, host: string, opener: boolean): void {
    this.inFlight++;
    try {
      this.socket.send(bytes, port, host, (error) => this.completed(error, bytes.length, opener));
    } catch (error) {
      this.completed(error as Error, bytes.length, opener);
    }
  }

  private transmitOpener(bytes: Uint8Array, port: number, host: string, ttl: number): void {
    try {
      this.socket.setTTL(ttl);
    } catch (error) {
      // Never send it with the full TTL instead: it would reach the far NAT and spoil it.
      this.counters.sent(error as Error, bytes.length, true);
      this.drain();
      return;
    }
    this.ttlSet = true;
    this.counters.ttl?.(true);
    this.transmit(bytes, port, host, true);
  }

  private completed(error: Error | null | undefined, length: number, opener: boolean): void {
    this.inFlight--;
    if (opener) {
      this.ttlSet = false;
      try {
        this.socket.setTTL(this.defaultTtl);
      } catch {
        // the socket is closed
      }
      this.counters.ttl?.(false);
    }
    this.counters.sent(error, length, opener);
    if (this.inFlight === 0 || opener) this.drain();
  }

  /** Sends what was held, in order, until an opener has to wait again. */
  private drain(): void {
    while (this.held.length > 0 && !this.ttlSet) {
      const next = this.held[0] as HeldSend;
      if (next.ttl !== null && this.inFlight > 0) return;
      this.held.shift();
      if (next.ttl === null) this.transmit(next.bytes, next.port, next.host, false);
      else this.transmitOpener(next.bytes, next.port, next.host, next.ttl);
    }
  }
}

/** The kernel's default unicast TTL (IPv4) or hop limit (IPv6) of this network namespace. */
export function defaultTtl(family: 4 | 6): number {
  const path = family === 4 ? '/proc/sys/net/ipv4/ip_default_ttl' : '/proc/sys/net/ipv6/conf/default/hop_limit';
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) && n >= 1 && n <= 255 ? n : FALLBACK_TTL;
  } catch {
    return FALLBACK_TTL;
  }
}
