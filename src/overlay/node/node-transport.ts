import { type Address, addressFromHex, addressToHex } from '../address.js';
import { type DatagramTransport, type Endpoint, parseRelayEndpoint, relayEndpoint } from '../transport.js';

/**
 * The transport the node gives its link layer: the real socket, plus relay endpoints
 * (`relay:<relay>:<peer>`). A datagram for a relay endpoint is handed to `sendViaRelay` (which wraps
 * it in a relay-send over the link with the relay); datagrams a relay delivers come back in
 * through {@link inject} as if they had arrived from that relay endpoint. The link layer above
 * cannot tell the difference, which is what lets one session move between direct and relayed paths.
 */
export class NodeTransport implements DatagramTransport {
  private handler: ((from: Endpoint, bytes: Uint8Array) => void) | null = null;
  readonly sendOpener?: (to: Endpoint, bytes: Uint8Array, ttl: number) => void;

  constructor(
    private readonly socket: DatagramTransport,
    private readonly sendViaRelay: (relay: Address, to: Address, bytes: Uint8Array) => void,
  ) {
    const opener = socket.sendOpener;
    if (opener !== undefined) this.sendOpener = (to, bytes, ttl) => opener.call(socket, to, bytes, ttl);
    socket.onPacket((from, bytes) => this.handler?.(from, bytes));
  }

  get localEndpoint(): Endpoint {
    return this.socket.localEndpoint;
  }

  send(to: Endpoint, bytes: Uint8Array): void {
    if (to.startsWith('relay:')) {
      const r = parseRelayEndpoint(to);
      const relay = r === null ? null : addressFromHex(r.relayHex);
      const peer = r === null ? null : addressFromHex(r.peerHex);
      if (relay !== null && peer !== null) this.sendViaRelay(relay, peer, bytes);
      return;
    }
    this.socket.send(to, bytes);
  }

  onPacket(handler: (from: Endpoint, bytes: Uint8Array) => void): void {
    this.handler = handler;
  }

  /** A relay delivered `bytes` that `from` sent through it. */
  inject(relay: Address, from: Address, bytes: Uint8Array): void {
    this.handler?.(relayEndpoint(addressToHex(relay), addressToHex(from)), bytes);
  }

  close(): void {
    this.socket.close();
  }
}

/** The relay of a relay endpoint, or null for a direct one. */
export function relayOf(endpoint: Endpoint): Address | null {
  if (!endpoint.startsWith('relay:')) return null;
  const r = parseRelayEndpoint(endpoint);
  return r === null ? null : addressFromHex(r.relayHex);
}

export function relayPath(relay: Address, peer: Address): Endpoint {
  return relayEndpoint(addressToHex(relay), addressToHex(peer));
}
