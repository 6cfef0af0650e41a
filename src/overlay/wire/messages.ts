import type { Address } from '../address.js';
import type { Endpoint } from '../transport.js';

/**
 * Overlay messages: what travels inside an established, encrypted link session.
 * The link layer (../links) owns the outer packet; these are its payloads.
 * Byte layouts are drawn in codec.ts next to the encoders.
 */
export const OVERLAY_WIRE_VERSION = 1;

/** Largest encoded overlay message the decoder accepts. */
export const MAX_MESSAGE_BYTES = 65_000;
export const MAX_ENDPOINTS_PER_PEER = 4;
/** Neighbour lists carry at most this many peers per side. */
export const MAX_NEIGHBOURS_PER_SIDE = 8;
export const MAX_DHT_KEY_BYTES = 64;
export const MAX_DHT_VALUE_BYTES = 1024;
export const MAX_DHT_RECORDS_PER_MESSAGE = 16;
export const MAX_APP_DATA_BYTES = 60_000;

/** Message type byte (first byte after the version byte). */
export const MessageType = {
  STATUS: 0x10,
  ROUTED: 0x11,
  DHT_REPLICATE: 0x12,
  BROADCAST: 0x13,
  LEAVE: 0x14,
  ENDPOINT_REPORT: 0x15,
  RELAY_SEND: 0x16,
  RELAY_DELIVER: 0x17,
  DATAGRAM: 0x18,
} as const;

/** Largest link datagram a relay carries (a padded handshake INIT is 1,200 bytes; data packets up to the path MTU). */
export const MAX_RELAY_PAYLOAD_BYTES = 2048;
/** Neighbours listed in a path-request or path-reply, at most. */
export const MAX_PATH_NEIGHBOURS = 32;

/** Body type byte of a routed message. */
export const RoutedBodyType = {
  CONNECT_REQUEST: 0x01,
  CONNECT_REPLY: 0x02,
  PING: 0x03,
  PONG: 0x04,
  DHT_REQUEST: 0x05,
  DHT_RESPONSE: 0x06,
  CRAWL_REQUEST: 0x07,
  CRAWL_REPLY: 0x08,
  APP: 0x09,
  PATH_REQUEST: 0x0a,
  PATH_REPLY: 0x0b,
} as const;

/**
 * What a node knows of the NAT in front of it, carried in its PeerRecord so that a peer knows how
 * to punch toward it. NONE: reachable at its own address (or not known yet). ENDPOINT_INDEPENDENT:
 * behind a NAT that keeps one public port per local socket (most home routers, Linux masquerade):
 * its first endpoint is that public mapping. ENDPOINT_DEPENDENT: a new public port per destination
 * (symmetric): nobody can predict its port, so direct links to it need the far side to be open.
 */
export const NatKind = { NONE: 0, ENDPOINT_INDEPENDENT: 1, ENDPOINT_DEPENDENT: 2 } as const;
export type NatKindValue = (typeof NatKind)[keyof typeof NatKind];

/** How a routed message is delivered. */
export const RouteMode = {
  /** Only to the node with exactly this address; dropped if it is not there. */
  EXACT: 0,
  /** To the node closest to the destination (either direction): DHT keys, joins. */
  CLOSEST: 1,
  /** To the node at or counter-clockwise-before the destination (its predecessor). */
  PREDECESSOR: 2,
  /** To the node at or clockwise-after the destination (its successor). */
  SUCCESSOR: 3,
} as const;
export type RouteModeValue = (typeof RouteMode)[keyof typeof RouteMode];

export const ConnectPurpose = { JOIN: 0, NEAR: 1, SHORTCUT: 2 } as const;
export type ConnectPurposeValue = (typeof ConnectPurpose)[keyof typeof ConnectPurpose];

export const DhtOp = { GET: 0, PUT: 1, CREATE: 2, REMOVE: 3 } as const;
export type DhtOpValue = (typeof DhtOp)[keyof typeof DhtOp];

export const DhtStatus = { OK: 0, NOT_FOUND: 1, EXISTS: 2, REJECTED: 3, OVERLOADED: 4 } as const;
export type DhtStatusValue = (typeof DhtStatus)[keyof typeof DhtStatus];

/** Flags of a DHT record. */
export const DhtRecordFlag = { TOMBSTONE: 0x01 } as const;

export interface PeerRecord {
  address: Address;
  /** 0..MAX_ENDPOINTS_PER_PEER endpoints, IPv4 or IPv6, best first (a NAT's public mapping before local addresses). */
  endpoints: Endpoint[];
  /** The NAT in front of the peer, as far as it knows (absent: NONE). */
  nat?: NatKindValue;
}

/** One of a node's connections, as told to a peer choosing a relay. */
export interface NeighbourInfo {
  address: Address;
  /** How long the connection has been up, in seconds (u32). */
  ageSeconds: number;
  /** Smoothed round-trip time to it in ms (u16); null when not measured. */
  rttMs: number | null;
}

/**
 * A value in the DHT, signed by its writer over {@link dhtRecordSignedBytes} (in ../dht).
 * Removal is a signed tombstone from the same writer.
 */
export interface DhtRecord {
  key: Uint8Array; // 1..MAX_DHT_KEY_BYTES
  value: Uint8Array; // 0..MAX_DHT_VALUE_BYTES
  writer: Uint8Array; // Ed25519 public key, 32 bytes
  issuedAt: number; // ms since the Unix epoch (writer's clock), integer, 0..2^53-1
  ttlSeconds: number; // u32
  flags: number; // u8, DhtRecordFlag bits
  signature: Uint8Array; // 64 bytes
}

export interface StatusMessage {
  kind: 'status';
  /** Whether the receiver should answer with its own status. */
  wantReply: boolean;
  /** The sender has seen peers fail recently: the receiver should watch its links closely too. */
  churn: boolean;
  /** The sender's nearest neighbours counter-clockwise, nearest first. */
  left: PeerRecord[];
  /** The sender's nearest neighbours clockwise, nearest first. */
  right: PeerRecord[];
}

export interface LeaveMessage {
  kind: 'leave';
  left: PeerRecord[];
  right: PeerRecord[];
}

export type RoutedBody =
  | {
      type: 'connect-request';
      token: number;
      purpose: ConnectPurposeValue;
      requester: PeerRecord;
      /** A node the requester is linked to, through which a reply reaches it before it has joined the ring. */
      via: Address | null;
    }
  | { type: 'connect-reply'; token: number; responder: PeerRecord; left: PeerRecord[]; right: PeerRecord[] }
  | { type: 'ping'; id: number; sentAt: number }
  | { type: 'pong'; id: number; sentAt: number; requestHops: number }
  | { type: 'dht-request'; requestId: number; op: DhtOpValue; key: Uint8Array; record: DhtRecord | null }
  | { type: 'dht-response'; requestId: number; status: DhtStatusValue; records: DhtRecord[] }
  | { type: 'crawl-request'; id: number }
  | { type: 'crawl-reply'; id: number; left: PeerRecord[]; right: PeerRecord[] }
  | { type: 'app'; channel: number; data: Uint8Array }
  /** No direct path works: the requester's connections, to find a relay both sides are linked to. */
  | {
      type: 'path-request';
      token: number;
      requester: PeerRecord;
      neighbours: NeighbourInfo[];
      /** As in connect-request: where the reply reaches a requester that has not joined yet. */
      via: Address | null;
      /** The requester's direct link with the responder broke: the responder moves it to a relay too, and replies around it. */
      directBroken: boolean;
    }
  | { type: 'path-reply'; token: number; responder: PeerRecord; neighbours: NeighbourInfo[] };

export interface RoutedMessage {
  kind: 'routed';
  source: Address;
  destination: Address;
  mode: RouteModeValue;
  /** Never deliver to (or through) the source itself: used by joins and repairs. */
  excludeSource: boolean;
  /** Hops left; dropped at 0. u8. */
  ttl: number;
  /** Hops taken so far. u8. */
  hops: number;
  /**
   * When set, the node that receives this message at `destination` passes it one more hop
   * over its direct link to `forwardTo` (replies to a joiner that is reachable only through its
   * bootstrap peer).
   */
  forwardTo: Address | null;
  body: RoutedBody;
}

export interface DhtReplicateMessage {
  kind: 'dht-replicate';
  records: DhtRecord[]; // 1..MAX_DHT_RECORDS_PER_MESSAGE
}

export interface BroadcastMessage {
  kind: 'broadcast';
  /** 8 random bytes chosen by the origin. */
  id: Uint8Array;
  origin: Address;
  /** The clockwise half-open range [rangeStart, rangeEnd) this copy must cover. */
  rangeStart: Address;
  rangeEnd: Address;
  hops: number; // u8
  channel: number; // u16
  data: Uint8Array; // 0..MAX_APP_DATA_BYTES
}

/** Tells a linked peer the endpoint its datagrams arrive from (what a NAT made of its address). */
export interface EndpointReportMessage {
  kind: 'endpoint-report';
  observed: Endpoint;
  /** The sender's own record (its endpoints, best first, and NAT kind), for the receiver to pass on in neighbour lists. */
  sender: PeerRecord;
}

/** Asks a relay (a common neighbour) to pass a link datagram on to `to`. The relay cannot read it. */
export interface RelaySendMessage {
  kind: 'relay-send';
  to: Address;
  payload: Uint8Array; // 1..MAX_RELAY_PAYLOAD_BYTES
}

/** A relay hands over a link datagram that `from` sent through it. */
export interface RelayDeliverMessage {
  kind: 'relay-deliver';
  from: Address;
  payload: Uint8Array; // 1..MAX_RELAY_PAYLOAD_BYTES
}

/**
 * Application data for a directly linked peer (the VPN's IP packets): no routing header, so the
 * per-packet cost is two bytes. Never forwarded.
 */
export interface DatagramMessage {
  kind: 'datagram';
  data: Uint8Array; // 0..MAX_MESSAGE_BYTES - 2
}

export type OverlayMessage =
  | StatusMessage
  | LeaveMessage
  | RoutedMessage
  | DhtReplicateMessage
  | BroadcastMessage
  | EndpointReportMessage
  | RelaySendMessage
  | RelayDeliverMessage
  | DatagramMessage;

export type WireErrorCode =
  | 'truncated'
  | 'too-large'
  | 'bad-version'
  | 'unknown-type'
  | 'bad-length'
  | 'bad-value'
  | 'trailing-bytes';

export interface WireError {
  code: WireErrorCode;
  message: string;
}
