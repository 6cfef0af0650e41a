import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatIpv4, formatMac, isGroupMac, parseIpv4, parseMac } from '../../src/vpn/packets/addresses.js';
import { ArpOperation, decodeArp, encodeArp } from '../../src/vpn/packets/arp.js';
import { internetChecksum, pseudoHeaderSum } from '../../src/vpn/packets/checksum.js';
import { EtherType, decodeEthernet, encodeEthernet } from '../../src/vpn/packets/ethernet.js';
import {
  IcmpType,
  UnreachableCode,
  decodeIcmp,
  echoReplyFor,
  encodeFragmentationNeeded,
  mayAnswerWithIcmpError,
} from '../../src/vpn/packets/icmp.js';
import { IpProtocol, decodeIpv4, encodeIpv4, validIpv4Options } from '../../src/vpn/packets/ipv4.js';
import { TcpFlag, TcpOption, decodeTcpHeader, findTcpOption } from '../../src/vpn/packets/tcp.js';
import { decodeUdp, encodeUdp } from '../../src/vpn/packets/udp.js';
import { formatSubnet, isSubnetHost, parseSubnet, subnetContains } from '../../src/vpn/subnet.js';
import {
  ARP_REQUEST_FOR_10_254_0_7,
  DHCP_DISCOVER_FROM_DHCLIENT,
  ICMP_ECHO_TO_10_254_0_7,
  TCP_SYN_TO_10_254_0_7_PORT_80,
} from './vpn-fixtures.js';

const ip = (text: string): number => parseIpv4(text) as number;
const ipPacketOf = (frame: Uint8Array): Uint8Array => frame.subarray(14);

function mustDecodeIpv4(frame: Uint8Array) {
  const r = decodeIpv4(ipPacketOf(frame));
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return r.value;
}

test('IPv4 and MAC addresses parse and print', () => {
  assert.equal(parseIpv4('10.254.0.1'), 0x0afe0001);
  assert.equal(formatIpv4(0xc0a80101), '192.168.1.1');
  assert.equal(formatIpv4(ip('255.255.255.255')), '255.255.255.255');
  for (const bad of ['10.254.0', '10.254.0.256', '01.2.3.4', 'a.b.c.d', '1.2.3.4.5', '']) assert.equal(parseIpv4(bad), undefined, bad);
  const mac = parseMac('02:52:56:00:00:01') as Uint8Array;
  assert.equal(formatMac(mac), '02:52:56:00:00:01');
  assert.equal(parseMac('02:52:56:00:00'), undefined);
  assert.equal(isGroupMac(mac), false);
  assert.equal(isGroupMac(parseMac('01:00:5e:00:00:fb') as Uint8Array), true);
});

test('subnets: parsing, membership, the services address', () => {
  const r = parseSubnet('10.254.0.0/16');
  assert.ok(r.ok);
  const s = r.value;
  assert.equal(formatIpv4(s.mask), '255.255.0.0');
  assert.equal(formatIpv4(s.broadcast), '10.254.255.255');
  assert.equal(formatIpv4(s.servicesAddress), '10.254.0.1');
  assert.equal(formatSubnet(s), '10.254.0.0/16');
  assert.ok(subnetContains(s, ip('10.254.3.4')) && !subnetContains(s, ip('10.253.0.1')));
  assert.ok(isSubnetHost(s, ip('10.254.0.2')) && !isSubnetHost(s, s.network) && !isSubnetHost(s, s.broadcast));
  for (const bad of ['10.254.0.1/16', '10.254.0.0', '10.254.0.0/31', '10.254.0.0/7', '10.254.0.0/x', 'x/16']) {
    const b = parseSubnet(bad);
    assert.ok(!b.ok && b.error.code === 'bad-subnet' && b.error.message.includes('10.254.0.0/16'), bad);
  }
});

test('Ethernet: a real frame decodes; a short one is rejected; encoding round-trips', () => {
  const e = decodeEthernet(ARP_REQUEST_FOR_10_254_0_7());
  assert.ok(e.ok);
  assert.equal(formatMac(e.value.destination), 'ff:ff:ff:ff:ff:ff');
  assert.equal(e.value.etherType, EtherType.ARP);
  const short = decodeEthernet(new Uint8Array(13));
  assert.ok(!short.ok && short.error.code === 'too-short');
  const frame = encodeEthernet(e.value.source, e.value.destination, EtherType.IPV4, Uint8Array.of(1, 2, 3));
  const back = decodeEthernet(frame);
  assert.ok(back.ok && back.value.etherType === EtherType.IPV4 && back.value.payload.length === 3);
});

test('ARP: the kernel request decodes; malformed and foreign kinds are rejected', () => {
  const r = decodeArp(ipPacketOf(ARP_REQUEST_FOR_10_254_0_7()));
  assert.ok(r.ok);
  assert.equal(r.value.operation, ArpOperation.REQUEST);
  assert.equal(formatIpv4(r.value.senderIp), '10.254.0.2');
  assert.equal(formatIpv4(r.value.targetIp), '10.254.0.7');
  assert.deepEqual(decodeArp(encodeArp(r.value)), r);
  const short = decodeArp(new Uint8Array(27));
  assert.ok(!short.ok && short.error.code === 'too-short');
  const ipv6 = encodeArp(r.value);
  ipv6[3] = 0xdd;
  assert.ok(!decodeArp(ipv6).ok);
  const op = encodeArp(r.value);
  op[7] = 9;
  const badOp = decodeArp(op);
  assert.ok(!badOp.ok && badOp.error.code === 'unsupported');
});

test('IPv4: a real packet decodes and its checksum verifies; every bad header is rejected with its reason', () => {
  const frame = ICMP_ECHO_TO_10_254_0_7();
  const p = mustDecodeIpv4(frame);
  assert.equal(p.header.protocol, IpProtocol.ICMP);
  assert.equal(formatIpv4(p.header.source), '10.254.0.2');
  assert.equal(formatIpv4(p.header.destination), '10.254.0.7');
  assert.equal(p.header.totalLength, 84);
  assert.equal(p.header.dontFragment, true);
  assert.equal(p.payload.length, 64);

  const packet = Uint8Array.from(ipPacketOf(frame));
  const codeOf = (bytes: Uint8Array): string => {
    const r = decodeIpv4(bytes);
    return r.ok ? 'ok' : r.error.code;
  };
  const mutate = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = Uint8Array.from(packet);
    f(b);
    return b;
  };
  assert.equal(codeOf(packet.subarray(0, 19)), 'too-short');
  assert.equal(codeOf(mutate((b) => (b[0] = 0x65))), 'bad-version');
  assert.equal(codeOf(mutate((b) => (b[0] = 0x44))), 'bad-header-length');
  assert.equal(codeOf(mutate((b) => (b[3] = 0xff))), 'bad-length');
  assert.equal(codeOf(mutate((b) => ((b[2] = 0), (b[3] = 10)))), 'bad-length');
  assert.equal(codeOf(mutate((b) => (b[8] = 1))), 'bad-checksum');
  assert.equal(decodeIpv4(mutate((b) => (b[8] = 1)), { verifyChecksum: false }).ok, true);
  assert.equal(codeOf(mutate((b) => (b[0] = 0x4f)).subarray(0, 40)), 'too-short');
  // Ethernet padding after the packet is cut off.
  const padded = new Uint8Array(packet.length + 10);
  padded.set(packet);
  const r = decodeIpv4(padded);
  assert.ok(r.ok && r.value.packet.length === packet.length && r.value.payload.length === 64);
});

test('IPv4 options: well-formed lists pass, truncated ones are rejected', () => {
  assert.equal(validIpv4Options(Uint8Array.of(1, 1, 0, 0)), true);
  assert.equal(validIpv4Options(Uint8Array.of(0x94, 4, 0, 0)), true); // router alert
  assert.equal(validIpv4Options(Uint8Array.of(0x94, 8, 0, 0)), false);
  assert.equal(validIpv4Options(Uint8Array.of(0x94, 1, 0, 0)), false);
  assert.equal(validIpv4Options(Uint8Array.of(1, 1, 1, 0x94)), false);
  const withOptions = encodeIpv4(
    { source: ip('10.254.0.2'), destination: ip('224.0.0.22'), protocol: 2, ttl: 1, options: Uint8Array.of(0x94, 4, 0, 0) },
    new Uint8Array(8),
  );
  const r = decodeIpv4(withOptions);
  assert.ok(r.ok && r.value.header.headerLength === 24 && r.value.header.options.length === 4 && r.value.payload.length === 8);
  withOptions[21] = 9;
  withOptions[10] = 0;
  withOptions[11] = 0;
  const sum = internetChecksum(withOptions, 0, 24);
  withOptions[10] = sum >>> 8;
  withOptions[11] = sum & 0xff;
  const bad = decodeIpv4(withOptions);
  assert.ok(!bad.ok && bad.error.code === 'bad-option');
});

test('UDP: the pseudo-header checksum of a real DHCP discover verifies; corruption and bad lengths are caught', () => {
  const p = mustDecodeIpv4(DHCP_DISCOVER_FROM_DHCLIENT());
  const u = decodeUdp(p.payload, p.header.source, p.header.destination);
  assert.ok(u.ok);
  assert.equal(u.value.sourcePort, 68);
  assert.equal(u.value.destinationPort, 67);
  assert.equal(u.value.payload.length, u.value.length - 8);
  const corrupt = Uint8Array.from(p.payload);
  corrupt[100] = (corrupt[100] as number) ^ 0x40;
  const c = decodeUdp(corrupt, p.header.source, p.header.destination);
  assert.ok(!c.ok && c.error.code === 'bad-checksum');
  // The same bytes from another source fail: the pseudo-header counts.
  assert.ok(!decodeUdp(p.payload, ip('10.0.0.1'), p.header.destination).ok);
  corrupt[6] = 0;
  corrupt[7] = 0;
  assert.ok(decodeUdp(corrupt, p.header.source, p.header.destination).ok, 'checksum 0 means none');
  const long = Uint8Array.from(p.payload);
  long[4] = 0xff;
  const l = decodeUdp(long, p.header.source, p.header.destination, false);
  assert.ok(!l.ok && l.error.code === 'bad-length');
  long[4] = 0;
  long[5] = 7;
  assert.ok(!decodeUdp(long, 0, 0, false).ok);
  assert.ok(!decodeUdp(new Uint8Array(7), 0, 0).ok);

  const built = encodeUdp(ip('10.254.0.1'), ip('10.254.0.2'), 53, 40000, Uint8Array.of(1, 2, 3));
  const back = decodeUdp(built, ip('10.254.0.1'), ip('10.254.0.2'));
  assert.ok(back.ok && back.value.sourcePort === 53 && back.value.payload.length === 3);
  assert.equal(internetChecksum(built, 0, built.length, pseudoHeaderSum(ip('10.254.0.1'), ip('10.254.0.2'), 17, built.length)), 0);
});

test("TCP: the kernel's SYN decodes with its MSS option; malformed option lists are errors", () => {
  const p = mustDecodeIpv4(TCP_SYN_TO_10_254_0_7_PORT_80());
  assert.equal(p.header.protocol, IpProtocol.TCP);
  const t = decodeTcpHeader(p.payload);
  assert.ok(t.ok);
  assert.equal(t.value.destinationPort, 80);
  assert.equal(t.value.flags, TcpFlag.SYN);
  assert.equal(t.value.headerLength, 40);
  // The full checksum (pseudo-header included) verifies.
  assert.equal(internetChecksum(p.payload, 0, p.payload.length, pseudoHeaderSum(p.header.source, p.header.destination, 6, p.payload.length)), 0);
  const mss = findTcpOption(t.value.options, TcpOption.MSS);
  assert.ok(mss.ok && mss.value === 0);
  const options = t.value.options;
  assert.equal((options[2] as number) * 256 + (options[3] as number), 1460);
  assert.ok(!findTcpOption(Uint8Array.of(1, 1, 8, 20), TcpOption.MSS).ok);
  assert.ok(!findTcpOption(Uint8Array.of(1, 1, 8, 0), TcpOption.MSS).ok);
  assert.ok(!findTcpOption(Uint8Array.of(1, 1, 1, 3), TcpOption.MSS).ok);
  const none = findTcpOption(Uint8Array.of(1, 1, 0, 2), TcpOption.MSS);
  assert.ok(none.ok && none.value === undefined, 'nothing after END counts');
  assert.ok(!decodeTcpHeader(p.payload.subarray(0, 19)).ok);
  const lying = Uint8Array.from(p.payload.subarray(0, 20));
  lying[12] = 0xa0;
  assert.ok(!decodeTcpHeader(lying).ok);
  lying[12] = 0x40;
  assert.ok(!decodeTcpHeader(lying).ok);
});

test('ICMP: a real echo request gets a valid reply; fragmentation-needed quotes the packet and carries the MTU', () => {
  const p = mustDecodeIpv4(ICMP_ECHO_TO_10_254_0_7());
  const echo = decodeIcmp(p.payload);
  assert.ok(echo.ok);
  assert.equal(echo.value.type, IcmpType.ECHO_REQUEST);
  const reply = decodeIpv4(echoReplyFor(p.header, echo.value));
  assert.ok(reply.ok);
  assert.equal(formatIpv4(reply.value.header.source), '10.254.0.7');
  assert.equal(formatIpv4(reply.value.header.destination), '10.254.0.2');
  const r = decodeIcmp(reply.value.payload);
  assert.ok(r.ok && r.value.type === IcmpType.ECHO_REPLY && r.value.identifier === echo.value.identifier && r.value.sequence === echo.value.sequence);
  assert.deepEqual(r.value.data, echo.value.data);
  const corrupt = Uint8Array.from(p.payload);
  corrupt[20] = (corrupt[20] as number) ^ 0xff;
  assert.ok(!decodeIcmp(corrupt).ok);
  assert.ok(!decodeIcmp(new Uint8Array(7)).ok);

  const syn = mustDecodeIpv4(TCP_SYN_TO_10_254_0_7_PORT_80());
  assert.equal(mayAnswerWithIcmpError(syn.header, syn.payload), true);
  const tooBig = decodeIpv4(encodeFragmentationNeeded(ip('10.254.0.1'), syn.packet, syn.header, 1380));
  assert.ok(tooBig.ok);
  assert.equal(formatIpv4(tooBig.value.header.destination), '10.254.0.2');
  const m = decodeIcmp(tooBig.value.payload);
  assert.ok(m.ok && m.value.type === IcmpType.DESTINATION_UNREACHABLE && m.value.code === UnreachableCode.FRAGMENTATION_NEEDED);
  assert.equal(m.value.nextHopMtu, 1380);
  assert.deepEqual(m.value.data, syn.packet.subarray(0, 28));
  // Never an error about an error, a broadcast or a later fragment.
  assert.equal(mayAnswerWithIcmpError(tooBig.value.header, tooBig.value.payload), false);
  assert.equal(mayAnswerWithIcmpError({ ...syn.header, destination: 0xffffffff }, syn.payload), false);
  assert.equal(mayAnswerWithIcmpError({ ...syn.header, destination: ip('10.254.255.255') }, syn.payload, [ip('10.254.255.255')]), false);
  assert.equal(mayAnswerWithIcmpError({ ...syn.header, destination: ip('224.0.0.251') }, syn.payload), false);
  assert.equal(mayAnswerWithIcmpError({ ...syn.header, fragmentOffset: 1480 }, syn.payload), false);
  assert.equal(mayAnswerWithIcmpError(p.header, p.payload), true, 'an echo request may be answered with an error');
});
