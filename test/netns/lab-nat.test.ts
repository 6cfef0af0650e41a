import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PingResult } from '../../src/node-host/ping-probe.js';
import { type LabNode, UDP_REFLECTOR, labUnavailableReason } from './lab/lab.js';
import { type NatRing, buildNatRing, connect, peerOf, ping, pingUntil } from './lab/nat-ring.js';

/**
 * NAT traversal and relays with real `ringvpn node` processes: a routed core, six public nodes
 * forming the ring, hosts behind real nftables NATs (endpoint-independent ones as Linux home
 * routers, symmetric ones with fully random ports). The three topologies run side by side; each
 * is torn down even when its test fails.
 */
const unavailable = labUnavailableReason();
const log = (text: string): void => {
  process.stderr.write(`  ${text}\n`);
};
const short = (n: LabNode | string | null): string => (typeof n === 'string' ? n.slice(0, 8) : n === null ? '-' : `${n.name}(${n.address.slice(0, 8)})`);
const overSession = (r: PingResult): boolean => r.answered && r.hops === 1;
/**
 * After a spoiled first punch the pair is relayed at once, and the two sides take turns punching
 * again every 45 s (the first turn once the spoiled NAT entries are gone). In the lab a turn
 * succeeds only about half the time (the cause is not known yet: see the issue 4 note), so the
 * test waits for six turns.
 */
const SPOILED_DIRECT_WITHIN_MS = 300_000;

async function withRing<T>(ring: Promise<NatRing>, body: (r: NatRing) => Promise<T>): Promise<T> {
  const r = await ring;
  try {
    return await body(r);
  } catch (error) {
    process.stderr.write(`${r.lab.logs()}\n`);
    throw error;
  } finally {
    await r.lab.destroy();
  }
}

describe('NAT traversal and relays in the lab', { skip: unavailable ?? false, concurrency: true }, () => {
  test('endpoint-independent NATs: direct whichever side connects; a NAT that restarts with a new address; a host that moves', async (t) => {
    await withRing(buildNatRing('endpoint-independent', 2), async ({ lab, publics, pairs }) => {
      const [p1, p2] = pairs as [NonNullable<(typeof pairs)[0]>, NonNullable<(typeof pairs)[0]>];
      await t.test('direct path when the a side starts the connect', async () => {
        assert.equal(await peerOf(lab, p1.a, p1.b), undefined, 'the ring did not link the pair before the test');
        const c1 = await connect(p1.a, p1.b);
        log(`a0 -> b0: ${c1.path} in ${c1.ms} ms (${c1.reason})`);
        assert.equal(c1.path, 'direct', c1.reason);
        assert.match(c1.endpoint ?? '', new RegExp(`^${p1.natB.wanIp.replace(/\./g, '\\.')}:`));
        const seen = await lab.waitForStatus(p1.b, (s) => s.peers.some((p) => p.address === p1.a.address), 'see the session', 5_000);
        assert.equal(seen.peers.find((p) => p.address === p1.a.address)?.path, 'direct');
        const human = await lab.cli(p1.a, ['ping', p1.b.address, '-c', '2']);
        assert.equal(human.code, 0, human.stderr);
        assert.match(human.stdout, /pong from [0-9a-f]{12} via 10\.200\.\d+\.\d+:4000 \(direct\) in [\d.]+ ms/);
      });

      await t.test('direct path when the b side starts the connect', async () => {
        assert.equal(await peerOf(lab, p2.b, p2.a), undefined, 'the ring did not link the pair before the test');
        const c2 = await connect(p2.b, p2.a);
        log(`b1 -> a1: ${c2.path} in ${c2.ms} ms (${c2.reason})`);
        assert.equal(c2.path, 'direct', c2.reason);
        const seen = await lab.waitForStatus(p2.a, (s) => s.peers.some((p) => p.address === p2.b.address), 'see the session', 5_000);
        assert.equal(seen.peers.find((p) => p.address === p2.b.address)?.path, 'direct');
      });

      await t.test('the NAT in front of one side restarts with a new public address: healed within 30 s', async () => {
        const before = await peerOf(lab, p1.a, p1.b);
        await lab.restartNat(p1.natB, { newAddress: true });
        const healed = await pingUntil(p1.a, p1.b, overSession, 30_000);
        const after = await peerOf(lab, p1.a, p1.b);
        log(`NAT of b0 restarted (${before?.endpoint} -> new address ${p1.natB.wanIp}): session answers again after ${healed.afterMs} ms; now ${after?.path} ${after?.endpoint} (${after?.reason})`);
        assert.ok(healed.afterMs !== null, `not healed within 30 s: ${JSON.stringify(healed.last)}; a0 sees b0 at ${after?.endpoint}`);
      });

      await t.test('a host gets a new address on its network: its peers reach it again within 10 s', async () => {
        const pub = publics[0] as LabNode;
        await lab.moveHost(p2.a.host, 77);
        const [toPeer, toPublic] = await Promise.all([pingUntil(p2.a, p2.b, overSession, 20_000), pingUntil(p2.a, pub, overSession, 20_000)]);
        const now = await peerOf(lab, p2.a, p2.b);
        log(`a1 moved to ${p2.a.host.ip}: b1 answers over the session after ${toPeer.afterMs} ms (${now?.path} ${now?.endpoint}), pub0 after ${toPublic.afterMs} ms`);
        assert.ok(toPublic.afterMs !== null && toPublic.afterMs <= 10_000, `pub0 not reachable within 10 s of the move: ${JSON.stringify(toPublic.last)}`);
        assert.ok(toPeer.afterMs !== null && toPeer.afterMs <= 10_000, `b1 not reachable within 10 s of the move: ${JSON.stringify(toPeer.last)}`);
      });
    });
  });

  test('endpoint-independent NATs, first attempt spoiled (a probe reached the far NAT first): the pair still ends direct', async () => {
    await withRing(buildNatRing('endpoint-independent', 1), async ({ lab, publics, pairs }) => {
      const { a: first, b, natA, natB } = pairs[0] as NonNullable<(typeof pairs)[0]>;
      // Spoil: while a0's node is stopped, its host sends a few datagrams from the node's port
      // toward b0's public mapping. b0's NAT keeps an "unreplied" conntrack entry for them, so
      // b0's own packets toward a0 will get another public port (DESIGN.md, "Linux NATs and the
      // first probe"); a0's NAT keeps a mapping toward b0 that b0 has never answered.
      await lab.killNode(first);
      const bPublic = `${natB.wanIp}:${b.port}`;
      for (let i = 0; i < 3; i++) await lab.exec(first.host.ns, process.execPath, [UDP_REFLECTOR, 'ask', String(first.port), bPublic], 5_000);
      const unreplied = `src=${natA.wanIp} dst=${natB.wanIp} sport=${first.port} dport=${b.port} [UNREPLIED]`;
      assert.ok((await lab.conntrack(natB)).includes(unreplied), 'the far NAT holds the unreplied entry');
      const a = await lab.startNode(first.name, first.host, { port: first.port, bootstraps: [(publics[0] as LabNode).endpoint] });
      await lab.waitForStatus(a, (s) => s.nat === 'endpoint-independent', 'see its NAT again', 10_000);
      assert.ok((await lab.conntrack(natB)).includes(unreplied), 'still there when the connect starts');

      const started = Date.now();
      const c = await connect(a, b);
      log(`spoiled a0 -> b0: ${c.path}${c.via === null ? '' : ` via ${short(c.via)}`} after ${c.ms} ms (${c.reason})`);
      let lastSeen = `${c.path}${c.via === null ? '' : ` via ${short(c.via)}`}`;
      const timeline = [`${c.ms} ms: ${lastSeen}`];
      let direct = c.path === 'direct';
      while (!direct && Date.now() - started < SPOILED_DIRECT_WITHIN_MS) {
        await new Promise((r) => setTimeout(r, 500));
        const p = await peerOf(lab, a, b);
        const now = p === undefined ? 'no session' : `${p.path}${p.via === null ? '' : ` via ${short(p.via)}`}`;
        if (now !== lastSeen) {
          timeline.push(`${Date.now() - started} ms: ${now} (${p?.reason ?? '-'})`);
          lastSeen = now;
        }
        direct = p?.path === 'direct';
      }
      log(`spoiled pair timeline: ${timeline.join('; ')}`);
      assert.ok(direct, `not direct within ${SPOILED_DIRECT_WITHIN_MS / 1000} s: ${timeline.join('; ')}`);
      const r = await ping(a, b);
      assert.ok(r.answered && r.path === 'direct', JSON.stringify(r));
    });
  });

  test('symmetric NATs: relayed through a public member, traffic flows; a killed relay is replaced by a reserve; a NAT restart is healed', async () => {
    await withRing(buildNatRing('symmetric', 1), async ({ lab, publics, pairs }) => {
      const { a, b, natB } = pairs[0] as NonNullable<(typeof pairs)[0]>;
      assert.equal(await peerOf(lab, a, b), undefined, 'the ring did not link the pair before the test');
      const c = await connect(a, b);
      log(`symmetric a0 -> b0: ${c.path} via ${short(c.via)} in ${c.ms} ms (${c.reason})`);
      assert.equal(c.path, 'relayed', c.reason);
      assert.ok(publics.some((p) => p.address === c.via), 'the relay is one of the public members');
      const human = await lab.cli(a, ['ping', b.address, '-c', '3']);
      assert.equal(human.code, 0, human.stderr);
      // The session may have settled on another of the relays it set up (a reserve's handshake can finish later): any public member.
      const shown = [...human.stdout.matchAll(new RegExp(`pong from ${b.address.slice(0, 12)} via relay ([0-9a-f]{12}) \\(relayed\\)`, 'g'))].map((x) => x[1]);
      assert.equal(shown.length, 3, human.stdout);
      assert.ok(shown.every((r) => publics.some((p) => p.address.startsWith(r as string))), human.stdout);
      const seen = await lab.waitForStatus(b, (s) => s.peers.some((p) => p.address === a.address && p.path === 'relayed'), 'see the relayed session', 5_000);
      log(`b0 sees a0: ${JSON.stringify(seen.peers.find((p) => p.address === a.address))}`);
      // The relay that carries the session now is the one killed.
      const carrying = (await peerOf(lab, a, b))?.via;
      const relay = publics.find((p) => p.address === carrying);
      assert.ok(relay !== undefined, `relayed through a public member: ${carrying}`);

      const killedAt = Date.now();
      await lab.killNode(relay, 'SIGKILL');
      const back = await pingUntil(a, b, (r) => overSession(r) && r.path === 'relayed' && r.via !== relay.address, 15_000);
      const now = await peerOf(lab, a, b);
      log(`relay ${short(relay)} killed: carried again after ${back.afterMs} ms (${back.answered}/${back.sent} pings answered), now via ${short(now?.via ?? null)}`);
      assert.ok(back.afterMs !== null && back.afterMs <= 5_000, `no reserve relay within 5 s (${Date.now() - killedAt} ms): ${JSON.stringify(back.last)}`);

      // b0's NAT restarts: every mapping is forgotten and new random ports are drawn.
      await lab.restartNat(natB);
      const healed = await pingUntil(a, b, overSession, 30_000);
      const after = await peerOf(lab, a, b);
      log(`symmetric NAT of b0 restarted: relayed session answers again after ${healed.afterMs} ms (${after?.path} via ${short(after?.via ?? null)})`);
      assert.ok(healed.afterMs !== null, `not healed within 30 s: ${JSON.stringify(healed.last)}`);
    });
  });
});

if (unavailable !== null) process.stderr.write(`lab tests skipped: ${unavailable}\n`);
