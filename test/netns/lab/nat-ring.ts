import { controlRequest } from '../../../src/node-host/control-client.js';
import type { ConnectResult } from '../../../src/node-host/connect-session.js';
import type { PingResult } from '../../../src/node-host/ping-probe.js';
import type { NatName, NodeStatus } from '../../../src/node-host/status-snapshot.js';
import { Lab, type LabHost, type LabNat, type LabNode } from './lab.js';
import type { NatKind } from './nat-rules.js';

/**
 * A ring of public nodes with NATed hosts placed on it, for NAT traversal tests and benchmarks.
 *
 * Six public nodes sit at 0, 1/6, ..., 5/6 of the ring (identities ground to those positions).
 * NATed nodes go into the gaps: "a" side ones between 5/6 and 1, "b" side ones between 2/6 and
 * 3/6. Each NATed node then has three public nodes between it and any node of the other side, on
 * both arcs, so with 3 near neighbours per side the ring never links an a with a b: a session
 * between them exists only once a test connects them. (Their estimate of the ring's size stays
 * small enough that they draw no shortcuts in a ring of 8; in larger ones, not in their first 15 s.)
 */
export const PUBLIC_COUNT = 6;
const A_GAP = 11 / 12;
const B_GAP = 5 / 12;
/** Between the hosts of one side: up to 8 per side fit in a gap (1/6 of the ring). */
const PAIR_SPACING = 0.018;

export interface NatPair {
  a: LabNode;
  b: LabNode;
  natA: LabNat;
  natB: LabNat;
}

export interface NatRing {
  lab: Lab;
  publics: LabNode[];
  pairs: NatPair[];
}

/**
 * Builds the ring and pairs of hosts (`pairs` of them behind NATs of `kind`, or one pair per entry
 * of a list of kinds), each host behind its own NAT, and waits until every NATed node has joined
 * and knows its NAT's kind. Destroys the lab if it fails.
 */
export async function buildNatRing(
  kind: NatKind | NatKind[],
  pairs: number,
  options: { logLevel?: 'debug' | 'info'; waitForNatKind?: boolean } = {},
): Promise<NatRing> {
  const kinds = Array.isArray(kind) ? kind : Array.from({ length: pairs }, () => kind);
  const lab = await Lab.create();
  try {
    const hosts: LabHost[] = [];
    for (let i = 0; i < PUBLIC_COUNT; i++) hosts.push(await lab.addPublicHost(`pub${i}`));
    const first = await lab.startNode('pub0', hosts[0] as LabHost, { ringPosition: 0 });
    const rest = await Promise.all(
      hosts.slice(1).map((h, i) => lab.startNode(`pub${i + 1}`, h, { ringPosition: (i + 1) / PUBLIC_COUNT, bootstraps: [first.endpoint] })),
    );
    const publics = [first, ...rest];
    await Promise.all(publics.map((n) => lab.waitForStatus(n, (s) => nearCount(s) >= 4, 'hold its near neighbours', 20_000)));
    const built: NatPair[] = [];
    const expected = (j: number): NatName => (kinds[j] === 'symmetric' ? 'symmetric' : 'endpoint-independent');
    const starts: Promise<LabNode>[] = [];
    const nats: LabNat[] = [];
    for (let j = 0; j < kinds.length; j++) {
      for (const side of ['a', 'b'] as const) {
        const nat = await lab.addNat(`nat${side}${j}`, kinds[j] as NatKind);
        const host = await lab.addHostBehind(nat, `${side}${j}`);
        nats.push(nat);
        const position = (side === 'a' ? A_GAP : B_GAP) + (j - (kinds.length - 1) / 2) * PAIR_SPACING;
        const bootstrap = publics[side === 'a' ? 0 : 3] as LabNode;
        starts.push(lab.startNode(`${side}${j}`, host, { ringPosition: position, bootstraps: [bootstrap.endpoint], port: 4000 + j, logLevel: options.logLevel }));
      }
    }
    const natted = await Promise.all(starts);
    const natKnown = (s: NodeStatus, j: number): boolean => options.waitForNatKind === false || s.nat === expected(j);
    await Promise.all(
      natted.map((n, i) => lab.waitForStatus(n, (s) => natKnown(s, i >> 1) && nearCount(s) >= 4, `see its NAT as ${expected(i >> 1)}`, 20_000)),
    );
    for (let j = 0; j < kinds.length; j++) {
      built.push({ a: natted[2 * j] as LabNode, b: natted[2 * j + 1] as LabNode, natA: nats[2 * j] as LabNat, natB: nats[2 * j + 1] as LabNat });
    }
    return { lab, publics, pairs: built };
  } catch (error) {
    await lab.destroy();
    throw error;
  }
}

function nearCount(s: NodeStatus): number {
  return s.connections.filter((c) => c.kind === 'near').length;
}

/** `connect` through the node's control socket. */
export async function connect(node: LabNode, to: LabNode, timeoutMs = 15_000): Promise<ConnectResult> {
  return (await controlRequest(node.stateDir, 'connect', { address: to.address, timeoutMs }, timeoutMs + 5_000)) as ConnectResult;
}

/** One authenticated ping through the node's control socket. */
export async function ping(node: LabNode, to: LabNode, timeoutMs = 1_000): Promise<PingResult> {
  return (await controlRequest(node.stateDir, 'ping', { address: to.address, timeoutMs }, timeoutMs + 5_000)) as PingResult;
}

/** The node's view of its session with `peer` (undefined: none). */
export async function peerOf(lab: Lab, node: LabNode, peer: LabNode): Promise<NodeStatus['peers'][number] | undefined> {
  return (await lab.status(node)).peers.find((p) => p.address === peer.address);
}

/**
 * Pings `to` from `node` every `everyMs` (each ping waits up to 1 s, so several are in flight
 * while the path is broken) until an answer satisfies `done` or `timeoutMs` passed. Resolves with
 * the time from the call to that answer (null when none came) and what was seen.
 */
export async function pingUntil(
  node: LabNode,
  to: LabNode,
  done: (r: PingResult) => boolean,
  timeoutMs: number,
  everyMs = 200,
): Promise<{ afterMs: number | null; last: PingResult | null; answered: number; sent: number }> {
  const started = Date.now();
  let last: PingResult | null = null;
  let answered = 0;
  let sent = 0;
  let afterMs: number | null = null;
  const inFlight = new Set<Promise<void>>();
  while (afterMs === null && Date.now() - started < timeoutMs) {
    sent++;
    const p: Promise<void> = ping(node, to, 1_000).then(
      (r) => {
        last = r;
        if (r.answered) answered++;
        if (afterMs === null && done(r)) afterMs = Date.now() - started;
      },
      () => undefined,
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  await Promise.all(inFlight);
  return { afterMs, last, answered, sent };
}
