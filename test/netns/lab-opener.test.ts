import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Lab, type LabHost, type LabNat, labUnavailableReason } from './lab/lab.js';
import { installCounters, readCounters } from './lab/nft-counters.js';

/**
 * UdpTransport.sendOpener on the wire: a datagram sent with TTL 2 from a host behind a NAT opens
 * the NAT's mapping (conntrack entry), reaches the next router (the site's ISP router) with TTL 1
 * and dies there: the far side never sees it. The sends around it leave with the normal TTL.
 */
const unavailable = labUnavailableReason();
const OPENER_TOOL = join(import.meta.dirname, 'lab/opener-tool.ts');
const TARGET_PORT = 4200;

describe('UdpTransport openers (low IP TTL) in the lab', { skip: unavailable ?? false }, () => {
  let lab: Lab;
  let far: LabHost;
  let nat: LabNat;
  let home: LabHost;

  before(async () => {
    lab = await Lab.create();
    far = await lab.addPublicHost('far');
    nat = await lab.addNat('nat', 'endpoint-independent');
    home = await lab.addHostBehind(nat, 'home');
    await installCounters(lab.ispNs(nat.site), lab.dir, 'prerouting', {
      ttl1: `ip saddr ${nat.wanIp} udp dport ${TARGET_PORT} ip ttl 1`,
      anyttl: `ip saddr ${nat.wanIp} udp dport ${TARGET_PORT}`,
    });
    await installCounters(far.ns, lab.dir, 'input', { got: `udp dport ${TARGET_PORT}` });
  });

  after(async () => {
    await lab?.destroy();
  });

  const send = async (localPort: number, plan: string): Promise<Record<string, number>> => {
    const r = await lab.exec(home.ns, process.execPath, ['--import', 'tsx', OPENER_TOOL, String(localPort), `${far.ip}:${TARGET_PORT}`, plan]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Record<string, number>;
  };

  test('an opener with TTL 2 opens the NAT mapping, dies at the next router, and the sends around it arrive', async () => {
    const stats = await send(4100, 'o2,n,n,n');
    assert.equal(stats.openersOut, 1);
    assert.equal(stats.datagramsOut, 4);
    const core = await readCounters(lab.ispNs(nat.site));
    const got = await readCounters(far.ns);
    assert.deepEqual(core, { ttl1: 1, anyttl: 4 }, 'all four reached the next router, one of them with TTL 1');
    assert.equal(got.got, 3, 'only the three normal sends reached the far side');
    const conntrack = await lab.conntrack(nat);
    assert.match(conntrack, new RegExp(`src=${home.ip} dst=${far.ip} sport=4100 dport=${TARGET_PORT}`), 'the NAT holds the mapping');
  });

  test('openers between normal sends in one tick: each opener alone leaves with TTL 2', async () => {
    const before = await readCounters(lab.ispNs(nat.site));
    const gotBefore = (await readCounters(far.ns)).got ?? 0;
    const stats = await send(4101, 'n,o2,n,n,o2,o2,n');
    assert.equal(stats.openersOut, 3);
    const core = await readCounters(lab.ispNs(nat.site));
    assert.equal((core.ttl1 ?? 0) - (before.ttl1 ?? 0), 3);
    assert.equal((core.anyttl ?? 0) - (before.anyttl ?? 0), 7);
    assert.equal(((await readCounters(far.ns)).got ?? 0) - gotBefore, 4);
  });

  test('with TTL 5 the same datagram crosses the four routers and reaches the far host (the check can fail)', async () => {
    const gotBefore = (await readCounters(far.ns)).got ?? 0;
    await send(4102, 'o4,o5');
    assert.equal(((await readCounters(far.ns)).got ?? 0) - gotBefore, 1);
  });
});

if (unavailable !== null) process.stderr.write(`lab tests skipped: ${unavailable}\n`);
