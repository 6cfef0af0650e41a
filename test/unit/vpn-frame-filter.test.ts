import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameFilter, type FrameFilterInit } from '../../src/vpn/frame-filter.js';
import { BROADCAST_MAC, formatIpv4, parseIpv4, parseMac } from '../../src/vpn/packets/addresses.js';
import { EtherType, encodeEthernet } from '../../src/vpn/packets/ethernet.js';
import { encodeIpv4Frame, encodeUdpFrame } from '../../src/vpn/packets/frames.js';
import { encodeEcho } from '../../src/vpn/packets/icmp.js';
import { type Ipv4Subnet, parseSubnet } from '../../src/vpn/subnet.js';
import { ARP_REQUEST_FOR_10_254_0_7, DHCP_DISCOVER_FROM_DHCLIENT, ICMP_ECHO_TO_10_254_0_7, TCP_SYN_TO_10_254_0_7_PORT_80 } from './vpn-fixtures.js';

const ip = (text: string): number => parseIpv4(text) as number;
const subnet = ((): Ipv4Subnet => {
  const r = parseSubnet('10.254.0.0/16');
  assert.ok(r.ok);
  return r.value;
})();
const LOCAL_MAC = parseMac('02:52:56:00:00:01') as Uint8Array;
const HOST_MAC = parseMac('8a:e2:fb:9b:65:43') as Uint8Array;
const MDNS_MAC = parseMac('01:00:5e:00:00:fb') as Uint8Array;

const filter = (overrides: Partial<FrameFilterInit> = {}): FrameFilter =>
  new FrameFilter({ subnet, localMac: LOCAL_MAC, hostAddress: ip('10.254.0.2'), ...overrides });

function ping(source: string, destination: string, dstMac: Uint8Array = LOCAL_MAC): Uint8Array {
  return encodeIpv4Frame(dstMac, HOST_MAC, encodeEcho('request', ip(source), ip(destination), 1, 1, new Uint8Array(16)));
}

test("the host's real frames: ARP, ping and a TCP SYN to a member, a DHCP discover", () => {
  const f = filter();
  assert.equal(f.classify(ARP_REQUEST_FOR_10_254_0_7()).kind, 'arp');
  const echo = f.classify(ICMP_ECHO_TO_10_254_0_7());
  assert.ok(echo.kind === 'ipv4-unicast');
  assert.equal(formatIpv4(echo.header.destination), '10.254.0.7');
  assert.equal(echo.packet.length, 84);
  assert.equal(f.classify(TCP_SYN_TO_10_254_0_7_PORT_80()).kind, 'ipv4-unicast');
  assert.equal(f.classify(DHCP_DISCOVER_FROM_DHCLIENT()).kind, 'dhcp');
  assert.deepEqual(f.counts, {
    arp: 1,
    dhcp: 1,
    'ipv4-unicast': 2,
    'ipv4-services': 0,
    'ipv4-outside': 0,
    'ipv4-broadcast': 0,
    'ipv4-multicast': 0,
    drop: 0,
  });
});

test('services address, outside the subnet (full tunnel), broadcast and multicast', () => {
  const f = filter();
  assert.equal(f.classify(ping('10.254.0.2', '10.254.0.1')).kind, 'ipv4-services');
  assert.equal(f.classify(ping('10.254.0.2', '93.184.216.34')).kind, 'ipv4-outside');
  assert.equal(f.classify(ping('10.254.0.2', '10.254.255.255', BROADCAST_MAC)).kind, 'ipv4-broadcast');
  assert.equal(f.classify(ping('10.254.0.2', '255.255.255.255', BROADCAST_MAC)).kind, 'ipv4-broadcast');
  const mdns = encodeUdpFrame(
    { destinationMac: MDNS_MAC, sourceMac: HOST_MAC, sourceIp: ip('10.254.0.2'), destinationIp: ip('224.0.0.251'), sourcePort: 5353, destinationPort: 5353 },
    new Uint8Array(12),
  );
  const m = f.classify(mdns);
  assert.ok(m.kind === 'ipv4-multicast');
  assert.equal(formatIpv4(m.header.destination), '224.0.0.251');
});

test('dropped with a reason: every malformed or misaddressed kind', () => {
  const f = filter({ maxFrameBytes: 1514 });
  const good = ICMP_ECHO_TO_10_254_0_7();
  const mutate = (g: (b: Uint8Array) => void): Uint8Array => {
    const b = Uint8Array.from(good);
    g(b);
    return b;
  };
  const cases: Array<[string, Uint8Array, string]> = [
    ['empty', new Uint8Array(0), 'too-short'],
    ['13 bytes', good.subarray(0, 13), 'too-short'],
    ['oversized', new Uint8Array(1515), 'oversized'],
    ['IPv6', encodeEthernet(LOCAL_MAC, HOST_MAC, EtherType.IPV6, new Uint8Array(40)), 'unsupported-ethertype'],
    ['802.3 length field', encodeEthernet(LOCAL_MAC, HOST_MAC, 0x0040, new Uint8Array(64)), 'unsupported-ethertype'],
    ['VLAN tagged', encodeEthernet(LOCAL_MAC, HOST_MAC, EtherType.VLAN, new Uint8Array(64)), 'unsupported-ethertype'],
    ['short ARP', ARP_REQUEST_FOR_10_254_0_7().subarray(0, 30), 'bad-arp'],
    ['header only', good.subarray(0, 14), 'bad-ipv4'],
    ['IPv4 cut short', good.subarray(0, 50), 'bad-ipv4'],
    ['IPv4 version 5', mutate((b) => (b[14] = 0x55)), 'bad-ipv4'],
    ['IHL 3', mutate((b) => (b[14] = 0x43)), 'bad-ipv4'],
    ['total length past the end', mutate((b) => (b[17] = 0xff)), 'bad-ipv4'],
    ['bad header checksum', mutate((b) => (b[24] = (b[24] as number) ^ 1)), 'bad-checksum'],
    ['spoofed source', ping('10.254.0.9', '10.254.0.7'), 'bad-source'],
    ['source outside the subnet', ping('192.168.1.2', '10.254.0.7'), 'bad-source'],
    ['unicast to another MAC', ping('10.254.0.2', '10.254.0.7', HOST_MAC), 'wrong-mac'],
    ['unicast IP to broadcast MAC', ping('10.254.0.2', '10.254.0.7', BROADCAST_MAC), 'wrong-mac'],
    ['broadcast IP to a unicast MAC', ping('10.254.0.2', '10.254.255.255'), 'wrong-mac'],
    ['to the network address', ping('10.254.0.2', '10.254.0.0'), 'bad-destination'],
    ['to itself', ping('10.254.0.2', '10.254.0.2'), 'bad-destination'],
    ['to loopback', ping('10.254.0.2', '127.0.0.1'), 'bad-destination'],
    ['to 0.0.0.0', ping('10.254.0.2', '0.0.0.0'), 'bad-destination'],
  ];
  for (const [name, frame, reason] of cases) assert.deepEqual(f.classify(frame), { kind: 'drop', reason }, name);
  assert.equal(f.counts.drop, cases.length);
  assert.equal(Object.values(f.drops).reduce((a, b) => a + b, 0), cases.length);
  assert.equal(f.drops['bad-source'], 2);
});

test('without a known host address, any host address of the subnet may be the source', () => {
  const f = filter({ hostAddress: undefined });
  assert.equal(f.classify(ping('10.254.0.9', '10.254.0.7')).kind, 'ipv4-unicast');
  assert.deepEqual(f.classify(ping('10.254.255.255', '10.254.0.7')), { kind: 'drop', reason: 'bad-source' });
  f.setHostAddress(ip('10.254.0.2'));
  assert.deepEqual(f.classify(ping('10.254.0.9', '10.254.0.7')), { kind: 'drop', reason: 'bad-source' });
});
