import { type Address, addressToHex, clockwiseDistance } from '../overlay/address.js';
import type { LinkInfo, LinkStats } from '../overlay/links/types.js';
import { type Connection, ConnectionFlag } from '../overlay/node/connection-table.js';
import type { OverlayNode } from '../overlay/node/overlay-node.js';
import type { RelayServiceStats } from '../overlay/node/relay-service.js';
import type { UdpTransport, UdpTransportStats } from '../overlay/real/udp-transport.js';
import { NatKind, type NatKindValue } from '../overlay/wire/messages.js';

/**
 * What `ringvpn status --json` prints and the control socket's `status` answers. Field names are a
 * contract with scripts and the lab tests: add fields, never rename them.
 */
export interface NodeStatus {
  address: string;
  network: string;
  joined: boolean;
  /**
   * Where peers can reach this node, best first: the public endpoint its peers observe (a NAT's
   * mapping), then its own interface endpoints.
   */
  endpoints: string[];
  /** The NAT in front of this node, as its peers' observations show it. */
  nat: NatName;
  startedAt: string;
  /** The ring as this node holds it: near neighbours, shortcuts, links asked for by peers, bootstrap leaves. */
  connections: ConnectionStatus[];
  /** Every node this one holds a session with. */
  peers: PeerStatus[];
  /** This node's virtual IP when it runs the VPN (`ringvpn up`); null while it is being claimed. */
  vip?: string | null;
  stats: { link: LinkStats; udp: UdpTransportStats; overlay: OverlayStats; relayPaths: RelayPathStats; relayService: RelayServiceStats };
}

/** "none": peers see the node's own address; "symmetric": a NAT that picks a new port per destination. */
export type NatName = 'none' | 'endpoint-independent' | 'symmetric';

/** Relayed sessions of this node: path requests sent, relayed links, moves to a reserve relay, upgrades to direct. */
export interface RelayPathStats {
  pathRequests: number;
  relayedLinks: number;
  failovers: number;
  upgrades: number;
}

export type ConnectionKind = 'near' | 'shortcut' | 'inbound' | 'leaf';

export interface ConnectionStatus {
  address: string;
  /** The strongest reason this node keeps the connection (near > shortcut > inbound > leaf). */
  kind: ConnectionKind;
  /** All of its reasons. */
  flags: ConnectionKind[];
  /** For near neighbours: on which side of this node's address it sits. */
  side: 'left' | 'right' | null;
  endpoint: string;
  since: string;
}

export type PathKind = 'direct' | 'relayed' | 'overlay';

export interface PeerStatus {
  address: string;
  /** Where this node sends the peer's packets now (`ip:port`; for a relayed path `relay:<relay>:<peer>`). */
  endpoint: string | null;
  path: PathKind;
  /** The relay's address (hex) when relayed, else null. */
  via: string | null;
  /** Plain words: why the path is what it is. */
  reason: string;
  rttMs: number | null;
  /** The peer's virtual IP, when this node runs the VPN and knows it. */
  vip?: string | null;
  since: string;
}

export interface OverlayStats {
  messagesIn: number;
  messagesOut: number;
  decodeErrors: number;
  routedForwarded: number;
  routedDelivered: number;
  routedDropped: number;
}

export interface SnapshotSources {
  node: OverlayNode;
  transport: Pick<UdpTransport, 'stats'>;
  networkName: string;
  startedAt: number;
}

/** The one place the node's state becomes a status object (relay and NAT details are added here). */
export function buildStatusSnapshot({ node, transport, networkName, startedAt }: SnapshotSources): NodeStatus {
  const connections = [...node.table.all()].map((c) => connectionStatus(node.address, c)).sort(byAddress);
  const peers = [...node.links.links()].map((l) => peerStatus(node, l)).sort(byAddress);
  const s = node.stats;
  const self = node.selfRecord();
  return {
    address: addressToHex(node.address),
    network: networkName,
    joined: node.joined,
    endpoints: [...self.endpoints],
    nat: natName(self.nat ?? NatKind.NONE),
    startedAt: new Date(startedAt).toISOString(),
    connections,
    peers,
    stats: {
      link: { ...node.links.stats },
      udp: { ...transport.stats },
      overlay: {
        messagesIn: s.messagesIn,
        messagesOut: s.messagesOut,
        decodeErrors: s.decodeErrors,
        routedForwarded: s.routedForwarded,
        routedDelivered: s.routedDelivered,
        routedDropped: s.routedDropped,
      },
      relayPaths: { ...node.relayPaths.stats },
      relayService: { ...node.relayService.stats },
    },
  };
}

export function natName(kind: NatKindValue): NatName {
  return kind === NatKind.ENDPOINT_INDEPENDENT ? 'endpoint-independent' : kind === NatKind.ENDPOINT_DEPENDENT ? 'symmetric' : 'none';
}

/** The path toward one peer, in the words the status, `ringvpn ping` and `ringvpn connect` print. */
export function describePath(node: OverlayNode, peer: Address): { path: PathKind; endpoint: string | null; via: string | null; reason: string } {
  const p = node.pathOf(peer);
  if (p === undefined) return { path: 'overlay', endpoint: null, via: null, reason: 'overlay: no session with this node; messages are routed through the ring' };
  return { path: p.path, endpoint: p.endpoint, via: p.via === null ? null : addressToHex(p.via), reason: p.reason };
}

function peerStatus(node: OverlayNode, link: LinkInfo): PeerStatus {
  const p = describePath(node, link.peer);
  return {
    address: addressToHex(link.peer),
    endpoint: p.endpoint,
    path: p.path,
    via: p.via,
    reason: p.reason,
    rttMs: link.rttMs === null ? null : Math.round(link.rttMs * 100) / 100,
    since: new Date(link.establishedAt).toISOString(),
  };
}

const KIND_ORDER: [ConnectionKind, number][] = [
  ['near', ConnectionFlag.NEAR],
  ['shortcut', ConnectionFlag.SHORTCUT],
  ['inbound', ConnectionFlag.INBOUND],
  ['leaf', ConnectionFlag.LEAF],
];

function connectionStatus(self: Address, c: Connection): ConnectionStatus {
  const flags = KIND_ORDER.filter(([, bit]) => (c.flags & bit) !== 0).map(([kind]) => kind);
  const near = (c.flags & ConnectionFlag.NEAR) !== 0;
  return {
    address: addressToHex(c.address),
    kind: flags[0] ?? 'leaf',
    flags,
    side: !near ? null : clockwiseDistance(self, c.address) <= clockwiseDistance(c.address, self) ? 'right' : 'left',
    endpoint: c.endpoint,
    since: new Date(c.since).toISOString(),
  };
}

function byAddress<T extends { address: string }>(a: T, b: T): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}
