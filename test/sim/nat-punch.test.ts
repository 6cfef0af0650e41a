/**
 * One coordinated hole punch over every pair of site kinds: both sides learn their public endpoint
 * from a server, send an opener to the other's at the same moment, then probe it every 500 ms and
 * answer every probe to its source. Expected: a direct path everywhere except between a symmetric
 * NAT and anything that filters on the exact ip:port it sent to (port-restricted, Linux, firewall,
 * symmetric), the pairs the overlay must relay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SECOND, Server, makeNet, makeSite, run, assertClean, type SiteKind } from './nat-lab.js';

const KINDS: SiteKind[] = ['public', 'firewall', 'full-cone', 'address-restricted', 'port-restricted', 'linux', 'symmetric', 'linux-symmetric'];
const SYMMETRIC = new Set<SiteKind>(['symmetric', 'linux-symmetric']);
const EXACT_FILTER = new Set<SiteKind>(['port-restricted', 'linux', 'firewall', 'symmetric', 'linux-symmetric']);

function expectDirect(a: SiteKind, b: SiteKind): boolean {
  return !((SYMMETRIC.has(a) && EXACT_FILTER.has(b)) || (SYMMETRIC.has(b) && EXACT_FILTER.has(a)));
}

test('coordinated punching over every pair of topologies', () => {
  const table: string[] = [];
  for (let i = 0; i < KINDS.length; i++) {
    for (let j = i; j < KINDS.length; j++) {
      const [ka, kb] = [KINDS[i]!, KINDS[j]!];
      const { queue, network } = makeNet(`punch-${ka}-${kb}`);
      const a = makeSite(network, ka);
      const b = makeSite(network, kb);
      const server = new Server(network);
      const aPublic = server.observe(queue, a);
      const bPublic = server.observe(queue, b);
      a.opener(bPublic);
      b.opener(aPublic);
      a.probe(queue, bPublic, 10, 500, 100);
      b.probe(queue, aPublic, 10, 500, 100);
      run(queue, 6 * SECOND);
      const direct = a.heardFrom(bPublic.split(':')[0]!) && b.heardFrom(aPublic.split(':')[0]!);
      table.push(`${ka} × ${kb}: ${direct ? 'direct' : 'no path'}`);
      assert.equal(direct, expectDirect(ka, kb), `${ka} × ${kb}`);
      for (const p of [a, b]) p.host.kill();
      server.socket.host.kill();
      run(queue, SECOND);
      assertClean(network, queue);
    }
  }
  assert.equal(table.length, (KINDS.length * (KINDS.length + 1)) / 2);
});
