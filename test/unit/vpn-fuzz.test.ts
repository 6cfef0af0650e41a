import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Random, createSeededRandom } from '../../src/overlay/random.js';
import { ArpResponder } from '../../src/vpn/arp-responder.js';
import { DhcpServer } from '../../src/vpn/dhcp-server.js';
import { FrameFilter } from '../../src/vpn/frame-filter.js';
import { clampTcpMss } from '../../src/vpn/mss-clamp.js';
import { BROADCAST_MAC, parseIpv4, parseMac } from '../../src/vpn/packets/addresses.js';
import { ArpOperation, decodeArp, encodeArp } from '../../src/vpn/packets/arp.js';
import { readU16, writeU16 } from '../../src/vpn/packets/bytes.js';
import { internetChecksum, pseudoHeaderSum } from '../../src/vpn/packets/checksum.js';
import { BootpOp, DhcpMessageType, decodeDhcp, encodeDhcp } from '../../src/vpn/packets/dhcp.js';
import type { PacketError } from '../../src/vpn/packets/errors.js';
import { EtherType, decodeEthernet, encodeEthernet } from '../../src/vpn/packets/ethernet.js';
import { encodeIpv4Frame, encodeUdpFrame } from '../../src/vpn/packets/frames.js';
import { decodeIcmp, encodeEcho, encodeFragmentationNeeded, mayAnswerWithIcmpError } from '../../src/vpn/packets/icmp.js';
import { IpProtocol, decodeIpv4, encodeIpv4 } from '../../src/vpn/packets/ipv4.js';
import { decodeTcpHeader, findTcpOption } from '../../src/vpn/packets/tcp.js';
import { decodeUdp } from '../../src/vpn/packets/udp.js';
import { parseSubnet } from '../../src/vpn/subnet.js';
import { ARP_REQUEST_FOR_10_254_0_7, DHCP_DISCOVER_FROM_DHCLIENT, ICMP_ECHO_TO_10_254_0_7, TCP_SYN_TO_10_254_0_7_PORT_80 } from './vpn-fixtures.js';

const FRAMES = 100_000;
const ERROR_CODES = new Set(['too-short', 'bad-length', 'bad-version', 'bad-header-length', 'bad-checksum', 'bad-option', 'bad-value', 'unsupported']);
const ip = (text: string): number => parseIpv4(text) as number;
const subnetResult = parseSubnet('10.254.0.0/16');
assert.ok(subnetResult.ok);
const subnet = subnetResult.value;
const LOCAL_MAC = parseMac('02:52:56:00:00:01') as Uint8Array;
const HOST_MAC = parseMac('8a:e2:fb:9b:65:43') as Uint8Array;

/** Real frames plus one of every kind the VPN builds or expects. */
function corpus(): Uint8Array[] {
  const host = ip('10.254.0.2');
  const dhcp = (messageType: number, extra: object = {}): Uint8Array =>
    encodeUdpFrame(
      { destinationMac: BROADCAST_MAC, sourceMac: HOST_MAC, sourceIp: 0, destinationIp: 0xffffffff, sourcePort: 68, destinationPort: 67 },
      encodeDhcp({ op: BootpOp.REQUEST, xid: 9, broadcast: false, clientAddress: 0, yourAddress: 0, clientMac: HOST_MAC, messageType, ...extra }),
    );
  const syn = TCP_SYN_TO_10_254_0_7_PORT_80();
  const synIp = decodeIpv4(syn.subarray(14));
  assert.ok(synIp.ok);
  return [
    ARP_REQUEST_FOR_10_254_0_7(),
    DHCP_DISCOVER_FROM_DHCLIENT(),
    ICMP_ECHO_TO_10_254_0_7(),
    syn,
    dhcp(DhcpMessageType.REQUEST, { requestedIp: host, serverId: subnet.servicesAddress }),
    dhcp(DhcpMessageType.REQUEST, { requestedIp: ip('10.254.0.77') }),
    dhcp(DhcpMessageType.INFORM, { clientAddress: host }),
    encodeEthernet(BROADCAST_MAC, HOST_MAC, EtherType.ARP, encodeArp({ operation: ArpOperation.REPLY, senderMac: HOST_MAC, senderIp: host, targetMac: LOCAL_MAC, targetIp: ip('10.254.0.5') })),
    encodeUdpFrame(
      { destinationMac: parseMac('01:00:5e:00:00:fb') as Uint8Array, sourceMac: HOST_MAC, sourceIp: host, destinationIp: ip('224.0.0.251'), sourcePort: 5353, destinationPort: 5353 },
      new Uint8Array(40),
    ),
    encodeIpv4Frame(LOCAL_MAC, HOST_MAC, encodeFragmentationNeeded(subnet.servicesAddress, synIp.value.packet, synIp.value.header, 1380)),
    encodeIpv4Frame(LOCAL_MAC, HOST_MAC, encodeIpv4({ source: host, destination: ip('10.254.0.9'), protocol: 2, options: Uint8Array.of(0x94, 4, 0, 0) }, new Uint8Array(8))),
    encodeIpv4Frame(LOCAL_MAC, HOST_MAC, encodeEcho('request', host, ip('8.8.8.8'), 7, 7, new Uint8Array(1400))),
    encodeEthernet(LOCAL_MAC, HOST_MAC, EtherType.IPV6, new Uint8Array(60)),
  ];
}

/** Recomputes the IPv4, UDP, TCP and ICMP checksums where the headers allow, so mutations reach the deeper decoders. */
function fixChecksums(frame: Uint8Array): void {
  if (frame.length < 34 || readU16(frame, 12) !== EtherType.IPV4) return;
  const ihl = ((frame[14] as number) & 0x0f) * 4;
  if (ihl < 20 || 14 + ihl > frame.length) return;
  writeU16(frame, 24, 0);
  writeU16(frame, 24, internetChecksum(frame, 14, 14 + ihl));
  const total = Math.min(readU16(frame, 16), frame.length - 14);
  const l4 = 14 + ihl;
  const l4Length = total - ihl;
  const protocol = frame[23];
  const src = ((frame[26]! << 24) | (frame[27]! << 16) | (frame[28]! << 8) | frame[29]!) >>> 0;
  const dst = ((frame[30]! << 24) | (frame[31]! << 16) | (frame[32]! << 8) | frame[33]!) >>> 0;
  const at = protocol === IpProtocol.UDP ? 6 : protocol === IpProtocol.TCP ? 16 : protocol === IpProtocol.ICMP ? 2 : -1;
  if (at < 0 || l4Length < at + 2) return;
  const length = protocol === IpProtocol.UDP ? Math.min(readU16(frame, l4 + 4), l4Length) : l4Length;
  if (length < at + 2) return;
  writeU16(frame, l4 + at, 0);
  const pseudo = protocol === IpProtocol.ICMP ? 0 : pseudoHeaderSum(src, dst, protocol as number, length);
  writeU16(frame, l4 + at, internetChecksum(frame, l4, l4 + length, pseudo));
}

/** A random frame, or a corpus frame with a few random changes (flips, cuts, extensions, length and option fields). */
function fuzzFrame(random: Random, seeds: Uint8Array[]): Uint8Array {
  const kind = random.int(12);
  if (kind === 0) return random.bytes(random.int(1600));
  if (kind === 1) {
    const b = random.bytes(14 + random.int(600));
    if (b.length >= 15) {
      b[12] = 0x08;
      b[13] = random.int(2) === 0 ? 0x00 : 0x06;
      b[14] = 0x45;
    }
    return b;
  }
  let out = Uint8Array.from(seeds[random.int(seeds.length)] as Uint8Array);
  const changes = 1 + random.int(4);
  for (let i = 0; i < changes; i++) {
    const op = random.int(8);
    if (op <= 2 && out.length > 0) {
      out[random.int(out.length)] = random.int(256);
    } else if (op === 3) {
      out = out.subarray(0, random.int(out.length + 1));
    } else if (op === 4) {
      const longer = new Uint8Array(out.length + 1 + random.int(64));
      longer.set(out);
      longer.set(random.bytes(longer.length - out.length), out.length);
      out = longer;
    } else if (op === 5 && out.length > 48) {
      // Length and header-length fields: IPv4 IHL and total length, UDP length, TCP data offset.
      const field = [14, 16, 17, 38, 39, 46][random.int(6)] as number;
      out[field] = random.int(256);
    } else if (op === 6 && out.length > 290) {
      // DHCP option area (after 14 + 20 + 8 + 240 bytes).
      out[282 + random.int(out.length - 282)] = random.int(256);
    }
  }
  if (random.int(2) === 0) fixChecksums(out);
  return out;
}

function checkError(error: PacketError): void {
  assert.ok(ERROR_CODES.has(error.code), error.code);
  assert.ok(error.message.length > 0);
}

test('the frame classifier, every decoder and the responders take 100,000 random and mutated frames without throwing', () => {
  const seeds = corpus();
  const random = createSeededRandom('vpn frame fuzz');
  const filter = new FrameFilter({ subnet, localMac: LOCAL_MAC, hostAddress: ip('10.254.0.2'), maxFrameBytes: 1514 });
  const openFilter = new FrameFilter({ subnet, localMac: LOCAL_MAC });
  const arp = new ArpResponder({ subnet, localMac: LOCAL_MAC, hostAddress: ip('10.254.0.2') });
  const dhcp = new DhcpServer({ subnet, clientAddress: ip('10.254.0.2'), leaseSeconds: 600, serverMac: LOCAL_MAC });
  const decoded = { ipv4: 0, udp: 0, tcp: 0, icmp: 0, dhcp: 0, arp: 0 };
  let clamped = 0;
  for (let i = 0; i < FRAMES; i++) {
    const frame = fuzzFrame(random, seeds);
    filter.classify(frame);
    openFilter.classify(frame);
    const a = arp.answer(frame);
    if (a.kind === 'reply') assert.ok(decodeArp(a.frame.subarray(14)).ok);
    const d = dhcp.handle(frame);
    if (d.kind === 'reply') {
      const reply = decodeIpv4(d.frame.subarray(14));
      assert.ok(reply.ok);
      const udp = decodeUdp(reply.value.payload, reply.value.header.source, reply.value.header.destination);
      assert.ok(udp.ok && decodeDhcp(udp.value.payload).ok);
    }
    const e = decodeEthernet(frame);
    if (!e.ok) {
      checkError(e.error);
      continue;
    }
    const arpPacket = decodeArp(e.value.payload);
    if (arpPacket.ok) decoded.arp++;
    else checkError(arpPacket.error);
    const p = decodeIpv4(e.value.payload);
    if (!p.ok) {
      checkError(p.error);
      continue;
    }
    decoded.ipv4++;
    const { header, payload } = p.value;
    assert.ok(payload.length <= header.totalLength && header.headerLength >= 20);
    mayAnswerWithIcmpError(header, payload, [subnet.broadcast]);
    if (clampTcpMss(Uint8Array.from(p.value.packet), 536).kind === 'clamped') clamped++;
    const u = decodeUdp(payload, header.source, header.destination);
    if (u.ok) {
      decoded.udp++;
      const m = decodeDhcp(u.value.payload);
      if (m.ok) decoded.dhcp++;
      else checkError(m.error);
    } else checkError(u.error);
    const t = decodeTcpHeader(payload);
    if (t.ok) {
      decoded.tcp++;
      const o = findTcpOption(t.value.options, 2);
      if (!o.ok) checkError(o.error);
    } else checkError(t.error);
    const c = decodeIcmp(payload);
    if (c.ok) decoded.icmp++;
    else checkError(c.error);
  }
  const total = (counts: Record<string, number>): number => Object.values(counts).reduce((x, y) => x + y, 0);
  assert.equal(total(filter.counts), FRAMES);
  assert.equal(filter.counts.drop, total(filter.drops));
  // Both outcomes of every layer were exercised, deep layers included.
  assert.ok(filter.counts.drop > 10_000 && filter.counts.drop < FRAMES - 10_000, `drops ${filter.counts.drop}`);
  for (const kind of ['arp', 'dhcp', 'ipv4-unicast', 'ipv4-multicast', 'ipv4-outside'] as const) assert.ok(filter.counts[kind] > 100, `${kind} ${filter.counts[kind]}`);
  for (const [layer, n] of Object.entries(decoded)) assert.ok(n > 500, `${layer} decoded ${n}`);
  assert.ok(arp.counters.replies > 100 && dhcp.counters.offers + dhcp.counters.acks + dhcp.counters.naks > 100, JSON.stringify([arp.counters, dhcp.counters]));
  assert.ok(clamped > 100, `clamped ${clamped}`);
});
