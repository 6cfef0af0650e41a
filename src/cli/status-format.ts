import type { ConnectionStatus, NodeStatus, PeerStatus } from '../node-host/status-snapshot.js';

const NAT_WORDS: Record<string, string> = {
  none: 'none seen (peers reach this node at its own address)',
  'endpoint-independent': 'endpoint-independent (one public port for every peer: direct paths can be punched)',
  symmetric: 'symmetric (a new public port per peer: peers behind NATs are reached through relays)',
};

/**
 * The human form of `ringvpn status`, like `tailscale status`: a header about this node, then one
 * row per peer (sessions and ring connections merged by address).
 */
export function formatStatus(s: NodeStatus, now = Date.now()): string {
  const lines = [
    `address    ${s.address}`,
    `network    ${s.network} (${s.joined ? 'joined' : 'joining'})`,
    `endpoints  ${s.endpoints.length > 0 ? s.endpoints.join(', ') : '-'}`,
    `nat        ${NAT_WORDS[s.nat] ?? s.nat}`,
    `up         ${ago(s.startedAt, now)}`,
    ...(s.vip === undefined ? [] : [`vip        ${s.vip ?? 'claiming...'}`]),
    '',
  ];
  const byAddress = new Map<string, { peer?: PeerStatus; conn?: ConnectionStatus }>();
  for (const p of s.peers) byAddress.set(p.address, { peer: p });
  for (const c of s.connections) byAddress.set(c.address, { ...byAddress.get(c.address), conn: c });
  if (byAddress.size === 0) {
    lines.push(s.joined ? 'no peers yet' : 'no peers yet: still contacting the bootstrap nodes');
    return `${lines.join('\n')}\n`;
  }
  const rows: string[][] = [['PEER', 'ENDPOINT', 'PATH', 'RTT', 'ROLE', 'SINCE', 'WHY']];
  for (const [address, { peer, conn }] of [...byAddress].sort(([a], [b]) => (a < b ? -1 : 1))) {
    rows.push([
      peer?.vip ? `${address.slice(0, 12)} ${peer.vip}` : address.slice(0, 12),
      // A relayed path's endpoint is relay:<relay>:<peer>: the PATH column already names the relay.
      peer?.path === 'relayed' ? '(relay)' : (peer?.endpoint ?? conn?.endpoint ?? '-'),
      peer === undefined ? 'overlay' : peer.via === null ? peer.path : `${peer.path} via ${peer.via.slice(0, 8)}`,
      peer?.rttMs === null || peer?.rttMs === undefined ? '-' : `${peer.rttMs} ms`,
      conn === undefined ? 'session only' : conn.side === null ? conn.flags.join('+') : `${conn.flags.join('+')} (${conn.side})`,
      ago(peer?.since ?? conn?.since ?? '', now),
      peer?.reason ?? '-',
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) lines.push(r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  return `${lines.join('\n')}\n`;
}

function ago(iso: string, now: number): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d`;
}
