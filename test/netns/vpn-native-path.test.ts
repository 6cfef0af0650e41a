import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { Lab, type LabHost, labUnavailableReason } from './lab/lab.js';
import { IPERF3, type VpnMember, memberStatus, ping, pingUntil, received, startMember } from './lab/vpn-lab.js';

/**
 * The native data path (native-helpers/tap/src/fastpath.c) under key updates: two `ringvpn up`
 * members on public hosts, whose sessions move to a new key every 300 ms
 * (RINGVPN_TEST_KEY_UPDATE_MS), carry pings and TCP across many key updates in both directions.
 * Each update is a hand-over: the native path stops at the old key's limit, the JS path seals the
 * next packet with the new key, and the new keys are installed in the native path; the receiver
 * hands the first packet of each new epoch to JS, which adopts it. Nothing may be refused as
 * forged or replayed, and the bulk must still go natively.
 */
const unavailable = labUnavailableReason() ?? (existsSync('/dev/net/tun') ? null : '/dev/net/tun is missing');

interface NativeStats {
  outFast: number;
  outToJs: number;
  inFast: number;
  inToJs: number;
  authFailed: number;
  tso: number;
}

describe('the native data path across key updates', { skip: unavailable ?? false, timeout: 300_000 }, () => {
  let lab: Lab;
  const members: VpnMember[] = [];
  const saved = process.env.RINGVPN_TEST_KEY_UPDATE_MS;

  before(async () => {
    process.env.RINGVPN_TEST_KEY_UPDATE_MS = '300';
    try {
      lab = await Lab.create();
      const hosts: LabHost[] = [await lab.addPublicHost('q1'), await lab.addPublicHost('q2')];
      const first = await startMember(lab, 'k1', hosts[0] as LabHost);
      members.push(first, await startMember(lab, 'k2', hosts[1] as LabHost, { bootstraps: [first.endpoint] }));
    } finally {
      if (saved === undefined) delete process.env.RINGVPN_TEST_KEY_UPDATE_MS;
      else process.env.RINGVPN_TEST_KEY_UPDATE_MS = saved;
    }
  });

  after(async () => {
    await lab?.destroy();
  });

  const native = async (m: VpnMember): Promise<NativeStats> => {
    const s = await memberStatus(lab, m);
    return (s.vpn as { nativePath: NativeStats | null }).nativePath as NativeStats;
  };

  test('pings and a TCP stream cross many key updates with nothing lost to them, the bulk carried natively', async () => {
    const [a, b] = members as [VpnMember, VpnMember];
    assert.ok(received(await pingUntil(lab, a, b.vip, 30)) > 0, 'the session comes up');
    const before = { a: await native(a), b: await native(b) };
    assert.ok(before.a !== null && before.b !== null, 'the native path runs');
    // 30 pings over 6 s: about 20 key updates each way.
    const p = await ping(lab, a, b.vip, 30, 40);
    assert.ok(received(p) >= 29, `pings across key updates: ${p.stdout.split('\n').slice(-3).join(' ')}`);
    const server = lab.spawn('iperf-server', b.host.ns, IPERF3, ['-s', '-1', '-B', b.vip, '-p', '5311']);
    await new Promise((r) => setTimeout(r, 500));
    const client = await lab.exec(a.host.ns, IPERF3, ['-c', b.vip, '-p', '5311', '-t', '3', '-J'], 30_000);
    // The server (-1) exits after its one client; a server that hangs is killed after 10 s.
    const exited = await Promise.race([server.waitForExit().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
    if (!exited) server.killNow();
    assert.equal(client.code, 0, client.stderr);
    const report = JSON.parse(client.stdout) as { end: { sum_received: { bytes: number; bits_per_second: number } } };
    const after = { a: await native(a), b: await native(b) };
    const sentFast = after.a.outFast - before.a.outFast;
    const receivedFast = after.b.inFast - before.b.inFast;
    console.log(
      `# ${(report.end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s with a key update every 300 ms; ` +
        `a: ${sentFast} sent natively, ${after.a.outToJs - before.a.outToJs} frames through JS; b: ${receivedFast} received natively, ${after.b.inToJs - before.b.inToJs} datagrams through JS`,
    );
    assert.ok(report.end.sum_received.bytes > 0);
    assert.ok(sentFast > 1000 && receivedFast > 1000, 'the bulk went natively');
    assert.equal(after.a.authFailed + after.b.authFailed, 0, 'no packet failed to authenticate in the native path');
    for (const m of members) {
      const s = await memberStatus(lab, m);
      assert.equal(s.stats.link.droppedAuthFailed, 0, `${m.name}: no packet refused as forged by the JS path`);
    }
  });
});
