import { type Address, addressToHex, clockwiseDistance } from '../overlay/address.js';
import type { LinkInfo, LinkStats } from '../overlay/links/types.js';
import { type Connection, ConnectionFlag } from '../overlay/node/connection-table.js';
import type { OverlayNode } from '../overlay/node/overlay-node.js';
import type { UdpTransport, UdpTransportStats } from '../overlay/real/udp-transport.js';

/**
 * What `ringvpn status --json` prints and the control socket's `status` answers. Field names are a
 * contract with scripts and the lab tests: add fields, never rename them.
 */
export interface NodeStatus {
  address: string;
  network: string;
  joined: boolean;
  /** Where peers can reach this node: local interface endpoints, then observed ones when known. */
  endpoints: string[];
  startedAt: string;
  /** The ring as this node holds it: near neighbours, shortcuts, links asked for by peers, bootstrap leaves. */
  connections: ConnectionStatus[];
  /** Every node this one holds a session with. */
  peers: PeerStatus[];
  stats: { link: LinkStats; udp: UdpTransportStats; overlay: OverlayStats };
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
  /** Where this node sends the peer's packets now (for a relayed path: the relay's endpoint). */
  endpoint: string | null;
  path: PathKind;
  /** The relay's address (hex) when relayed, else null. */
  via: string | null;
  /** Plain words: why the path is what it is. */
  reason: string;
  rttMs: number | null;
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
  transport: UdpTransport;
  networkName: string;
  startedAt: number;
}

/** The one place the node's state becomes a status object (relay and NAT details are added here). */
export function buildStatusSnapshot({ node, transport, networkName, startedAt }: SnapshotSources): NodeStatus {
  const connections = [...node.table.all()].map((c) => connectionStatus(node.address, c)).sort(byAddress);
  const peers = [...node.links.links()].map((l) => peerStatus(node, l)).sort(byAddress);
  const s = node.stats;
  return {
    address: addressToHex(node.address),
    network: networkName,
    joined: node.joined,
    endpoints: localAndObservedEndpoints(transport),
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
    },
  };
}

/**
 * The path toward one peer, in the words the status and `ringvpn ping` print. Today every session
 * is direct UDP; relayed sessions (and the reason a path is relayed) come from the link layer once
 * NAT traversal reports them.
 */
export function describePath(node: OverlayNode, peer: Address): { path: PathKind; endpoint: string | null; via: string | null; reason: string } {
  const link = node.links.get(peer);
  if (link === undefined) return { path: 'overlay', endpoint: null, via: null, reason: 'overlay: no session with this node; messages are routed through the ring' };
  return { path: 'direct', endpoint: link.endpoint, via: null, reason: `direct: linked at ${link.endpoint}` };
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

/** Observed endpoints (what peers see this node at) are added here once the overlay reports them. */
function localAndObservedEndpoints(transport: UdpTransport): string[] {
  const all = transport.localEndpoints();
  if (!all.includes(transport.localEndpoint)) all.unshift(transport.localEndpoint);
  return all;
}

function byAddress<T extends { address: string }>(a: T, b: T): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}
