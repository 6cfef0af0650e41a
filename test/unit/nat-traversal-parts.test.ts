import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointBook } from '../../src/overlay/node/endpoint-book.js';
import { RelayService, defaultRelayServiceInit } from '../../src/overlay/node/relay-service.js';
import { natReason, rankRelays } from '../../src/overlay/node/relay-choice.js';
import { NodeTransport, relayOf, relayPath } from '../../src/overlay/node/node-transport.js';
import { NatKind, type NeighbourInfo } from '../../src/overlay/wire/messages.js';
import type { DatagramTransport, Endpoint } from '../../src/overlay/transport.js';
import { isRelayEndpoint, parseRelayEndpoint } from '../../src/overlay/transport.js';

test('endpoint book: public host, endpoint-independent NAT, symmetric NAT', () => {
  const local = ['192.168.1.10:4000'];
  const book = new EndpointBook(() => local);
  assert.equal(book.nat(), NatKind.NONE);
  assert.deepEqual(book.endpoints(), local);

  // A peer on the same LAN sees the local endpoint: still nothing known about the NAT.
  book.report(1n, '192.168.1.10:4000', 1);
  assert.equal(book.nat(), NatKind.NONE);

  // Two outside peers see the same public mapping: endpoint-independent, public endpoint first.
  assert.equal(book.report(2n, '198.51.100.7:61000', 2), true);
  book.report(3n, '198.51.100.7:61000', 3);
  assert.equal(book.nat(), NatKind.ENDPOINT_INDEPENDENT);
  assert.deepEqual(book.endpoints(), ['198.51.100.7:61000', '192.168.1.10:4000']);

  // A third sees another port of the same address: the NAT maps per destination.
  book.report(4n, '198.51.100.7:61007', 4);
  assert.equal(book.nat(), NatKind.ENDPOINT_DEPENDENT);
  assert.equal(book.endpoints()[0], '198.51.100.7:61000', 'the endpoint most peers agree on comes first');

  book.clear();
  assert.equal(book.nat(), NatKind.NONE);
  assert.equal(book.report(5n, 'not an endpoint', 5), false);
  assert.equal(book.observationCount, 0);
});

test('endpoint book: reporters are bounded, unspecified local addresses are not advertised', () => {
  const book = new EndpointBook(() => ['0.0.0.0:4000']);
  for (let i = 0; i < 1000; i++) book.report(BigInt(i + 1), `203.0.113.1:${1000 + (i % 3)}`, i);
  assert.ok(book.observationCount <= 32);
  assert.ok(!book.endpoints().includes('0.0.0.0:4000'));
});

test('relay service: forwards only between linked peers, caps pairs and rate', () => {
  const linked = new Set([1n, 2n, 3n, 4n, 5n]);
  const delivered: [bigint, bigint, number][] = [];
  const relay = new RelayService({ ...defaultRelayServiceInit, maxPairs: 2, bytesPerSecond: 1000, burstBytes: 2000 }, (p) => linked.has(p), (to, from, payload) => {
    delivered.push([to, from, payload.length]);
    return true;
  });
  const packet = new Uint8Array(500);
  assert.equal(relay.onRelaySend(1n, 2n, packet, 0), true);
  assert.equal(relay.onRelaySend(2n, 1n, packet, 0), true, 'the same pair both ways is one pair');
  assert.equal(relay.onRelaySend(1n, 9n, packet, 0), false, 'not linked to the destination');
  assert.equal(relay.onRelaySend(1n, 1n, packet, 0), false);
  assert.equal(relay.onRelaySend(3n, 4n, packet, 0), true);
  assert.equal(relay.onRelaySend(3n, 5n, packet, 0), false, 'a third pair exceeds the cap');
  assert.equal(relay.stats.refusedPairCap, 1);
  // Source 1 has used 500 of its 2000 burst bytes at t=0: three more fit, the fourth does not.
  assert.equal(relay.onRelaySend(1n, 2n, packet, 0), true);
  assert.equal(relay.onRelaySend(1n, 2n, packet, 0), true);
  assert.equal(relay.onRelaySend(1n, 2n, packet, 0), true);
  assert.equal(relay.onRelaySend(1n, 2n, packet, 0), false, 'burst spent');
  assert.equal(relay.stats.refusedRateLimited, 1);
  assert.equal(relay.onRelaySend(1n, 2n, packet, 600), true, 'refilled at 1000 B/s');
  // Idle pairs expire and make room.
  assert.equal(relay.onRelaySend(3n, 5n, packet, 10 * 60_000), true);
  assert.equal(delivered.length, relay.stats.forwarded);
});

test('relay ranking: both sides agree, strategies differ as documented', () => {
  const a: NeighbourInfo[] = [
    { address: 10n, ageSeconds: 30, rttMs: 5 },
    { address: 11n, ageSeconds: 3000, rttMs: 80 },
    { address: 12n, ageSeconds: 600, rttMs: 20 },
    { address: 13n, ageSeconds: 600, rttMs: 1 },
  ];
  const b: NeighbourInfo[] = [
    { address: 10n, ageSeconds: 4000, rttMs: 5 },
    { address: 11n, ageSeconds: 5000, rttMs: 80 },
    { address: 12n, ageSeconds: 900, rttMs: null },
    { address: 14n, ageSeconds: 900, rttMs: 1 },
  ];
  const none = (): number => 0;
  assert.deepEqual(rankRelays(a, b, 'lowest-latency', none), [10n, 11n, 12n]);
  assert.deepEqual(rankRelays(a, b, 'most-stable', none), [11n, 12n, 10n]);
  // balanced: 10 is fastest but its connection on one side is 30 s old.
  assert.deepEqual(rankRelays(a, b, 'balanced', none), [11n, 12n, 10n]);
  assert.deepEqual(rankRelays(a, [], 'balanced', none), []);
});

test('plain-word reasons name the NAT situation', () => {
  const sym = { address: 1n, endpoints: [], nat: NatKind.ENDPOINT_DEPENDENT };
  const eim = { address: 2n, endpoints: [], nat: NatKind.ENDPOINT_INDEPENDENT };
  const open = { address: 3n, endpoints: [] };
  assert.match(natReason(sym, sym), /both sides .*\(symmetric\)/);
  assert.match(natReason(sym, open), /the peer is behind/);
  assert.match(natReason(open, sym), /this node is behind/);
  assert.match(natReason(eim, open), /hole punching/);
  assert.match(natReason(open, open), /firewall/);
});

test('node transport: relay endpoints go to the relay, injected datagrams come from relay endpoints', () => {
  const sent: [Endpoint, number][] = [];
  let handler: ((from: Endpoint, bytes: Uint8Array) => void) | null = null;
  const socket: DatagramTransport = {
    localEndpoint: '127.0.0.1:4000',
    send: (to, bytes) => sent.push([to, bytes.length]),
    onPacket: (h) => {
      handler = h;
    },
    close: () => {},
  };
  const viaRelay: [bigint, bigint, number][] = [];
  const t = new NodeTransport(socket, (relay, to, bytes) => viaRelay.push([relay, to, bytes.length]));
  const got: Endpoint[] = [];
  t.onPacket((from) => got.push(from));
  const path = relayPath(0xabcn, 0xdefn);
  assert.ok(isRelayEndpoint(path));
  assert.deepEqual(parseRelayEndpoint(path), { relayHex: 'abc'.padStart(40, '0'), peerHex: 'def'.padStart(40, '0') });
  assert.equal(relayOf(path), 0xabcn);
  assert.equal(relayOf('127.0.0.1:1'), null);
  t.send(path, new Uint8Array(3));
  t.send('127.0.0.1:5000', new Uint8Array(4));
  t.send('relay:zz:zz', new Uint8Array(5));
  assert.deepEqual(viaRelay, [[0xabcn, 0xdefn, 3]]);
  assert.deepEqual(sent, [['127.0.0.1:5000', 4]]);
  (handler as unknown as (from: Endpoint, bytes: Uint8Array) => void)('10.0.0.1:1', new Uint8Array(1));
  t.inject(0xabcn, 0xdefn, new Uint8Array(1));
  assert.deepEqual(got, ['10.0.0.1:1', path]);
});

test('endpoint book: a peer that sees us move makes the older reports stale (a NAT restart is not a symmetric NAT)', () => {
  const book = new EndpointBook(() => ['192.168.1.10:4000']);
  book.report(1n, '198.51.100.7:4000', 1);
  book.report(2n, '198.51.100.7:4000', 2);
  assert.equal(book.nat(), NatKind.ENDPOINT_INDEPENDENT);
  // The NAT restarted and maps us to another port; peer 1 sees the move first.
  assert.equal(book.report(1n, '198.51.100.7:5123', 3), true);
  assert.equal(book.nat(), NatKind.ENDPOINT_INDEPENDENT);
  assert.equal(book.endpoints()[0], '198.51.100.7:5123');
});
