import type { Address } from '../address.js';
import type { Clock } from '../clock.js';
import type { Identity } from '../identity.js';
import type { LinkLayer } from '../links/types.js';
import type { Logger } from '../log.js';
import type { Random } from '../random.js';
import type { OverlayMessage, PeerRecord, RoutedBody, RouteModeValue } from '../wire/messages.js';
import type { ConnectionTable } from './connection-table.js';

/** Options for sending a routed message from this node. */
export interface RouteOptions {
  mode: RouteModeValue;
  excludeSource?: boolean;
  forwardTo?: Address | null;
  /** Force the first hop (ring probes enter the ring from the far side). */
  firstHop?: Address;
}

/**
 * What the node's parts (ring maintenance, shortcuts, DHT, broadcast) share. The connection table
 * is owned by the node; parts change it only through the methods they are given here.
 */
export interface NodeContext {
  readonly self: Address;
  readonly identity: Identity;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly table: ConnectionTable;
  readonly links: LinkLayer;
  readonly k: number;
  /** This node's own record (address + endpoints it can be reached at). */
  selfRecord(): PeerRecord;
  /** Record for a connected peer (its address and the endpoint we see it at). */
  peerRecord(address: Address): PeerRecord;
  sendDirect(peer: Address, message: OverlayMessage): boolean;
  route(destination: Address, body: RoutedBody, options: RouteOptions): void;
  /** Connect to a peer whose record we learned; no-op if already connected or pending. */
  /**
   * `via`: a node linked with the peer (the one that told us of it), through which requests reach
   * the peer while greedy routing cannot (a ring neighbour we are not linked with yet: no node of
   * ours is closer to it than we are).
   */
  connectTo(record: PeerRecord, reason: 'near' | 'shortcut' | 'reply' | 'bootstrap' | 'relay' | 'session', via?: Address): void;
  /**
   * Where replies to this node's requests should go while it has not joined the ring (a leaf
   * connection, which passes them on); null once joined.
   */
  returnVia(): Address | null;
  /** Routes a reply to a requester, through `via` when the requester has not joined yet. */
  sendReply(requester: Address, body: RoutedBody, via: Address | null): void;
  /** Whether this node itself saw peers fail recently (told to neighbours in status messages). */
  seesChurn(): boolean;
  /** A neighbour says it sees churn: watch our own links closely for a while too. */
  heardChurn(): void;
  /** Close a connection this node no longer needs. */
  disconnect(address: Address, reason: string): void;
}
