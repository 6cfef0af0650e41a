import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSeededRandom } from '../../src/overlay/random.js';
import { formatIpv4, formatMac, parseIpv4 } from '../../src/vpn/packets/addresses.js';
import { readU16, readU32, writeU16, writeU32 } from '../../src/vpn/packets/bytes.js';
import { internetChecksum, pseudoHeaderSum } from '../../src/vpn/packets/checksum.js';
import { IcmpType } from '../../src/vpn/packets/icmp.js';
import { IpProtocol, encodeIpv4 } from '../../src/vpn/packets/ipv4.js';
import { TcpFlag } from '../../src/vpn/packets/tcp.js';
import { clampTcpMss } from '../../src/vpn/mss-clamp.js';
import { loadTapAddon } from '../../src/vpn/tap-addon.js';
import { TapDevice } from '../../src/vpn/tap-device.js';
import { LAB_SUBNET, LOCAL_MAC, LabNode } from './tap-lab-node.js';
import { TapLab, tapLabUnavailable } from './tap-lab.js';

const unavailable = tapLabUnavailable();
if (unavailable !== undefined) console.log(`# Skipping the TAP namespace tests: ${unavailable}.`);
const ADDON_PATH = new URL('../../native-helpers/tap/build/Release/tap.node', import.meta.url).pathname;
const HOST = '10.254.0.2';
const TUNNEL_MTU = 1280;
const ip = (text: string): number => parseIpv4(text) as number;

/** Runs a tiny CommonJS script against the addon in a child process (as another user, or in the namespace). */
function runAddonScript(
  script: string,
  options: { uid?: number; gid?: number; namespace?: string; wrap?: readonly string[] } = {},
): { status: number | null; out: string } {
  const node = [process.execPath, '-e', `const tap = require(${JSON.stringify(ADDON_PATH)});\n${script}`];
  const prefix = options.namespace === undefined ? [] : ['/usr/sbin/ip', 'netns', 'exec', options.namespace];
  const [command, ...argv] = [...prefix, ...(options.wrap ?? []), ...node] as [string, ...string[]];
  const r = spawnSync(command, argv, { encoding: 'utf8', timeout: 10_000, uid: options.uid, gid: options.gid, cwd: '/' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('the TAP addon on its own (root namespace, devices never brought up)', { skip: unavailable }, () => {
  test('open, MAC, MTU, close; errors carry a code and plain words', () => {
    const tap = TapDevice.open('rvtapunit%d');
    try {
      assert.match(tap.name, /^rvtapunit\d+$/);
      assert.equal(tap.mac().length, 6);
      assert.equal((tap.mac()[0] as number) & 1, 0, 'a unicast MAC');
      tap.setMtu(1400);
      assert.equal(tap.mtu(), 1400);
      assert.throws(() => tap.setMtu(20), { code: 'ERR_TAP_ARGUMENT' });
      assert.throws(() => TapDevice.open(tap.name), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'ERR_TAP_BUSY');
        assert.match(e.message, /already in use by another process/);
        return true;
      });
      assert.equal(tap.write(new Uint8Array(60)), false, 'a device that is down drops frames');
      assert.equal(tap.stats().writeDrops, 1);
    } finally {
      tap.close();
    }
    assert.throws(() => tap.write(new Uint8Array(60)), { code: 'ERR_TAP_CLOSED' });
    tap.close();
    assert.throws(() => TapDevice.open('lo'), (e: Error & { code?: string }) => e.code === 'ERR_TAP_INVALID' && /not a TAP device/.test(e.message));
    assert.throws(() => TapDevice.open('bad/name'), { code: 'ERR_TAP_ARGUMENT' });
    assert.throws(() => TapDevice.open('a-name-longer-than-15'), { code: 'ERR_TAP_ARGUMENT' });
    assert.throws(() => loadTapAddon().getMac('rvtapnone0'), (e: Error & { code?: string }) => e.code === 'ERR_TAP_NO_INTERFACE' && /no interface "rvtapnone0"/.test(e.message));
  });

  test('without CAP_NET_ADMIN a process cannot create a device, but attaches to a persistent one the helper made for it', (t) => {
    // The ideal subject is an ordinary user; where /dev/net/tun is not world-writable (mode 0600 in
    // some containers) only root can open it at all, so the subject is root without CAP_NET_ADMIN.
    const worldWritable = (statSync('/dev/net/tun').mode & 0o006) === 0o006;
    const nobody = 65_534;
    if (!worldWritable) {
      const noAccess = runAddonScript(`try { tap.open('rvtapdenied0'); } catch (e) { console.log(e.code + ' ' + e.message); }`, { uid: nobody, gid: nobody });
      assert.match(noAccess.out, /^ERR_TAP_PERMISSION .*\/dev\/net\/tun.*mode 0666/m, noAccess.out);
      if (!existsSync('/usr/bin/setpriv')) {
        t.skip('/dev/net/tun is not world-writable and setpriv (util-linux) is missing');
        return;
      }
    }
    const subject = worldWritable ? { uid: nobody, gid: nobody, wrap: [] as string[] } : { uid: 0, gid: 0, wrap: ['/usr/bin/setpriv', '--bounding-set=-net_admin', '--inh-caps=-net_admin'] };
    const asSubject = (script: string): string =>
      runAddonScript(script, { uid: subject.uid === 0 ? undefined : subject.uid, gid: subject.gid === 0 ? undefined : subject.gid, wrap: subject.wrap }).out;
    const name = `rvtappers${process.pid % 10_000}`;
    const denied = asSubject(`try { tap.open('rvtapdenied0'); console.log('opened'); } catch (e) { console.log(e.code + ' ' + e.message); }`);
    assert.match(denied, /^ERR_TAP_PERMISSION .*needs root.*helper/m, denied);
    try {
      assert.equal(TapDevice.createPersistent(name, subject.uid, subject.gid), name);
      const attached = asSubject(`const h = tap.open(${JSON.stringify(name)}); console.log('attached ' + h.name + ' ' + tap.getMac(h.name).length); tap.close(h);`);
      assert.match(attached, new RegExp(`^attached ${name} 6$`, 'm'), attached);
      const mtu = asSubject(`try { tap.setMtu(${JSON.stringify(name)}, 1300); } catch (e) { console.log(e.code + ' ' + e.message); }`);
      assert.match(mtu, /^ERR_TAP_PERMISSION .*needs root/m, mtu);
      assert.match(spawnSync('/usr/sbin/ip', ['link', 'show', name], { encoding: 'utf8' }).stdout, new RegExp(name), 'still there after the user closed it');
    } finally {
      TapDevice.deletePersistent(name);
    }
    assert.notEqual(spawnSync('/usr/sbin/ip', ['link', 'show', name], { stdio: 'ignore' }).status, 0, 'gone after deletePersistent');
  });
});

describe('a TAP device in a network namespace, served by the VPN packet pieces', { skip: unavailable, timeout: 120_000 }, () => {
  let lab: TapLab;
  let node: LabNode;
  let workDir: string;

  before(() => {
    lab = TapLab.create({ address: `${HOST}/16` });
    node = new LabNode(lab.tap, { hostAddress: HOST, tunnelMtu: TUNNEL_MTU });
    workDir = mkdtempSync(join(tmpdir(), 'ringvpn-tap-'));
  });

  after(() => {
    lab?.dispose();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  test('the addon sets the MTU and the link state inside the namespace', () => {
    const r = runAddonScript(
      `const n = ${JSON.stringify(lab.tap.name)}; tap.setMtu(n, 1400); tap.setUp(n, false); const down = require('fs').readFileSync('/sys/class/net/' + n + '/operstate', 'utf8').trim(); tap.setUp(n, true); console.log(tap.getMtu(n) + ' ' + down);`,
      { namespace: lab.namespace },
    );
    assert.match(r.out, /^1400 down$/m, r.out);
    const link = lab.exec('ip', ['link', 'show', lab.tap.name]);
    assert.match(link, /mtu 1400/);
    assert.match(link, /[<,]UP[,>]/);
    // From the root namespace, the device is not there any more.
    assert.throws(() => lab.tap.mtu(), { code: 'ERR_TAP_NO_INTERFACE' });
  });

  test("(a) the namespace kernel's ARP request for a subnet address is answered with the local MAC", async () => {
    node.answerPings = false;
    const before = node.arp.counters.replies;
    await lab.runAsync('ping', ['-c', '1', '-W', '1', '10.254.0.7']);
    await node.waitFor(() => node.arp.counters.replies > before, 'an ARP reply');
    const neighbour = lab.exec('ip', ['neigh', 'show', '10.254.0.7', 'dev', lab.tap.name]);
    assert.match(neighbour, new RegExp(`lladdr ${formatMac(LOCAL_MAC)}`), neighbour);
    assert.doesNotMatch(neighbour, /FAILED|INCOMPLETE/);
    node.answerPings = true;
  });

  test('(b) ping from the namespace reaches JavaScript as ICMP echo and the replies written back reach ping', async () => {
    const echoes = (): number => node.seen.filter((s) => s.class === 'ipv4-unicast' && s.frame[34] === IcmpType.ECHO_REQUEST).length;
    const before = echoes();
    const r = await lab.runAsync('ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.254.0.9'], 15_000);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 packets transmitted, 3 received/);
    assert.ok(echoes() - before >= 3, `saw ${echoes() - before} echo requests`);
    const services = await lab.runAsync('ping', ['-c', '1', '-W', '2', formatIpv4(LAB_SUBNET.servicesAddress)]);
    assert.equal(services.status, 0, `the services address answers too: ${services.stdout}`);
    assert.deepEqual(node.errors, []);
  });

  test('a packet over the tunnel MTU gets "fragmentation needed", and the kernel lowers its path MTU', async () => {
    const r = await lab.runAsync('ping', ['-c', '1', '-W', '2', '-M', 'do', '-s', '1300', '10.254.0.11'], 10_000);
    assert.notEqual(r.status, 0);
    assert.match(r.stdout + r.stderr, new RegExp(`mtu = ${TUNNEL_MTU}`), r.stdout + r.stderr);
    const route = lab.exec('ip', ['route', 'get', '10.254.0.11']);
    assert.match(route, new RegExp(`mtu ${TUNNEL_MTU}`), route);
    const small = await lab.runAsync('ping', ['-c', '1', '-W', '2', '-M', 'do', '-s', String(TUNNEL_MTU - 28), '10.254.0.11']);
    assert.equal(small.status, 0, small.stdout);
  });

  test("TCP: the host's SYN is clamped, and a SYN-ACK whose MSS was clamped in place is accepted by the real kernel", async () => {
    const peer = ip('10.254.0.20');
    let synMss = 0;
    let handshakeAck = false;
    let ourSeq = 0x1000_0000;
    node.onUnicast = (header, packet) => {
      if (header.protocol !== IpProtocol.TCP || header.destination !== peer) return undefined;
      const tcp = packet.subarray(header.headerLength);
      const flags = (tcp[13] as number) & 0x3f;
      if (flags === TcpFlag.SYN) {
        synMss = readU16(tcp, 22); // the host's SYN, already clamped by the node (MSS is the first option on Linux)
        return [synAck(header.destination, header.source, readU16(tcp, 2), readU16(tcp, 0), ourSeq, readU32(tcp, 4) + 1)];
      }
      if ((flags & TcpFlag.ACK) !== 0 && readU32(tcp, 8) === ourSeq + 1) handshakeAck = true;
      return [];
    };
    try {
      const r = await lab.runAsync('timeout', ['5', 'bash', '-c', 'exec 3<>/dev/tcp/10.254.0.20/8080 && echo connected'], 10_000);
      assert.match(r.stdout, /connected/, `the kernel accepted the SYN-ACK: ${r.stdout}${r.stderr}`);
      await node.waitFor(() => handshakeAck, 'the final ACK of the handshake');
      assert.equal(synMss, TUNNEL_MTU - 40, 'the SYN seen after the clamp');
    } finally {
      node.onUnicast = undefined;
      ourSeq++;
    }

    function synAck(source: number, destination: number, sourcePort: number, destinationPort: number, seq: number, ack: number): Uint8Array {
      // NOP, then MSS 1460 at an odd offset, then NOP padding: clamped to 1000 in place below.
      const options = [1, 2, 4, 0x05, 0xb4, 1, 1, 1];
      const segment = new Uint8Array(20 + options.length);
      writeU16(segment, 0, sourcePort);
      writeU16(segment, 2, destinationPort);
      writeU32(segment, 4, seq);
      writeU32(segment, 8, ack);
      segment[12] = ((20 + options.length) / 4) << 4;
      segment[13] = TcpFlag.SYN | TcpFlag.ACK;
      writeU16(segment, 14, 65_000);
      segment.set(options, 20);
      writeU16(segment, 16, internetChecksum(segment, 0, segment.length, pseudoHeaderSum(source, destination, IpProtocol.TCP, segment.length)));
      const packet = encodeIpv4({ source, destination, protocol: IpProtocol.TCP }, segment);
      assert.deepEqual(clampTcpMss(packet, 1000), { kind: 'clamped', from: 1460, to: 1000 });
      return packet;
    }
  });

  test("(c) a real DHCP client (dhclient) is offered and acked the node's own virtual address", async (t) => {
    if (!existsSync('/usr/sbin/dhclient') && !existsSync('/sbin/dhclient')) {
      t.skip('dhclient (isc-dhcp-client) is not installed');
      return;
    }
    const dhclient = existsSync('/usr/sbin/dhclient') ? '/usr/sbin/dhclient' : '/sbin/dhclient';
    const envFile = join(workDir, 'dhclient-env.txt');
    const script = join(workDir, 'dhclient-script.sh');
    // The script only records what dhclient would configure: nothing is changed, /etc/resolv.conf included.
    writeFileSync(script, `#!/bin/sh\n{ echo "reason=$reason"; echo "new_ip_address=$new_ip_address"; echo "new_subnet_mask=$new_subnet_mask"; echo "new_dhcp_server_identifier=$new_dhcp_server_identifier"; echo "new_dhcp_lease_time=$new_dhcp_lease_time"; echo "new_routers=$new_routers"; } >> ${envFile}\n`);
    chmodSync(script, 0o755);
    writeFileSync(join(workDir, 'dhclient.conf'), '');
    const offersBefore = node.dhcp.counters.offers;
    const acksBefore = node.dhcp.counters.acks;
    let child: ChildProcess | undefined;
    try {
      child = spawn(
        '/usr/sbin/ip',
        ['netns', 'exec', lab.namespace, dhclient, '-d', '-1', '-v', '-cf', join(workDir, 'dhclient.conf'), '-lf', join(workDir, 'lease'), '-pf', join(workDir, 'pid'), '-sf', script, lab.tap.name],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let log = '';
      child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      const bound = (): boolean => existsSync(envFile) && readFileSync(envFile, 'utf8').includes('reason=BOUND');
      const deadline = Date.now() + 25_000;
      while (!bound() && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      assert.ok(bound(), `dhclient did not bind within 25 s. Its log:\n${log}\n${node.describe()}`);
      const env = readFileSync(envFile, 'utf8');
      assert.match(env, new RegExp(`new_ip_address=${HOST}\\n`));
      assert.match(env, /new_subnet_mask=255\.255\.0\.0\n/);
      assert.match(env, new RegExp(`new_dhcp_server_identifier=${formatIpv4(LAB_SUBNET.servicesAddress)}\\n`));
      assert.match(env, /new_dhcp_lease_time=600\n/);
      assert.match(env, /new_routers=\n/, 'no default route offered');
      assert.match(log, /DHCPOFFER of 10\.254\.0\.2 from 10\.254\.0\.1/);
      assert.match(log, /DHCPACK of 10\.254\.0\.2 from 10\.254\.0\.1/);
      assert.ok(node.dhcp.counters.offers > offersBefore && node.dhcp.counters.acks > acksBefore);
    } finally {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child?.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    }
  });

  test('(d) malformed frames sent by the namespace are dropped with a reason; garbage written into the TAP does no harm', async (t) => {
    // Part 1: frames of every malformed kind leave the namespace through a packet socket and reach the node.
    const hostMac = formatMac(lab.hostMac).replaceAll(':', '');
    const local = formatMac(LOCAL_MAC).replaceAll(':', '');
    const echoFrame = (): Uint8Array => {
      const packet = encodeIpv4({ source: ip(HOST), destination: ip('10.254.0.7'), protocol: IpProtocol.ICMP }, Uint8Array.of(8, 0, 0xf7, 0xff, 0, 0, 0, 0));
      return Uint8Array.from(Buffer.from(local + hostMac + '0800' + Buffer.from(packet).toString('hex'), 'hex'));
    };
    const withSource = (frame: Uint8Array, tag: number): Uint8Array => {
      const f = Uint8Array.from(frame);
      f.set([0x02, 0xba, 0xd0, 0, 0, tag], 6);
      return f;
    };
    const mutate = (g: (b: Uint8Array) => void): Uint8Array => {
      const b = echoFrame();
      g(b);
      return b;
    };
    const malformed: Array<[string, Uint8Array]> = [
      ['unsupported-ethertype', Uint8Array.from(Buffer.from(local + hostMac + '86dd' + '00'.repeat(40), 'hex'))],
      ['bad-arp', Uint8Array.from(Buffer.from('ffffffffffff' + hostMac + '0806' + '0001080006', 'hex'))],
      ['bad-ipv4', echoFrame().subarray(0, 30)],
      ['bad-ipv4', mutate((b) => (b[14] = 0x65))],
      ['bad-ipv4', mutate((b) => (b[14] = 0x43))],
      ['bad-ipv4', mutate((b) => writeU16(b, 16, 1500))],
      ['bad-checksum', mutate((b) => (b[22] = 1))],
      ['bad-source', mutate((b) => (b[29] = 99)).map((v, i) => (i === 24 || i === 25 ? v : v))],
      ['wrong-mac', mutate((b) => b.set([0x02, 0, 0, 0, 0, 0x42], 0))],
      ['unsupported-ethertype', Uint8Array.from(Buffer.from(local + hostMac + '0040' + '00'.repeat(46), 'hex'))],
    ];
    // The spoofed source needs a valid header checksum to be judged on its source.
    const spoofed = malformed[7]?.[1] as Uint8Array;
    writeU16(spoofed, 24, 0);
    writeU16(spoofed, 24, internetChecksum(spoofed, 14, 34));
    const tagged = malformed.map(([, frame], i) => withSource(frame, i + 1));
    const python = spawnSync('python3', ['--version']);
    if (python.status !== 0) {
      t.diagnostic('python3 is missing: skipping the packet-socket half');
    } else {
      const sender = [
        'import socket, sys',
        's = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)',
        `s.bind((${JSON.stringify(lab.tap.name)}, 0))`,
        'for h in sys.argv[1:]:',
        '    s.send(bytes.fromhex(h))',
      ].join('\n');
      lab.exec('python3', ['-c', sender, ...tagged.map((f) => Buffer.from(f).toString('hex'))]);
      const ours = (): typeof node.seen => node.seen.filter((s) => s.frame[6] === 0x02 && s.frame[7] === 0xba && s.frame[8] === 0xd0);
      await node.waitFor(() => ours().length >= tagged.length, `all ${tagged.length} malformed frames`);
      for (const s of ours()) {
        const index = (s.frame[11] as number) - 1;
        assert.equal(s.class, 'drop', `frame ${index}`);
        assert.equal(s.reason, malformed[index]?.[0], `frame ${index}`);
      }
    }
    // Part 2: 2,000 random and mutated frames written into the TAP: the kernel drops or ignores them.
    const random = createSeededRandom('tap garbage');
    const garbage: Uint8Array[] = [];
    for (let i = 0; i < 2_000; i++) {
      const seed = echoFrame();
      const b = random.int(3) === 0 ? random.bytes(random.int(1600)) : seed.subarray(0, random.int(seed.length + 1));
      if (b.length > 0 && random.int(2) === 0) b[random.int(b.length)] = random.int(256);
      garbage.push(b);
    }
    const taken = lab.tap.writeBatch(garbage);
    assert.ok(taken <= garbage.length);
    assert.equal(lab.tap.stats().framesWritten + lab.tap.stats().writeDrops >= garbage.length, true);
    const r = await lab.runAsync('ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.254.0.9'], 10_000);
    assert.equal(r.status, 0, `the namespace and the node still work: ${r.stdout}`);
    assert.deepEqual(node.errors, []);
  });
});

describe('a TAP device whose namespace disappears', { skip: unavailable, timeout: 30_000 }, () => {
  test('the reader gets ERR_TAP_GONE in plain words, and writes are counted as drops', async () => {
    const lab = TapLab.create({ address: `${HOST}/16` });
    try {
      const errors: Array<Error & { code?: string }> = [];
      lab.tap.onFrames(
        () => undefined,
        (e) => errors.push(e),
      );
      spawnSync('/usr/sbin/ip', ['netns', 'del', lab.namespace]);
      const deadline = Date.now() + 5_000;
      while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(errors.length, 1);
      assert.equal(errors[0]?.code, 'ERR_TAP_GONE');
      assert.match(errors[0]?.message ?? '', /was deleted .*open it again/);
      assert.equal(lab.tap.write(new Uint8Array(60)), false);
      assert.equal(lab.tap.stats().writeDrops, 1);
    } finally {
      lab.dispose();
    }
  });
});
