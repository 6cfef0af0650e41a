import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabHost, labUnavailableReason } from './lab/lab.js';
import { IP } from './lab/sh.js';
import { IPERF3, VPN_TAP, type VpnMember, downMember, identitiesInOrder, memberStatus, ping, pingUntil, received, ringAdjacent, startMember, writeIdentity } from './lab/vpn-lab.js';

/**
 * A virtual LAN of `ringvpn up` members with real TAP devices, in namespaces behind a routed core:
 *
 *   core ── p1 (m1, bootstrap)   ── p2 (m2)   ── p3 (m3)
 *        ── symmetric NAT n4 ── h4 (m4)
 *        ── symmetric NAT n5 ── h5 (m5)        m4 <-> m5 can only be relayed
 */
const unavailable = labUnavailableReason() ?? (existsSync('/dev/net/tun') ? null : '/dev/net/tun is missing');
const DHCLIENT = '/usr/sbin/dhclient';
const PYTHON = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p));

describe('a virtual LAN over the overlay, in namespaces with real TAP devices', { skip: unavailable ?? false, timeout: 600_000 }, () => {
  let lab: Lab;
  const members: VpnMember[] = [];
  const hosts: LabHost[] = [];

  before(async () => {
    lab = await Lab.create();
    for (const name of ['p1', 'p2', 'p3']) hosts.push(await lab.addPublicHost(name));
    for (const name of ['4', '5']) hosts.push(await lab.addHostBehind(await lab.addNat(`n${name}`, 'symmetric'), `h${name}`));
    // Here m4 and m5 are not ring neighbours (their link is a session the VPN asks for); the suite
    // below makes them neighbours (the ring itself must link them, through a relay).
    const seeds = await identitiesInOrder(['m1', 'm2', 'm3', 'm4', 'm5'], (order) => !ringAdjacent(order, 'm4', 'm5'));
    for (const [name, seed] of seeds) writeIdentity(join(lab.dir, name), seed);
    const first = await startMember(lab, 'm1', hosts[0] as LabHost);
    members.push(first);
    const rest = await Promise.all(hosts.slice(1).map((h, i) => startMember(lab, `m${i + 2}`, h, { bootstraps: [first.endpoint] })));
    members.push(...rest);
  });

  after(async () => {
    await lab?.destroy();
  });

  const m = (i: number): VpnMember => members[i - 1] as VpnMember;

  test('five members hold distinct virtual IPs, each set on its TAP device with the tunnel MTU', async () => {
    const vips = members.map((x) => x.vip);
    assert.equal(new Set(vips).size, 5, `distinct: ${vips.join(' ')}`);
    for (const x of members) {
      const r = await lab.exec(x.host.ns, IP, ['-o', '-4', 'addr', 'show', 'dev', VPN_TAP]);
      assert.match(r.stdout, new RegExp(`inet ${x.vip.replaceAll('.', '\\.')}/16`), `${x.name}: ${r.stdout}`);
      const link = await lab.exec(x.host.ns, IP, ['-o', 'link', 'show', 'dev', VPN_TAP]);
      assert.match(link.stdout, /mtu 1360/);
    }
  });

  test('every member pings every other by virtual IP (20 ordered pairs), the NATed pair through a relay', async () => {
    const pairs: [VpnMember, VpnMember][] = [];
    for (const a of members) for (const b of members) if (a !== b) pairs.push([a, b]);
    // The NATed pair needs a relay, which the overlay sets up in 2-20 s here: give it a minute.
    const natted = (x: VpnMember): boolean => x === m(4) || x === m(5);
    const results = await Promise.all(pairs.map(([a, b]) => pingUntil(lab, a, b.vip, natted(a) && natted(b) ? 60 : 20)));
    const failed = pairs.filter((_, i) => received(results[i]!) === 0).map(([a, b]) => `${a.name}->${b.name}`);
    assert.deepEqual(failed, [], `pairs without a reply:\n${lab.logs()}`);
    // The first packets may travel over the ring while the session is set up; the two members
    // behind symmetric NATs then talk over a session through a relay.
    const s4 = await lab.waitForStatus(m(4), (s) => s.peers.some((p) => p.address === m(5).address && p.path === 'relayed'), 'get a relayed session with m5', 30_000);
    const to5 = s4.peers.find((p) => p.address === m(5).address);
    const before = ((await memberStatus(lab, m(4))).vpn as { bridge: { packetsOut: number } }).bridge.packetsOut;
    assert.ok(received(await ping(lab, m(4), m(5).vip, 3)) > 0, 'ping over the relayed session');
    const after = ((await memberStatus(lab, m(4))).vpn as { bridge: { packetsOut: number } }).bridge.packetsOut;
    assert.ok(after >= before + 3, 'the pings went over the session, not the ring');
    assert.equal(to5?.vip, m(5).vip, "status shows the peer's virtual IP");
    assert.equal(s4.vip, m(4).vip);
  });

  test('TCP (iperf3) runs between two members', async () => {
    const server = lab.spawn('iperf3-s', m(2).host.ns, IPERF3, ['-s', '-1', '-p', '5201']);
    try {
      await new Promise((r) => setTimeout(r, 500));
      const r = await lab.exec(m(1).host.ns, IPERF3, ['-c', m(2).vip, '-p', '5201', '-t', '3', '-J'], 30_000);
      assert.equal(r.code, 0, r.stderr + r.stdout.slice(0, 400));
      const bps = (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
      assert.ok(bps > 0);
      process.stderr.write(`# iperf3 m1 -> m2 through the VPN: ${(bps / 1e6).toFixed(0)} Mbit/s (a figure, not a target)\n`);
    } finally {
      await server.stop('SIGTERM', 2_000);
    }
  });

  test('a real DHCP client (dhclient) on a member\'s TAP device is offered that member\'s own virtual IP', { skip: existsSync(DHCLIENT) ? false : 'dhclient is not installed' }, async () => {
    const dir = join(lab.dir, 'dhcp');
    const envFile = join(dir, 'env.txt');
    const script = join(dir, 'record.sh');
    await lab.exec(m(2).host.ns, '/usr/bin/mkdir', ['-p', dir]);
    // The script only records what dhclient would configure: nothing on the machine changes.
    writeFileSync(script, `#!/bin/sh\n{ echo "reason=$reason"; echo "new_ip_address=$new_ip_address"; echo "new_subnet_mask=$new_subnet_mask"; echo "new_interface_mtu=$new_interface_mtu"; } >> ${envFile}\n`);
    chmodSync(script, 0o755);
    writeFileSync(join(dir, 'dhclient.conf'), 'request subnet-mask, interface-mtu;\n');
    const client = lab.spawn('dhclient', m(2).host.ns, DHCLIENT, ['-d', '-1', '-v', '-cf', join(dir, 'dhclient.conf'), '-lf', join(dir, 'lease'), '-pf', join(dir, 'pid'), '-sf', script, VPN_TAP]);
    try {
      const bound = (): boolean => existsSync(envFile) && readFileSync(envFile, 'utf8').includes('reason=BOUND');
      const until = Date.now() + 25_000;
      while (!bound() && Date.now() < until && client.running) await new Promise((r) => setTimeout(r, 100));
      assert.ok(bound(), `dhclient did not bind: ${client.tail()}`);
      const env = readFileSync(envFile, 'utf8');
      assert.match(env, new RegExp(`new_ip_address=${m(2).vip.replaceAll('.', '\\.')}\\n`));
      assert.match(env, /new_subnet_mask=255\.255\.0\.0\n/);
      assert.match(client.tail(), new RegExp(`DHCPOFFER of ${m(2).vip.replaceAll('.', '\\.')} from 10\\.254\\.0\\.1`));
    } finally {
      await client.stop('SIGTERM', 2_000);
    }
  });

  test('malformed frames written into a member\'s TAP (truncated, bad lengths, bad checksum, not IPv4, oversized) are dropped; the member keeps working', { skip: PYTHON === undefined ? 'python3 is not installed' : false }, async () => {
    const ns = m(1).host.ns;
    const before = (await memberStatus(lab, m(1))).vpn as { bridge: { filterDrops: Record<string, number> } };
    const mac = (await lab.exec(ns, '/usr/bin/cat', [`/sys/class/net/${VPN_TAP}/address`])).stdout.trim().replaceAll(':', '');
    const ipv4 = (fix: (h: Buffer) => void): string => {
      const h = Buffer.from('4500001c00004000400100000afe00020afe000308000000000000000000', 'hex');
      fix(h);
      return `ffffffffffff${mac}0800${h.toString('hex')}`;
    };
    const checksum = (h: Buffer): void => {
      let sum = 0;
      for (let i = 0; i < 20; i += 2) sum += h.readUInt16BE(i);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      h.writeUInt16BE(~sum & 0xffff, 10);
    };
    const frames = [
      // (A frame shorter than an Ethernet header cannot leave a packet socket: the kernel says EINVAL.)
      `ffffffffffff${mac}0800`, // an IPv4 frame with no packet at all
      `ffffffffffff${mac}0800${'4500001c'}`, // a truncated IPv4 header
      ipv4((h) => {
        h.writeUInt16BE(1400, 2); // total length longer than the packet
        checksum(h);
      }),
      ipv4((h) => h.writeUInt16BE(0x1234, 10)), // bad header checksum
      ipv4((h) => {
        h[0] = 0x4f; // header length beyond the packet
        checksum(h);
      }),
      `ffffffffffff${mac}86dd${'00'.repeat(60)}`, // IPv6: not carried
      `ffffffffffff${mac}0800${'45'.repeat(9_100)}`, // oversized
    ];
    const sender = ['import socket, sys', 's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)', `s.bind((${JSON.stringify(VPN_TAP)}, 0))`, 'for h in sys.argv[1:]:', '    s.send(bytes.fromhex(h))'].join('\n');
    await lab.exec(ns, IP, ['link', 'set', 'dev', VPN_TAP, 'mtu', '9500']);
    try {
      const r = await lab.exec(ns, PYTHON as string, ['-c', sender, ...frames]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await lab.exec(ns, IP, ['link', 'set', 'dev', VPN_TAP, 'mtu', '1360']);
    }
    await new Promise((r) => setTimeout(r, 500));
    const after = (await memberStatus(lab, m(1))).vpn as { bridge: { filterDrops: Record<string, number> } };
    for (const reason of ['bad-ipv4', 'bad-checksum', 'unsupported-ethertype', 'oversized']) {
      assert.ok((after.bridge.filterDrops[reason] ?? 0) > (before.bridge.filterDrops[reason] ?? 0), `dropped as ${reason}: ${JSON.stringify(after.bridge.filterDrops)}`);
    }
    assert.ok(m(1).process.running, 'the member is still running');
    assert.ok(received(await ping(lab, m(1), m(2).vip, 2)) > 0, 'and still carries traffic');
  });

  test('a member restarted (ringvpn down, then up) keeps its virtual IP; down removes its TAP device', async () => {
    const old = m(3);
    const down = await downMember(lab, old);
    assert.equal(down.code, 0, down.stderr);
    assert.ok(!old.process.running, 'the process ended');
    assert.notEqual((await lab.exec(old.host.ns, IP, ['link', 'show', 'dev', VPN_TAP])).code, 0, 'the TAP device is gone');
    const again = await startMember(lab, 'm3b', old.host, { bootstraps: [m(1).endpoint], stateDir: old.stateDir });
    members[2] = again;
    assert.equal(again.vip, old.vip);
    assert.equal(again.address, old.address);
    assert.ok(received(await pingUntil(lab, m(1), again.vip, 20)) > 0, `reachable again:\n${again.process.tail()}`);
  });

  test('two members that ask for the same address at once end with different ones', async () => {
    const [h6, h7] = [await lab.addPublicHost('p6'), await lab.addPublicHost('p7')];
    const [a, b] = await Promise.all([
      startMember(lab, 'm6', h6, { bootstraps: [m(1).endpoint], vip: '10.254.77.77' }),
      startMember(lab, 'm7', h7, { bootstraps: [m(2).endpoint], vip: '10.254.77.77' }),
    ]);
    // Give a conflict between two roots time to be noticed (claims are checked 3 s after they succeed).
    await new Promise((r) => setTimeout(r, 5_000));
    const [sa, sb] = [await memberStatus(lab, a), await memberStatus(lab, b)];
    assert.notEqual(sa.vip, sb.vip, `both hold ${sa.vip}`);
    assert.ok([sa.vip, sb.vip].includes('10.254.77.77'), `one of them got the address asked for: ${sa.vip} ${sb.vip}`);
    assert.ok(received(await pingUntil(lab, a, sb.vip as string, 30)) > 0, 'and they reach each other');
  });
});

describe('two members behind symmetric NATs that are ring neighbours', { skip: unavailable ?? false, timeout: 120_000 }, () => {
  test('reach each other', async () => {
    const lab = await Lab.create();
    try {
      const hosts = [await lab.addPublicHost('p1'), await lab.addPublicHost('p2')];
      for (const name of ['4', '5']) hosts.push(await lab.addHostBehind(await lab.addNat(`n${name}`, 'symmetric'), `h${name}`));
      const seeds = await identitiesInOrder(['m1', 'm2', 'm4', 'm5'], (order) => ringAdjacent(order, 'm4', 'm5'));
      for (const [name, seed] of seeds) writeIdentity(join(lab.dir, name), seed);
      const first = await startMember(lab, 'm1', hosts[0] as LabHost);
      const [, a, b] = await Promise.all(['m2', 'm4', 'm5'].map((n, i) => startMember(lab, n, hosts[i + 1] as LabHost, { bootstraps: [first.endpoint] })));
      assert.ok(received(await pingUntil(lab, a as VpnMember, (b as VpnMember).vip, 30)) > 0, 'm4 reaches m5');
    } finally {
      await lab.destroy();
    }
  });
});
