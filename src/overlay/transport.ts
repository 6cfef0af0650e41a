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
  /**
   * Optional: sends with a small IP TTL (hop limit), so that the datagram opens this host's own NAT
   * mapping toward `to` and dies in the network before it reaches the far side's NAT. Used for the
   * first hole-punching probe toward a peer behind a NAT (see DESIGN.md, "Linux NATs and the first
   * probe"). Transports without it simply do not send openers.
   */
  sendOpener?(to: Endpoint, bytes: Uint8Array, ttl: number): void;
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

const RELAY_ENDPOINT = /^relay:([0-9a-f]{40}):([0-9a-f]{40})$/;

/**
 * A path through a relay, written `relay:<relay address>:<peer address>` (40 hex digits each):
 * the node wraps datagrams for such an endpoint into a relay-send to the relay, which passes them
 * to the peer. The link layer treats it as one more endpoint (handshakes, keepalives, roaming).
 */
export function relayEndpoint(relayHex: string, peerHex: string): Endpoint {
  return `relay:${relayHex}:${peerHex}`;
}

/** The relay and peer (hex) of a relay endpoint; null for anything else. */
export function parseRelayEndpoint(text: string): { relayHex: string; peerHex: string } | null {
  const m = RELAY_ENDPOINT.exec(text);
  return m === null ? null : { relayHex: m[1] as string, peerHex: m[2] as string };
}

export function isRelayEndpoint(text: string): boolean {
  return text.startsWith('relay:') && RELAY_ENDPOINT.test(text);
}

export function formatEndpoint(host: string, port: number): Endpoint {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
