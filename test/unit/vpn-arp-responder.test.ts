import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArpResponder } from '../../src/vpn/arp-responder.js';
import { BROADCAST_MAC, formatIpv4, formatMac, parseIpv4, parseMac } from '../../src/vpn/packets/addresses.js';
import { ArpOperation, decodeArp, encodeArp } from '../../src/vpn/packets/arp.js';
import { EtherType, decodeEthernet, encodeEthernet } from '../../src/vpn/packets/ethernet.js';
import { type Ipv4Subnet, parseSubnet } from '../../src/vpn/subnet.js';
import { ARP_REQUEST_FOR_10_254_0_7, ICMP_ECHO_TO_10_254_0_7 } from './vpn-fixtures.js';

const ip = (text: string): number => parseIpv4(text) as number;
const subnet = ((): Ipv4Subnet => {
  const r = parseSubnet('10.254.0.0/16');
  assert.ok(r.ok);
  return r.value;
})();
const LOCAL_MAC = parseMac('02:52:56:00:00:01') as Uint8Array;
const HOST_MAC = parseMac('8a:e2:fb:9b:65:43') as Uint8Array;

const responder = (hostAddress?: number): ArpResponder => new ArpResponder({ subnet, localMac: LOCAL_MAC, hostAddress });

function request(senderIp: number, targetIp: number, operation: number = ArpOperation.REQUEST): Uint8Array {
  const arp = encodeArp({ operation, senderMac: HOST_MAC, senderIp, targetMac: new Uint8Array(6), targetIp });
  return encodeEthernet(BROADCAST_MAC, HOST_MAC, EtherType.ARP, arp);
}

test("the kernel's real ARP request is answered with the local MAC, addressed back to the host", () => {
  const r = responder(ip('10.254.0.2'));
  const out = r.answer(ARP_REQUEST_FOR_10_254_0_7());
  assert.ok(out.kind === 'reply');
  const e = decodeEthernet(out.frame);
  assert.ok(e.ok);
  assert.equal(formatMac(e.value.destination), '8a:e2:fb:9b:65:43');
  assert.equal(formatMac(e.value.source), '02:52:56:00:00:01');
  assert.equal(e.value.etherType, EtherType.ARP);
  const a = decodeArp(e.value.payload);
  assert.ok(a.ok);
  assert.equal(a.value.operation, ArpOperation.REPLY);
  assert.equal(formatMac(a.value.senderMac), '02:52:56:00:00:01');
  assert.equal(formatIpv4(a.value.senderIp), '10.254.0.7');
  assert.equal(formatMac(a.value.targetMac), '8a:e2:fb:9b:65:43');
  assert.equal(formatIpv4(a.value.targetIp), '10.254.0.2');
  assert.deepEqual(r.counters, { replies: 1, ignored: 0 });
});

test('every host address of the subnet is answered, the services address included', () => {
  const r = responder(ip('10.254.0.2'));
  for (const target of ['10.254.0.1', '10.254.0.3', '10.254.128.9', '10.254.255.254']) {
    const out = r.answer(request(ip('10.254.0.2'), ip(target)));
    assert.equal(out.kind, 'reply', target);
  }
});

test('never answered: own address, probes, gratuitous ARP, replies, foreign senders, network and broadcast, non-ARP, malformed', () => {
  const r = responder(ip('10.254.0.2'));
  const cases: Array<[string, Uint8Array, string]> = [
    ['own address (from another subnet address)', request(ip('10.254.0.5'), ip('10.254.0.2')), 'own-address'],
    ['probe for own address (RFC 5227)', request(0, ip('10.254.0.2')), 'probe'],
    ['probe for another address', request(0, ip('10.254.0.9')), 'probe'],
    ['gratuitous', request(ip('10.254.0.2'), ip('10.254.0.2')), 'gratuitous'],
    ['reply', request(ip('10.254.0.2'), ip('10.254.0.9'), ArpOperation.REPLY), 'not-request'],
    ['sender outside the subnet', request(ip('192.168.1.5'), ip('10.254.0.9')), 'sender-outside-subnet'],
    ['target outside the subnet', request(ip('10.254.0.2'), ip('192.168.1.1')), 'target-outside-subnet'],
    ['network address', request(ip('10.254.0.2'), ip('10.254.0.0')), 'target-outside-subnet'],
    ['broadcast address', request(ip('10.254.0.2'), ip('10.254.255.255')), 'target-outside-subnet'],
    ['IPv4 frame', ICMP_ECHO_TO_10_254_0_7(), 'not-arp'],
    ['short ARP', ARP_REQUEST_FOR_10_254_0_7().subarray(0, 40), 'malformed'],
    ['short frame', new Uint8Array(5), 'malformed'],
  ];
  for (const [name, frame, reason] of cases) assert.deepEqual(r.answer(frame), { kind: 'ignored', reason }, name);
  assert.deepEqual(r.counters, { replies: 0, ignored: cases.length });
});

test('without a known host address, the host itself is still never told its own address is taken by a probe', () => {
  const r = responder();
  assert.equal(r.answer(request(0, ip('10.254.0.2'))).kind, 'ignored');
  assert.equal(r.answer(request(ip('10.254.0.2'), ip('10.254.0.3'))).kind, 'reply');
  r.setHostAddress(ip('10.254.0.3'));
  assert.deepEqual(r.answer(request(ip('10.254.0.2'), ip('10.254.0.3'))), { kind: 'ignored', reason: 'own-address' });
});

test('the reply does not alias the request frame', () => {
  const frame = ARP_REQUEST_FOR_10_254_0_7();
  const out = responder().answer(frame);
  assert.ok(out.kind === 'reply');
  frame.fill(0);
  const e = decodeEthernet(out.frame);
  assert.ok(e.ok && formatMac(e.value.destination) === '8a:e2:fb:9b:65:43');
});
