/**
 * A transport endpoint written as `ip:port` (IPv6 as `[addr]:port`). Strings keep endpoints
 * usable as map keys; {@link parseEndpoint} validates them at the boundaries.
 */
export type Endpoint = string;

/** One UDP-like socket. Real UDP and the simulator implement it; NATs live in the network, not here. */
export interface DatagramTransport {
  /** The endpoint this socket is bound to (as the local host sees it). */
  readonly localEndpoint: Endpoint;
  /** Fire and forget: datagrams may be lost, duplicated or reordered. Never throws for a bad peer. */
  send(to: Endpoint, bytes: Uint8Array): void;
  /** Sets the single receive handler. */
  onPacket(handler: (from: Endpoint, bytes: Uint8Array) => void): void;
  close(): void;
}

export interface ParsedEndpoint {
  host: string;
  port: number;
  family: 4 | 6;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Parses `ip:port` / `[ipv6]:port`; returns null when malformed. */
export function parseEndpoint(text: string): ParsedEndpoint | null {
  if (text.length > 64) return null;
  let host: string;
  let portText: string;
  let family: 4 | 6;
  if (text.startsWith('[')) {
    const close = text.indexOf(']:');
    if (close < 0) return null;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!/^[0-9a-fA-F:.]+$/.test(host) || !host.includes(':')) return null;
    family = 6;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return null;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (!IPV4.test(host)) return null;
    family = 4;
  }
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText);
  if (port < 1 || port > 65535) return null;
  return { host, port, family };
}

export function formatEndpoint(host: string, port: number): Endpoint {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
