import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../src/overlay/log.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { SimOverlay, type SimNode } from '../../src/overlay/sim/sim-overlay.js';
import { AddressClaim } from '../../src/vpn/address-claim.js';
import { memoryLeaseStore } from '../../src/vpn/lease-file.js';
import { BROADCAST_MAC, macEquals, parseIpv4, parseMac } from '../../src/vpn/packets/addresses.js';
import { encodeArp, ArpOperation, decodeArp } from '../../src/vpn/packets/arp.js';
import { readU16 } from '../../src/vpn/packets/bytes.js';
import { EtherType, decodeEthernet, encodeEthernet } from '../../src/vpn/packets/ethernet.js';
import { encodeIpv4Frame, encodeUdpFrame } from '../../src/vpn/packets/frames.js';
import { IcmpType, UnreachableCode, decodeIcmp, encodeEcho } from '../../src/vpn/packets/icmp.js';
import { IpProtocol, decodeIpv4, encodeIpv4 } from '../../src/vpn/packets/ipv4.js';
import { decodeTcpHeader, findTcpOption, TcpOption } from '../../src/vpn/packets/tcp.js';
import { parseSubnet } from '../../src/vpn/subnet.js';
import { TapBridge } from '../../src/vpn/tap-bridge.js';
import { TUNNEL_MTU } from '../../src/vpn/vpn-mtu.js';
import { ICMP_ECHO_TO_10_254_0_7, TCP_SYN_TO_10_254_0_7_PORT_80 } from './vpn-fixtures.js';

/**
 * The bridge over the simulator's overlay (real nodes, DHT, sessions): what one member's host puts
 * into its TAP device comes out of another member's, and only what should. The "TAP devices" are
 * frame lists (the real device is in test/netns/vpn-lan.test.ts).
 */
const NETWORK = '5a'.repeat(16);
const SUBNET = ((): ReturnType<typeof parseSubnet> & { ok: true } => {
  const r = parseSubnet('10.254.0.0/16');
  assert.ok(r.ok);
  return r;
})().value;
const HOST_A_MAC = parseMac('8a:e2:fb:9b:65:43') as Uint8Array; // the fixtures' host
const HOST_B_MAC = parseMac('8a:00:00:00:00:0b') as Uint8Array;
const GATEWAY = parseMac('02:52:56:00:00:01') as Uint8Array; // the fixtures' local MAC
const A_IP = parseIpv4('10.254.0.2') as number;
const B_IP = parseIpv4('10.254.0.7') as number;
const SECOND = 1_000;

interface Member {
  sim: SimNode;
  bridge: TapBridge;
  claim: AddressClaim;
  out: Uint8Array[];
}

function member(s: SimNode, ip: number, hostMac: Uint8Array, i: number): Member {
  const out: Uint8Array[] = [];
  const bridge = new TapBridge(
    { networkIdHex: NETWORK, subnet: SUBNET, gatewayMac: GATEWAY, hostMac, tunnelMtu: TUNNEL_MTU },
    { node: s.node, tap: { write: (f: Uint8Array) => (out.push(Uint8Array.from(f)), true) }, clock: s.clock, random: createSeededRandom(`bridge-${i}`), log: silentLogger },
  );
  const claim = new AddressClaim(
    { networkIdHex: NETWORK, subnet: SUBNET, preferred: ip },
    { dht: s.node.dht, self: s.node.address, clock: s.clock, random: createSeededRandom(`m${i}`), leases: memoryLeaseStore(), log: silentLogger },
  );
  claim.onChange((vip) => bridge.setAddress(vip));
  claim.start();
  return { sim: s, bridge, claim, out };
}

async function lan(): Promise<{ sim: SimOverlay; a: Member; b: Member; c: SimNode }> {
  const sim = await SimOverlay.create({ seed: 'vpn-bridge', encrypt: true });
  for (let i = 0; i < 8; i++) sim.queue.schedule(sim.now + i * 2 * SECOND, () => sim.spawn());
  sim.queue.runUntil(sim.now + 60 * SECOND);
  const [sa, sb, sc] = sim.live() as [SimNode, SimNode, SimNode];
  const a = member(sa, A_IP, HOST_A_MAC, 0);
  const b = member(sb, B_IP, HOST_B_MAC, 1);
  sim.queue.runUntil(sim.now + 10 * SECOND);
  assert.equal(a.bridge.address, A_IP);
  assert.equal(b.bridge.address, B_IP);
  return { sim, a, b, c: sc };
}

function stop(sim: SimOverlay, members: Member[]): void {
  for (const m of members) {
    m.bridge.stop();
    m.claim.stop();
  }
  for (const s of sim.live()) sim.kill(s);
  sim.queue.runUntil(sim.now + 60 * SECOND);
  assert.equal(sim.nodes.reduce((n, s) => n + s.clock.activeTimers(), 0), 0, 'no timers left behind');
}

const ipv4Of = (frame: Uint8Array) => {
  const eth = decodeEthernet(frame);
  assert.ok(eth.ok && eth.value.etherType === EtherType.IPV4);
  const ip = decodeIpv4(eth.value.payload);
  assert.ok(ip.ok, 'a valid IPv4 packet');
  return { eth: eth.value, ip: ip.value };
};

test('ARP for any member address is answered with the gateway MAC; a ping crosses the overlay and comes out with the right Ethernet header', async () => {
  const { sim, a, b } = await lan();
  const arp = encodeEthernet(BROADCAST_MAC, HOST_A_MAC, EtherType.ARP, encodeArp({ operation: ArpOperation.REQUEST, senderMac: HOST_A_MAC, senderIp: A_IP, targetMac: new Uint8Array(6), targetIp: B_IP }));
  a.bridge.onFrames([arp]);
  assert.equal(a.out.length, 1);
  const eth = decodeEthernet(a.out[0] as Uint8Array);
  assert.ok(eth.ok && eth.value.etherType === EtherType.ARP && macEquals(eth.value.source, GATEWAY));
  const reply = decodeArp(eth.value.payload);
  assert.ok(reply.ok);
  assert.equal(reply.value.operation, ArpOperation.REPLY);
  assert.equal(reply.value.senderIp, B_IP);
  assert.ok(macEquals(reply.value.senderMac, GATEWAY));

  const echo = ICMP_ECHO_TO_10_254_0_7();
  a.out.length = 0;
  a.bridge.onFrames([echo]);
  sim.queue.runUntil(sim.now + 10 * SECOND);
  assert.equal(b.out.length, 1, `B's host got the ping (${b.bridge.describe()})`);
  const got = ipv4Of(b.out[0] as Uint8Array);
  assert.ok(macEquals(got.eth.destination, HOST_B_MAC) && macEquals(got.eth.source, GATEWAY));
  assert.deepEqual(got.ip.packet, echo.subarray(14), 'the IP packet arrives unchanged');
  assert.equal(b.bridge.resolver.vipOf(a.sim.node.address), A_IP, "B learned A's virtual IP (status shows it)");

  // B's host answers; the reply goes back over the session at once (owner known, session up).
  const answer = encodeIpv4Frame(GATEWAY, HOST_B_MAC, encodeEcho('reply', B_IP, A_IP, 0x0c33, 1, new Uint8Array(8)));
  b.bridge.onFrames([answer]);
  sim.queue.runUntil(sim.now + SECOND);
  assert.equal(a.out.length, 1);
  assert.equal(ipv4Of(a.out[0] as Uint8Array).ip.header.source, B_IP);
  stop(sim, [a, b]);
});

test('TCP SYNs are clamped to the tunnel MSS; too-big packets with DF get "fragmentation needed"; an address nobody owns gets "host unreachable"', async () => {
  const { sim, a, b } = await lan();
  a.bridge.onFrames([TCP_SYN_TO_10_254_0_7_PORT_80()]);
  sim.queue.runUntil(sim.now + 10 * SECOND);
  assert.equal(b.out.length, 1);
  const syn = ipv4Of(b.out[0] as Uint8Array).ip;
  const tcp = decodeTcpHeader(syn.payload);
  assert.ok(tcp.ok);
  const at = findTcpOption(tcp.value.options, TcpOption.MSS);
  assert.ok(at.ok && at.value !== undefined);
  assert.equal(readU16(tcp.value.options, at.value + 2), TUNNEL_MTU - 40, 'MSS clamped from 1460');

  a.out.length = 0;
  const big = encodeIpv4Frame(GATEWAY, HOST_A_MAC, encodeIpv4({ source: A_IP, destination: B_IP, protocol: IpProtocol.UDP, dontFragment: true }, new Uint8Array(1500)));
  a.bridge.onFrames([big]);
  assert.equal(a.out.length, 1);
  const needed = ipv4Of(a.out[0] as Uint8Array).ip;
  const icmp = decodeIcmp(needed.payload);
  assert.ok(icmp.ok);
  assert.deepEqual([icmp.value.type, icmp.value.code, icmp.value.nextHopMtu], [IcmpType.DESTINATION_UNREACHABLE, UnreachableCode.FRAGMENTATION_NEEDED, TUNNEL_MTU]);

  a.out.length = 0;
  a.bridge.onFrames([encodeIpv4Frame(GATEWAY, HOST_A_MAC, encodeEcho('request', A_IP, parseIpv4('10.254.99.99') as number, 1, 1, new Uint8Array(8)))]);
  sim.queue.runUntil(sim.now + 30 * SECOND);
  assert.equal(a.out.length, 1, a.bridge.describe());
  const unreachable = decodeIcmp(ipv4Of(a.out[0] as Uint8Array).ip.payload);
  assert.ok(unreachable.ok);
  assert.deepEqual([unreachable.value.type, unreachable.value.code], [IcmpType.DESTINATION_UNREACHABLE, UnreachableCode.HOST]);
  stop(sim, [a, b]);
});

test('a peer cannot send from an address it does not own; garbage datagrams are dropped; broadcasts reach the other hosts', async () => {
  const { sim, a, b, c } = await lan();
  // Let A and B find each other first (B knows A owns A_IP).
  a.bridge.onFrames([ICMP_ECHO_TO_10_254_0_7()]);
  sim.queue.runUntil(sim.now + 10 * SECOND);
  b.out.length = 0;
  // C (a member without that address) sends B a packet claiming to come from A's address.
  c.node.openSession(b.sim.node.address);
  sim.queue.runUntil(sim.now + 10 * SECOND);
  const forged = encodeEcho('request', A_IP, B_IP, 9, 9, new Uint8Array(8));
  assert.ok(c.node.sendDatagram(b.sim.node.address, forged), 'C has a session with B');
  // And garbage of every length.
  const random = createSeededRandom('garbage');
  for (let i = 0; i < 300; i++) c.node.sendDatagram(b.sim.node.address, random.bytes(1 + random.int(1500)));
  sim.queue.runUntil(sim.now + 10 * SECOND);
  assert.equal(b.out.length, 0, 'nothing reached B\'s host');
  assert.ok((b.bridge.stats.drops['in-spoofed'] ?? 0) >= 1);
  assert.ok((b.bridge.stats.drops['in-malformed'] ?? 0) + (b.bridge.stats.drops['in-not-for-us'] ?? 0) >= 250);

  // A LAN broadcast from A's host (e.g. a discovery protocol) comes out of B's TAP as a broadcast.
  const hello = encodeUdpFrame({ destinationMac: BROADCAST_MAC, sourceMac: HOST_A_MAC, sourceIp: A_IP, destinationIp: SUBNET.broadcast, sourcePort: 5353, destinationPort: 5353 }, new Uint8Array([1, 2, 3]));
  a.bridge.onFrames([hello]);
  sim.queue.runUntil(sim.now + 10 * SECOND);
  assert.equal(b.out.length, 1);
  const got = ipv4Of(b.out[0] as Uint8Array);
  assert.ok(macEquals(got.eth.destination, BROADCAST_MAC));
  assert.equal(got.ip.header.source, A_IP);
  stop(sim, [a, b]);
});
