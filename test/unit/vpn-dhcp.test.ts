import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DhcpServer, type DhcpServerInit } from '../../src/vpn/dhcp-server.js';
import { BROADCAST_MAC, formatIpv4, formatMac, parseIpv4, parseMac } from '../../src/vpn/packets/addresses.js';
import { BootpOp, DhcpMessageType, type DhcpMessage, type DhcpMessageInit, DhcpOption, decodeDhcp, encodeDhcp } from '../../src/vpn/packets/dhcp.js';
import { EtherType, decodeEthernet } from '../../src/vpn/packets/ethernet.js';
import { encodeUdpFrame } from '../../src/vpn/packets/frames.js';
import { IpProtocol, decodeIpv4 } from '../../src/vpn/packets/ipv4.js';
import { decodeUdp } from '../../src/vpn/packets/udp.js';
import { type Ipv4Subnet, parseSubnet } from '../../src/vpn/subnet.js';
import { DHCP_DISCOVER_FROM_DHCLIENT } from './vpn-fixtures.js';

const ip = (text: string): number => parseIpv4(text) as number;
const subnet = ((): Ipv4Subnet => {
  const r = parseSubnet('10.254.0.0/16');
  assert.ok(r.ok);
  return r.value;
})();
const SERVER_MAC = parseMac('02:52:56:00:00:01') as Uint8Array;
const HOST_MAC = parseMac('8a:e2:fb:9b:65:43') as Uint8Array; // the MAC in the captured discover

function makeServer(overrides: Partial<DhcpServerInit> = {}): DhcpServer {
  return new DhcpServer({ subnet, clientAddress: ip('10.254.0.2'), leaseSeconds: 3600, serverMac: SERVER_MAC, ...overrides });
}

/** A client message framed the way a DHCP client sends it: from 0.0.0.0:68 (or its address) to broadcast:67. */
function clientFrame(message: Partial<DhcpMessageInit> & { messageType: number }, from = 0): Uint8Array {
  const dhcp = encodeDhcp({
    op: BootpOp.REQUEST,
    xid: 0x1234_5678,
    broadcast: false,
    clientAddress: 0,
    yourAddress: 0,
    clientMac: HOST_MAC,
    parameterRequestList: Uint8Array.of(1, 3, 6, 15, 26, 28, 51, 54, 58, 59),
    ...message,
  });
  return encodeUdpFrame(
    { destinationMac: BROADCAST_MAC, sourceMac: HOST_MAC, sourceIp: from, destinationIp: 0xffffffff, sourcePort: 68, destinationPort: 67 },
    dhcp,
  );
}

/** Decodes a server reply frame all the way down, checking every layer's checksum. */
function decodeReply(frame: Uint8Array): { ethernetDestination: string; ipSource: string; ipDestination: string; dhcp: DhcpMessage } {
  const e = decodeEthernet(frame);
  assert.ok(e.ok && e.value.etherType === EtherType.IPV4);
  assert.equal(formatMac(e.value.source), '02:52:56:00:00:01');
  const p = decodeIpv4(e.value.payload);
  assert.ok(p.ok, 'IPv4 header and checksum');
  assert.equal(p.value.header.protocol, IpProtocol.UDP);
  const u = decodeUdp(p.value.payload, p.value.header.source, p.value.header.destination);
  assert.ok(u.ok && u.value.checksum !== 0, 'UDP checksum present and valid');
  assert.equal(u.value.sourcePort, 67);
  assert.equal(u.value.destinationPort, 68);
  const d = decodeDhcp(u.value.payload);
  assert.ok(d.ok, d.ok ? '' : d.error.message);
  assert.equal(d.value.op, BootpOp.REPLY);
  return {
    ethernetDestination: formatMac(e.value.destination),
    ipSource: formatIpv4(p.value.header.source),
    ipDestination: formatIpv4(p.value.header.destination),
    dhcp: d.value,
  };
}

test("dhclient's real DHCPDISCOVER decodes", () => {
  const frame = DHCP_DISCOVER_FROM_DHCLIENT();
  const p = decodeIpv4(frame.subarray(14));
  assert.ok(p.ok);
  const u = decodeUdp(p.value.payload, p.value.header.source, p.value.header.destination);
  assert.ok(u.ok);
  const d = decodeDhcp(u.value.payload);
  assert.ok(d.ok);
  assert.equal(d.value.op, BootpOp.REQUEST);
  assert.equal(d.value.messageType, DhcpMessageType.DISCOVER);
  assert.equal(formatMac(d.value.clientMac), '8a:e2:fb:9b:65:43');
  assert.ok((d.value.parameterRequestList?.length ?? 0) > 3);
  assert.ok(d.value.parameterRequestList?.includes(DhcpOption.SUBNET_MASK));
});

test("the server offers the node's own address to dhclient's real discover, from the services address", () => {
  const server = makeServer();
  const out = server.handle(DHCP_DISCOVER_FROM_DHCLIENT());
  assert.equal(out.kind, 'reply');
  assert.ok(out.kind === 'reply');
  assert.equal(out.messageType, DhcpMessageType.OFFER);
  const r = decodeReply(out.frame);
  assert.equal(r.ipSource, '10.254.0.1');
  assert.equal(r.ethernetDestination, '8a:e2:fb:9b:65:43');
  assert.equal(r.dhcp.messageType, DhcpMessageType.OFFER);
  assert.equal(formatIpv4(r.dhcp.yourAddress), '10.254.0.2');
  assert.equal(r.ipDestination, '10.254.0.2');
  assert.equal(formatIpv4(r.dhcp.serverId as number), '10.254.0.1');
  assert.equal(formatIpv4(r.dhcp.subnetMask as number), '255.255.0.0');
  assert.equal(r.dhcp.leaseSeconds, 3600);
  assert.equal(r.dhcp.renewalSeconds, 1800);
  assert.equal(r.dhcp.rebindingSeconds, 3150);
  assert.equal(r.dhcp.routers, undefined, 'no router unless configured: the host keeps its default route');
  assert.equal(formatMac(r.dhcp.clientMac), '8a:e2:fb:9b:65:43');
  assert.equal(server.counters.offers, 1);
});

test('a client that asks for broadcast replies gets them; router, DNS and MTU are sent when configured', () => {
  const server = makeServer({ router: ip('10.254.0.1'), dnsServers: [ip('10.254.0.1')], interfaceMtu: 1380 });
  const out = server.handle(clientFrame({ messageType: DhcpMessageType.DISCOVER, broadcast: true }));
  assert.ok(out.kind === 'reply');
  const r = decodeReply(out.frame);
  assert.equal(r.ethernetDestination, 'ff:ff:ff:ff:ff:ff');
  assert.equal(r.ipDestination, '255.255.255.255');
  assert.equal(r.dhcp.xid, 0x1234_5678);
  assert.deepEqual(r.dhcp.routers, [ip('10.254.0.1')]);
  assert.deepEqual(r.dhcp.dnsServers, [ip('10.254.0.1')]);
  assert.equal(r.dhcp.interfaceMtu, 1380);
});

test('request for our address -> ack; for another -> nak by broadcast; naming another server -> ignored', () => {
  const server = makeServer();
  const ack = server.handle(clientFrame({ messageType: DhcpMessageType.REQUEST, requestedIp: ip('10.254.0.2'), serverId: ip('10.254.0.1') }));
  assert.ok(ack.kind === 'reply' && ack.messageType === DhcpMessageType.ACK);
  const a = decodeReply(ack.frame);
  assert.equal(formatIpv4(a.dhcp.yourAddress), '10.254.0.2');
  assert.equal(a.dhcp.leaseSeconds, 3600);

  const nak = server.handle(clientFrame({ messageType: DhcpMessageType.REQUEST, requestedIp: ip('10.254.0.9') }));
  assert.ok(nak.kind === 'reply' && nak.messageType === DhcpMessageType.NAK);
  const n = decodeReply(nak.frame);
  assert.equal(n.ipDestination, '255.255.255.255');
  assert.equal(n.ethernetDestination, 'ff:ff:ff:ff:ff:ff');
  assert.equal(n.dhcp.yourAddress, 0);
  assert.equal(n.dhcp.leaseSeconds, undefined);
  assert.ok(n.dhcp.message?.includes('not'));

  const other = server.handle(clientFrame({ messageType: DhcpMessageType.REQUEST, requestedIp: ip('10.254.0.2'), serverId: ip('192.168.1.1') }));
  assert.deepEqual(other, { kind: 'ignored', reason: 'other-server' });
  assert.deepEqual(server.counters, { offers: 0, acks: 1, naks: 1, ignored: 1 });
});

test('a renewal (ciaddr set, unicast) is acked to the client address; after the address changes it is nakked', () => {
  const server = makeServer();
  const renew = clientFrame({ messageType: DhcpMessageType.REQUEST, clientAddress: ip('10.254.0.2') }, ip('10.254.0.2'));
  const out = server.handle(renew);
  assert.ok(out.kind === 'reply' && out.messageType === DhcpMessageType.ACK);
  const r = decodeReply(out.frame);
  assert.equal(r.ipDestination, '10.254.0.2');
  assert.equal(r.ethernetDestination, '8a:e2:fb:9b:65:43');
  server.setClientAddress(ip('10.254.7.7'));
  const after = server.handle(renew);
  assert.ok(after.kind === 'reply' && after.messageType === DhcpMessageType.NAK);
  const offer = server.handle(clientFrame({ messageType: DhcpMessageType.DISCOVER }));
  assert.ok(offer.kind === 'reply');
  assert.equal(formatIpv4(decodeReply(offer.frame).dhcp.yourAddress), '10.254.7.7');
});

test('inform is acked without an address or lease; release and decline are noted, not answered', () => {
  const server = makeServer();
  const inform = server.handle(clientFrame({ messageType: DhcpMessageType.INFORM, clientAddress: ip('10.254.0.2') }, ip('10.254.0.2')));
  assert.ok(inform.kind === 'reply' && inform.messageType === DhcpMessageType.ACK);
  const r = decodeReply(inform.frame);
  assert.equal(r.dhcp.yourAddress, 0);
  assert.equal(r.dhcp.leaseSeconds, undefined);
  assert.equal(formatIpv4(r.dhcp.subnetMask as number), '255.255.0.0');
  assert.deepEqual(server.handle(clientFrame({ messageType: DhcpMessageType.RELEASE })), { kind: 'ignored', reason: 'release' });
  assert.deepEqual(server.handle(clientFrame({ messageType: DhcpMessageType.DECLINE })), { kind: 'ignored', reason: 'decline' });
  assert.deepEqual(server.handle(clientFrame({ messageType: DhcpMessageType.OFFER })), { kind: 'ignored', reason: 'unexpected-type' });
});

test('only the configured client MAC is served; replies and non-DHCP frames are ignored', () => {
  const server = makeServer({ clientMac: parseMac('02:00:00:00:00:99') as Uint8Array });
  assert.deepEqual(server.handle(clientFrame({ messageType: DhcpMessageType.DISCOVER })), { kind: 'ignored', reason: 'other-client' });
  const reply = makeServer().handle(clientFrame({ messageType: DhcpMessageType.DISCOVER }));
  assert.ok(reply.kind === 'reply');
  // A server's own reply looped back is not a request (and goes to port 68 anyway).
  assert.equal(makeServer().handle(reply.frame).kind, 'ignored');
  const asRequestOp = encodeUdpFrame(
    { destinationMac: BROADCAST_MAC, sourceMac: HOST_MAC, sourceIp: 0, destinationIp: 0xffffffff, sourcePort: 68, destinationPort: 67 },
    encodeDhcp({ op: BootpOp.REPLY, xid: 1, broadcast: false, clientAddress: 0, yourAddress: 0, clientMac: HOST_MAC, messageType: DhcpMessageType.DISCOVER }),
  );
  assert.deepEqual(makeServer().handle(asRequestOp), { kind: 'ignored', reason: 'not-a-request' });
  assert.deepEqual(makeServer().handle(new Uint8Array(10)), { kind: 'ignored', reason: 'not-dhcp' });
});

test('malformed DHCP: every bad field is a typed error, and the server ignores the frame', () => {
  const good = encodeDhcp({
    op: BootpOp.REQUEST,
    xid: 7,
    broadcast: false,
    clientAddress: 0,
    yourAddress: 0,
    clientMac: HOST_MAC,
    messageType: DhcpMessageType.REQUEST,
    requestedIp: ip('10.254.0.2'),
  });
  assert.ok(decodeDhcp(good).ok);
  const variants: Array<[string, (b: Uint8Array) => Uint8Array, string]> = [
    ['short', (b) => b.subarray(0, 239), 'too-short'],
    ['bad op', (b) => ((b[0] = 3), b), 'bad-value'],
    ['token ring', (b) => ((b[1] = 6), b), 'unsupported'],
    ['no cookie', (b) => ((b[236] = 0), b), 'bad-value'],
    ['option past the end', (b) => ((b[244] = 200), b), 'bad-option'],
    ['requested IP of 3 bytes', (b) => ((b[244] = 3), b), 'bad-option'],
    ['message type 0', (b) => ((b[242] = 0), b), 'bad-value'],
    ['no end marker', (b) => b.subarray(0, 240 + 3 + 6), 'bad-option'],
    ['too long', (b) => Uint8Array.from([...b, ...new Uint8Array(1500)]), 'bad-length'],
  ];
  for (const [name, mutate, code] of variants) {
    const r = decodeDhcp(mutate(Uint8Array.from(good)));
    assert.ok(!r.ok, name);
    assert.equal(r.error.code, code, name);
    const frame = encodeUdpFrame(
      { destinationMac: BROADCAST_MAC, sourceMac: HOST_MAC, sourceIp: 0, destinationIp: 0xffffffff, sourcePort: 68, destinationPort: 67 },
      mutate(Uint8Array.from(good)),
    );
    assert.deepEqual(makeServer().handle(frame), { kind: 'ignored', reason: 'malformed' }, name);
  }
});

test('the server refuses a client address outside the subnet or equal to the services address', () => {
  assert.throws(() => makeServer({ clientAddress: ip('10.254.0.1') }), RangeError);
  assert.throws(() => makeServer({ clientAddress: ip('10.1.0.1') }), RangeError);
  assert.throws(() => makeServer({ clientAddress: ip('10.254.255.255') }), RangeError);
});
