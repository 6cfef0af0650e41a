import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SocketAddress, isIPv4, isIPv6 } from 'node:net';
import { RING_SIZE, addressFromBytes, addressToBytes, type Address } from '../../src/overlay/address.js';
import { createSeededRandom, type Random } from '../../src/overlay/random.js';
import { parseEndpoint } from '../../src/overlay/transport.js';
import { ByteReader, ByteWriter } from '../../src/overlay/wire/bytes.js';
import {
  DHT_RECORD_SIGNING_DOMAIN,
  decodeDhtRecord,
  decodeMessage,
  decodePeerRecord,
  dhtRecordSignedBytes,
  encodeDhtRecord,
  encodeMessage,
  encodePeerRecord,
} from '../../src/overlay/wire/codec.js';
import {
  MAX_APP_DATA_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_RELAY_PAYLOAD_BYTES,
  MessageType,
  OVERLAY_WIRE_VERSION,
  type DhtRecord,
  type OverlayMessage,
  type PeerRecord,
  type RoutedBody,
  type RoutedMessage,
  type WireErrorCode,
} from '../../src/overlay/wire/messages.js';

// ---------------------------------------------------------------- fixtures

const A1 = 0x0123456789abcdef0123456789abcdef01234567n;
const A2 = RING_SIZE - 1n;
const A3 = 0n;
const A4 = 0xfedcba9876543210fedcba9876543210fedcba98n;

function bytesOf(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

const peerV4: PeerRecord = { address: A1, endpoints: ['10.0.0.1:4000', '203.0.113.255:65535'] };
const peerV6: PeerRecord = {
  address: A2,
  endpoints: ['[2001:db8::1]:51820', '[::ffff:198.51.100.7]:9', '[fe80::1:0:0:2]:1', '[::]:443'],
};
const peerBare: PeerRecord = { address: A3, endpoints: [] };
const peerMixed: PeerRecord = { address: A4, endpoints: ['1.2.3.4:5', '[1:2:3:4:5:6:7:8]:80'] };

function dhtRecord(seed: number, overrides: Partial<DhtRecord> = {}): DhtRecord {
  return {
    key: bytesOf(1 + (seed % 64), seed),
    value: bytesOf((seed * 97) % 1025, seed + 1),
    writer: bytesOf(32, seed + 2),
    issuedAt: 1_700_000_000_000 + seed,
    ttlSeconds: 3600 * seed,
    flags: seed % 2,
    signature: bytesOf(64, seed + 3),
    ...overrides,
  };
}

function routed(body: RoutedBody, overrides: Partial<RoutedMessage> = {}): RoutedMessage {
  return {
    kind: 'routed',
    source: A1,
    destination: A4,
    mode: 1,
    excludeSource: false,
    ttl: 32,
    hops: 3,
    forwardTo: null,
    body,
    ...overrides,
  };
}

const eightPeers: PeerRecord[] = Array.from({ length: 8 }, (_, i) => ({
  address: BigInt(i) * 0x1111n,
  endpoints: i % 2 === 0 ? [`192.168.${i}.1:${1000 + i}`] : [`[2001:db8::${i}]:${2000 + i}`, `10.1.1.${i}:7`],
}));

/** Every message kind and routed body type, with IPv4 and IPv6 endpoints and boundary sizes. */
const samples: { name: string; msg: OverlayMessage }[] = [
  { name: 'status', msg: { kind: 'status', wantReply: true, churn: false, left: [peerV4, peerBare], right: [peerV6] } },
  { name: 'status (empty)', msg: { kind: 'status', wantReply: false, churn: true, left: [], right: [] } },
  { name: 'status (full)', msg: { kind: 'status', wantReply: false, churn: false, left: eightPeers, right: [peerV6, ...eightPeers.slice(1)] } },
  { name: 'leave', msg: { kind: 'leave', left: [peerMixed], right: [peerV4, peerV6] } },
  { name: 'dht-replicate', msg: { kind: 'dht-replicate', records: [dhtRecord(1)] } },
  {
    name: 'dht-replicate (16 records, full key and value)',
    msg: {
      kind: 'dht-replicate',
      records: Array.from({ length: 16 }, (_, i) =>
        dhtRecord(i, { key: bytesOf(64, i), value: bytesOf(1024, i), issuedAt: i === 0 ? 0 : Number.MAX_SAFE_INTEGER, ttlSeconds: 0xffffffff }),
      ),
    },
  },
  {
    name: 'broadcast',
    msg: { kind: 'broadcast', id: bytesOf(8, 5), origin: A1, rangeStart: A2, rangeEnd: A3, hops: 255, channel: 65535, data: bytesOf(100, 9) },
  },
  {
    name: 'broadcast (max data)',
    msg: { kind: 'broadcast', id: bytesOf(8, 6), origin: A4, rangeStart: A1, rangeEnd: A1, hops: 0, channel: 0, data: bytesOf(MAX_APP_DATA_BYTES, 1) },
  },
  { name: 'routed connect-request', msg: routed({ type: 'connect-request', token: 0xffffffff, purpose: 2, requester: peerV6, via: null }, { mode: 3, forwardTo: A2 }) },
  {
    name: 'routed connect-request (via, NATed requester)',
    msg: routed({ type: 'connect-request', token: 3, purpose: 0, requester: { ...peerV4, nat: 1 }, via: A3 }),
  },
  {
    name: 'routed path-request',
    msg: routed({
      type: 'path-request',
      token: 11,
      requester: { ...peerMixed, nat: 2 },
      via: A4,
      directBroken: true,
      neighbours: [
        { address: A1, ageSeconds: 0xffffffff, rttMs: 0 },
        { address: A2, ageSeconds: 0, rttMs: null },
        { address: A3, ageSeconds: 17, rttMs: 0xfffe },
      ],
    }),
  },
  { name: 'routed path-reply (no neighbours)', msg: routed({ type: 'path-reply', token: 12, responder: peerV6, neighbours: [] }) },
  { name: 'endpoint-report v4', msg: { kind: 'endpoint-report', observed: '203.0.113.9:61000', sender: { ...peerV4, nat: 1 } } },
  { name: 'endpoint-report v6', msg: { kind: 'endpoint-report', observed: '[2001:db8::1]:1', sender: peerBare } },
  { name: 'datagram', msg: { kind: 'datagram', data: bytesOf(1400, 3) } },
  { name: 'datagram (empty)', msg: { kind: 'datagram', data: new Uint8Array(0) } },
  { name: 'relay-send', msg: { kind: 'relay-send', to: A2, payload: bytesOf(1200, 7) } },
  { name: 'relay-deliver (max)', msg: { kind: 'relay-deliver', from: A4, payload: bytesOf(MAX_RELAY_PAYLOAD_BYTES, 8) } },
  {
    name: 'routed connect-reply',
    msg: routed({ type: 'connect-reply', token: 7, responder: peerV4, left: [peerV6, peerMixed], right: eightPeers }, { mode: 0, excludeSource: true }),
  },
  { name: 'routed ping', msg: routed({ type: 'ping', id: 0, sentAt: 1234.5678 }, { ttl: 0, hops: 255 }) },
  { name: 'routed pong', msg: routed({ type: 'pong', id: 99, sentAt: -0.25, requestHops: 17 }, { mode: 2 }) },
  { name: 'routed dht-request (get)', msg: routed({ type: 'dht-request', requestId: 5, op: 0, key: bytesOf(20, 1), record: null }) },
  {
    name: 'routed dht-request (put)',
    msg: routed({ type: 'dht-request', requestId: 6, op: 1, key: bytesOf(64, 2), record: dhtRecord(3) }, { forwardTo: A3 }),
  },
  { name: 'routed dht-response (none)', msg: routed({ type: 'dht-response', requestId: 8, status: 1, records: [] }) },
  {
    name: 'routed dht-response',
    msg: routed({ type: 'dht-response', requestId: 9, status: 0, records: [dhtRecord(4), dhtRecord(5, { value: new Uint8Array(0) })] }),
  },
  { name: 'routed crawl-request', msg: routed({ type: 'crawl-request', id: 0x12345678 }) },
  { name: 'routed crawl-reply', msg: routed({ type: 'crawl-reply', id: 1, left: [peerV4], right: [peerV6, peerBare] }) },
  { name: 'routed app', msg: routed({ type: 'app', channel: 443, data: bytesOf(1500, 3) }) },
  { name: 'routed app (empty)', msg: routed({ type: 'app', channel: 0, data: new Uint8Array(0) }) },
  { name: 'routed app (max data)', msg: routed({ type: 'app', channel: 65535, data: bytesOf(MAX_APP_DATA_BYTES, 4) }) },
];

function decodeOk(bytes: Uint8Array): OverlayMessage {
  const result = decodeMessage(bytes);
  if (!result.ok) assert.fail(`expected a successful decode, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

function expectError(bytes: Uint8Array, code: WireErrorCode, message?: RegExp): void {
  const result = decodeMessage(bytes);
  assert.equal(result.ok, false, `expected ${code}, but the message decoded`);
  if (result.ok) return;
  assert.equal(result.error.code, code, `expected ${code}, got ${result.error.code}: ${result.error.message}`);
  assert.ok(result.error.message.length > 0);
  if (message) assert.match(result.error.message, message);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A copy of `bytes` with `patch` applied to a DataView over it. */
function patched(bytes: Uint8Array, patch: (view: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  patch(new DataView(copy.buffer));
  return copy;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Offsets in a routed message without forwardTo. */
const ROUTED = { mode: 42, excludeSource: 43, hasForward: 46, bodyType: 47, body: 48 };

// ---------------------------------------------------------------- round trips

test('every message kind and routed body round-trips, and the encoding is canonical', () => {
  const kinds = new Set<string>();
  for (const { name, msg } of samples) {
    const bytes = encodeMessage(msg);
    assert.equal(bytes[0], OVERLAY_WIRE_VERSION, name);
    assert.ok(bytes.length <= MAX_MESSAGE_BYTES, name);
    const decoded = decodeOk(bytes);
    assert.deepStrictEqual(decoded, msg, name);
    assert.ok(sameBytes(encodeMessage(decoded), bytes), `${name}: re-encoding differs`);
    kinds.add(msg.kind === 'routed' ? `routed ${msg.body.type}` : msg.kind);
  }
  assert.equal(kinds.size, 8 + 11, 'all 8 plain kinds and 11 routed bodies are covered');
});

test('random messages round-trip', () => {
  const random = createSeededRandom('wire-codec round trip');
  for (let i = 0; i < 3000; i++) {
    const msg = randomMessage(random, 1024);
    const bytes = encodeMessage(msg);
    assert.deepStrictEqual(decodeOk(bytes), msg);
  }
});

test('decoding works on a Buffer at a non-zero offset and yields plain Uint8Array views of it', () => {
  const bytes = encodeMessage(samples[4]!.msg);
  const pool = Buffer.alloc(bytes.length + 13);
  pool.set(bytes, 13);
  const view = pool.subarray(13);
  const decoded = decodeOk(view);
  assert.deepStrictEqual(decoded, samples[4]!.msg);
  assert.ok(decoded.kind === 'dht-replicate');
  const key = decoded.records[0]!.key;
  assert.equal(Object.getPrototypeOf(key), Uint8Array.prototype);
  assert.equal(key.buffer, pool.buffer, 'byte fields alias the input');
});

test('peer and DHT record helpers round-trip on their own', () => {
  for (const peer of [peerV4, peerV6, peerBare, peerMixed]) {
    const result = decodePeerRecord(encodePeerRecord(peer));
    assert.ok(result.ok);
    assert.deepStrictEqual(result.value, peer);
  }
  const record = dhtRecord(11);
  const result = decodeDhtRecord(encodeDhtRecord(record));
  assert.ok(result.ok);
  assert.deepStrictEqual(result.value, record);
  const extra = decodeDhtRecord(concat(encodeDhtRecord(record), new Uint8Array(1)));
  assert.ok(!extra.ok && extra.error.code === 'trailing-bytes');
  const short = decodePeerRecord(encodePeerRecord(peerV6).subarray(0, 30));
  assert.ok(!short.ok && short.error.code === 'truncated');
});

test('dhtRecordSignedBytes: domain-prefixed, deterministic, covers every field but the signature', () => {
  const record = dhtRecord(7);
  const { signature: _signature, ...unsigned } = record;
  const signed = dhtRecordSignedBytes(unsigned);
  const domain = new TextEncoder().encode('ringvpn-dht-record-v1');
  assert.equal(DHT_RECORD_SIGNING_DOMAIN, 'ringvpn-dht-record-v1');
  assert.ok(sameBytes(signed.subarray(0, domain.length), domain));
  const encoded = encodeDhtRecord(record);
  assert.ok(sameBytes(signed.subarray(domain.length), encoded.subarray(0, encoded.length - 64)));
  assert.ok(sameBytes(dhtRecordSignedBytes({ ...record, signature: bytesOf(64, 200) } as DhtRecord), signed));
  const changes: Partial<DhtRecord>[] = [
    { key: bytesOf(record.key.length + 1, 7) },
    { value: bytesOf(record.value.length, 50) },
    { writer: bytesOf(32, 99) },
    { issuedAt: record.issuedAt + 1 },
    { ttlSeconds: record.ttlSeconds + 1 },
    { flags: record.flags ^ 1 },
  ];
  for (const change of changes) assert.ok(!sameBytes(dhtRecordSignedBytes({ ...unsigned, ...change }), signed), JSON.stringify(Object.keys(change)));
  // Moving a byte from the key to the value must change the signed bytes (lengths are covered).
  const a = dhtRecordSignedBytes({ ...unsigned, key: Uint8Array.of(1, 2), value: Uint8Array.of(3) });
  const b = dhtRecordSignedBytes({ ...unsigned, key: Uint8Array.of(1), value: Uint8Array.of(2, 3) });
  assert.ok(!sameBytes(a, b));
  assert.throws(() => dhtRecordSignedBytes({ ...unsigned, key: new Uint8Array(0) }), RangeError);
});

test('addresses are 20 bytes big-endian, exactly as addressToBytes/addressFromBytes', () => {
  const random = createSeededRandom('addresses');
  const values = [0n, 1n, 255n, 1n << 64n, (1n << 96n) - 1n, RING_SIZE - 1n];
  for (let i = 0; i < 200; i++) values.push(addressFromBytes(random.bytes(20)));
  for (const a of values) {
    const w = new ByteWriter(4);
    w.address(a, 'a');
    const bytes = w.finish();
    assert.ok(sameBytes(bytes, addressToBytes(a)));
    const r = new ByteReader(bytes);
    assert.equal(r.address('a'), a);
    assert.equal(r.error, null);
  }
  assert.throws(() => new ByteWriter().address(RING_SIZE, 'a'), TypeError);
  assert.throws(() => new ByteWriter().address(-1n, 'a'), TypeError);
});

test('IPv6 endpoints decode to the text Node itself prints, which parseEndpoint accepts', () => {
  const random = createSeededRandom('ipv6');
  for (let i = 0; i < 3000; i++) {
    const endpoint = randomIpv6Endpoint(random);
    const msg: OverlayMessage = { kind: 'leave', left: [{ address: 1n, endpoints: [endpoint] }], right: [] };
    const decoded = decodeOk(encodeMessage(msg));
    assert.deepStrictEqual(decoded, msg);
    assert.ok(parseEndpoint(endpoint), endpoint);
  }
  // Other spellings encode to the same bytes and decode to the canonical text.
  const spellings: [string, string][] = [
    ['[2001:DB8:0:0:0:0:0:1]:80', '[2001:db8::1]:80'],
    ['[0:0:0:0:0:0:0:0]:1', '[::]:1'],
    ['[::ffff:c633:6407]:9', '[::ffff:198.51.100.7]:9'],
    ['[0001:02:3:4:5:6:7::]:00080', '[1:2:3:4:5:6:7:0]:80'],
    ['[1::2:3:4:5:6:7]:1', '[1:0:2:3:4:5:6:7]:1'],
    ['[::1.2.3.4]:1', '[::1.2.3.4]:1'],
  ];
  for (const [input, canonical] of spellings) {
    const decoded = decodeOk(encodeMessage({ kind: 'leave', left: [{ address: 1n, endpoints: [input] }], right: [] }));
    assert.deepStrictEqual(decoded, { kind: 'leave', left: [{ address: 1n, endpoints: [canonical] }], right: [] }, input);
  }
});

test('encoding rejects invalid endpoints with a TypeError, and out-of-range fields with a RangeError', () => {
  const bad = [
    '', '1.2.3.4', '1.2.3.4:', '1.2.3.4:0', '1.2.3.4:65536', '1.2.3.4:123456', '1.2.3:4', '1.2.3.4.5:6', '01.2.3.4:5',
    '256.1.1.1:1', '1.2.3.4:x', 'host:80', '[::1]', '[::1]:0', '::1:80', '[1::2::3]:1', '[1:2:3:4:5:6:7:8:9]:1',
    '[1:2:3:4:5:6:7]:1', '[12345::]:1', '[:1]:1', '[1:]:1', '[::g]:1', '[1:2:3:4:5:6:7:8::]:1', '[::1.2.3]:1',
    '[1.2.3.4::]:1', '[1:2:3:4:5:6:7:1.2.3.4]:1', '[fe80::1%eth0]:1', `[${'0:'.repeat(30)}0]:1`,
  ];
  for (const endpoint of bad) {
    assert.throws(
      () => encodeMessage({ kind: 'leave', left: [{ address: 1n, endpoints: [endpoint] }], right: [] }),
      TypeError,
      endpoint,
    );
  }
  const invalid: OverlayMessage[] = [
    { kind: 'status', wantReply: true, churn: false, left: [...eightPeers, peerV4], right: [] },
    { kind: 'leave', left: [{ address: 1n, endpoints: ['1.1.1.1:1', '1.1.1.1:2', '1.1.1.1:3', '1.1.1.1:4', '1.1.1.1:5'] }], right: [] },
    { kind: 'dht-replicate', records: [] },
    { kind: 'dht-replicate', records: [dhtRecord(1, { key: new Uint8Array(65) })] },
    { kind: 'dht-replicate', records: [dhtRecord(1, { value: new Uint8Array(1025) })] },
    { kind: 'dht-replicate', records: [dhtRecord(1, { writer: new Uint8Array(31) })] },
    { kind: 'dht-replicate', records: [dhtRecord(1, { signature: new Uint8Array(65) })] },
    { kind: 'dht-replicate', records: [dhtRecord(1, { issuedAt: 2 ** 53 })] },
    { kind: 'dht-replicate', records: [dhtRecord(1, { issuedAt: -1 })] },
    { kind: 'dht-replicate', records: [dhtRecord(1, { ttlSeconds: 2 ** 32 })] },
    { kind: 'dht-replicate', records: [dhtRecord(1, { flags: 2 })] },
    routed({ type: 'ping', id: 1, sentAt: Number.NaN }),
    routed({ type: 'ping', id: -1, sentAt: 0 }),
    routed({ type: 'ping', id: 1.5, sentAt: 0 }),
    routed({ type: 'crawl-request', id: 1 }, { ttl: 256 }),
    routed({ type: 'crawl-request', id: 1 }, { mode: 4 as 0 }),
    routed({ type: 'connect-request', token: 1, purpose: 3 as 0, requester: peerV4, via: null }),
    routed({ type: 'connect-request', token: 1, purpose: 0, requester: { ...peerV4, nat: 3 as 0 }, via: null }),
    routed({ type: 'path-reply', token: 1, responder: peerV4, neighbours: Array.from({ length: 33 }, () => ({ address: A1, ageSeconds: 1, rttMs: 1 })) }),
    routed({ type: 'path-reply', token: 1, responder: peerV4, neighbours: [{ address: A1, ageSeconds: 1, rttMs: 0xffff }] }),
    { kind: 'relay-send', to: A1, payload: new Uint8Array(0) },
    { kind: 'relay-deliver', from: A1, payload: new Uint8Array(MAX_RELAY_PAYLOAD_BYTES + 1) },
    routed({ type: 'app', channel: 65536, data: new Uint8Array(0) }),
    routed({ type: 'app', channel: 1, data: new Uint8Array(MAX_APP_DATA_BYTES + 1) }),
    routed({ type: 'dht-response', requestId: 1, status: 0, records: Array.from({ length: 17 }, (_, i) => dhtRecord(i)) }),
    { kind: 'broadcast', id: new Uint8Array(7), origin: 1n, rangeStart: 1n, rangeEnd: 1n, hops: 0, channel: 0, data: new Uint8Array(0) },
  ];
  for (const msg of invalid) assert.throws(() => encodeMessage(msg), RangeError);
  assert.throws(() => encodeMessage(routed({ type: 'crawl-request', id: 1 }, { source: RING_SIZE })), TypeError);
});

test('the endpoint encoder accepts exactly the IP texts node:net accepts, and nothing parseEndpoint rejects', () => {
  const random = createSeededRandom('endpoint texts');
  const v6Parts = ['', '0', '1', 'a', 'ffff', 'FFFF', '0db8', '12345', 'g', '1.2.3.4', '01.2.3.4', '255.255.255.256', ':'];
  const v4Parts = ['0', '1', '9', '10', '01', '255', '256', '1000', ''];
  let accepted = 0;
  for (let i = 0; i < 40_000; i++) {
    let host: string;
    if (i % 2 === 0) {
      const parts = Array.from({ length: 1 + random.int(9) }, () => v6Parts[random.int(v6Parts.length)]!);
      host = parts.join(':');
    } else {
      host = Array.from({ length: 3 + random.int(3) }, () => v4Parts[random.int(v4Parts.length)]!).join('.');
    }
    const endpoint = i % 2 === 0 ? `[${host}]:${1 + random.int(65535)}` : `${host}:${1 + random.int(65535)}`;
    let encoded: Uint8Array | null = null;
    try {
      encoded = encodePeerRecord({ address: 1n, endpoints: [endpoint] });
    } catch (error) {
      assert.ok(error instanceof TypeError);
    }
    assert.equal(encoded !== null, i % 2 === 0 ? isIPv6(host) : isIPv4(host), endpoint);
    if (encoded === null) continue;
    accepted++;
    assert.ok(parseEndpoint(endpoint), endpoint);
    const decoded = decodePeerRecord(encoded);
    assert.ok(decoded.ok && parseEndpoint(decoded.value.endpoints[0]!), endpoint);
  }
  assert.ok(accepted > 1000, `only ${accepted} valid texts generated`);
});

// ---------------------------------------------------------------- malformed input

test('malformed: truncated at every length of every valid message', () => {
  for (const { name, msg } of samples) {
    const bytes = encodeMessage(msg);
    // A datagram is the rest of its message (the link's AEAD covers its length): any cut of 2+ bytes is another datagram.
    const shortest = msg.kind === 'datagram' ? 2 : bytes.length;
    for (let n = 0; n < Math.min(shortest, bytes.length); n++) {
      const result = decodeMessage(bytes.subarray(0, n));
      assert.ok(!result.ok, `${name} cut to ${n} bytes decoded`);
      assert.equal(result.error.code, 'truncated', `${name} cut to ${n}: ${result.error.message}`);
    }
  }
});

test('malformed: bad version', () => {
  const bytes = encodeMessage(samples[0]!.msg);
  for (const version of [0, 2, 0xff]) {
    expectError(patched(bytes, (v) => v.setUint8(0, version)), 'bad-version', new RegExp(`version ${version}`));
  }
});

test('malformed: unknown message type and routed body type', () => {
  const bytes = encodeMessage(samples[0]!.msg);
  for (const type of [0x00, 0x0f, 0x19, 0xff]) expectError(patched(bytes, (v) => v.setUint8(1, type)), 'unknown-type');
  const ping = encodeMessage(routed({ type: 'ping', id: 1, sentAt: 2 }));
  for (const type of [0x00, 0x0c, 0xff]) expectError(patched(ping, (v) => v.setUint8(ROUTED.bodyType, type)), 'unknown-type', /body type/);
});

test('malformed: counts and sizes out of range', () => {
  const status = encodeMessage({ kind: 'status', wantReply: false, churn: false, left: [peerV4], right: [] });
  expectError(patched(status, (v) => v.setUint8(3, 12)), 'bad-length', /status message lists 12 left neighbours, at most 8 allowed/);
  expectError(patched(status, (v) => v.setUint8(24, 5)), 'bad-length', /5 endpoints, at most 4 allowed/);
  expectError(patched(status, (v) => v.setUint8(24, 0x31)), 'bad-value', /unknown bits/);
  expectError(patched(status, (v) => v.setUint8(24, 0x41)), 'bad-value', /unknown bits/);
  const crawl = encodeMessage(routed({ type: 'crawl-reply', id: 1, left: [], right: [] }));
  expectError(patched(crawl, (v) => v.setUint8(ROUTED.body + 5, 9)), 'bad-length', /crawl-reply lists 9 right neighbours/);

  const replicate = encodeMessage({ kind: 'dht-replicate', records: [dhtRecord(1, { key: bytesOf(2, 0), value: bytesOf(3, 0) })] });
  expectError(patched(replicate, (v) => v.setUint8(2, 0)), 'bad-length', /record count is 0, expected 1..16/);
  expectError(patched(replicate, (v) => v.setUint8(2, 17)), 'bad-length');
  expectError(patched(replicate, (v) => v.setUint8(3, 0)), 'bad-length', /key is 0 bytes/);
  expectError(patched(replicate, (v) => v.setUint8(3, 65)), 'bad-length', /key is 65 bytes/);
  expectError(patched(replicate, (v) => v.setUint16(6, 1025)), 'bad-length', /value is 1025 bytes/);

  const response = encodeMessage(routed({ type: 'dht-response', requestId: 1, status: 0, records: [] }));
  expectError(patched(response, (v) => v.setUint8(ROUTED.body + 5, 17)), 'bad-length');
  const request = encodeMessage(routed({ type: 'dht-request', requestId: 1, op: 0, key: bytesOf(4, 0), record: null }));
  expectError(patched(request, (v) => v.setUint8(ROUTED.body + 5, 0)), 'bad-length');
  expectError(patched(request, (v) => v.setUint8(ROUTED.body + 5, 200)), 'bad-length');

  const app = encodeMessage(routed({ type: 'app', channel: 1, data: new Uint8Array(0) }));
  expectError(concat(patched(app, (v) => v.setUint16(ROUTED.body + 2, MAX_APP_DATA_BYTES + 1)), new Uint8Array(MAX_APP_DATA_BYTES + 1)), 'bad-length');
  const broadcast = encodeMessage({ kind: 'broadcast', id: bytesOf(8, 0), origin: 1n, rangeStart: 2n, rangeEnd: 3n, hops: 0, channel: 0, data: new Uint8Array(0) });
  expectError(patched(broadcast, (v) => v.setUint16(broadcast.length - 2, 0xffff)), 'bad-length');
});

test('malformed: bad enum, boolean, flag and number values', () => {
  // A path-request without via ends with its flags byte.
  const pathRequest = encodeMessage(routed({ type: 'path-request', token: 1, requester: peerV4, neighbours: [], via: null, directBroken: false }));
  expectError(patched(pathRequest, (v) => v.setUint8(pathRequest.length - 1, 0x04)), 'bad-value', /path-request flags 0x4 has unknown bits/);
  const broken = decodeMessage(patched(pathRequest, (v) => v.setUint8(pathRequest.length - 1, 0x02)));
  assert.ok(broken.ok && broken.value.kind === 'routed' && broken.value.body.type === 'path-request' && broken.value.body.directBroken);
  const crawl = encodeMessage(routed({ type: 'crawl-request', id: 1 }));
  expectError(patched(crawl, (v) => v.setUint8(ROUTED.mode, 4)), 'bad-value', /mode is 4/);
  expectError(patched(crawl, (v) => v.setUint8(ROUTED.excludeSource, 2)), 'bad-value', /excludeSource is 2, expected 0 or 1/);
  expectError(patched(crawl, (v) => v.setUint8(ROUTED.hasForward, 0xff)), 'bad-value');
  const status = encodeMessage({ kind: 'status', wantReply: true, churn: false, left: [peerV4], right: [peerV6] });
  expectError(patched(status, (v) => v.setUint8(2, 4)), 'bad-value', /unknown flag bits/);
  expectError(patched(status, (v) => v.setUint8(25, 5)), 'bad-value', /address family 5/);
  expectError(patched(status, (v) => v.setUint16(30, 0)), 'bad-value', /port 0/);

  const connect = encodeMessage(routed({ type: 'connect-request', token: 1, purpose: 0, requester: peerBare, via: null }));
  expectError(patched(connect, (v) => v.setUint8(ROUTED.body + 4, 3)), 'bad-value', /purpose/);
  const request = encodeMessage(routed({ type: 'dht-request', requestId: 1, op: 1, key: bytesOf(4, 0), record: dhtRecord(2) }));
  expectError(patched(request, (v) => v.setUint8(ROUTED.body + 4, 4)), 'bad-value', /op/);
  expectError(patched(request, (v) => v.setUint8(ROUTED.body + 10, 2)), 'bad-value', /hasRecord/);
  const response = encodeMessage(routed({ type: 'dht-response', requestId: 1, status: 0, records: [] }));
  expectError(patched(response, (v) => v.setUint8(ROUTED.body + 4, 5)), 'bad-value', /status/);
  // A dht-request that claims a record but carries none is not valid.
  const noRecord = encodeMessage(routed({ type: 'dht-request', requestId: 1, op: 1, key: bytesOf(4, 0), record: null }));
  expectError(patched(noRecord, (v) => v.setUint8(noRecord.length - 1, 1)), 'truncated');

  const ping = encodeMessage(routed({ type: 'ping', id: 1, sentAt: 2 }));
  for (const sentAt of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    expectError(patched(ping, (v) => v.setFloat64(ROUTED.body + 4, sentAt)), 'bad-value', /finite/);
  }
  const record = { key: bytesOf(2, 0), value: bytesOf(3, 0) };
  const replicate = encodeMessage({ kind: 'dht-replicate', records: [dhtRecord(1, record)] });
  const issuedAt = 3 + 1 + 2 + 2 + 3 + 32;
  expectError(patched(replicate, (v) => v.setUint32(issuedAt, 0x0020_0000)), 'bad-value', /2\^53-1/);
  const max = patched(replicate, (v) => (v.setUint32(issuedAt, 0x001f_ffff), v.setUint32(issuedAt + 4, 0xffff_ffff)));
  const decoded = decodeOk(max);
  assert.ok(decoded.kind === 'dht-replicate' && decoded.records[0]!.issuedAt === Number.MAX_SAFE_INTEGER);
  expectError(patched(replicate, (v) => v.setUint8(issuedAt + 12, 0x02)), 'bad-value', /flags/);
});

test('malformed: trailing bytes', () => {
  for (const { name, msg } of samples.slice(0, 12)) {
    const bytes = encodeMessage(msg);
    expectError(concat(bytes, Uint8Array.of(0)), 'trailing-bytes', new RegExp(`1 unexpected bytes after the end of the ${name.split(' ')[0]}`));
    expectError(concat(bytes, bytesOf(17, 1)), 'trailing-bytes', /17 unexpected bytes/);
  }
});

test('malformed: oversized', () => {
  const huge = new Uint8Array(MAX_MESSAGE_BYTES + 1);
  huge[0] = OVERLAY_WIRE_VERSION;
  huge[1] = MessageType.ROUTED;
  expectError(huge, 'too-large', /65001 bytes, at most 65000/);
  expectError(new Uint8Array(1_000_000), 'too-large');
});

// ---------------------------------------------------------------- fuzz

test('fuzz: 120,000 random and mutated packets never throw, and what decodes re-encodes identically', () => {
  const random = createSeededRandom('wire-codec fuzz');
  const seeds = Array.from({ length: 400 }, () => encodeMessage(randomMessage(random, 48)));
  for (const { msg } of samples) {
    const bytes = encodeMessage(msg);
    if (bytes.length < 4000) seeds.push(bytes);
  }
  const codes = new Map<string, number>();
  let decoded = 0;
  const total = 120_000;
  for (let i = 0; i < total; i++) {
    const input = i % 8 === 0 ? randomPacket(random) : mutate(random, seeds[random.int(seeds.length)]!);
    let result: ReturnType<typeof decodeMessage>;
    try {
      result = decodeMessage(input);
    } catch (error) {
      assert.fail(`decodeMessage threw on packet #${i} (${Buffer.from(input).toString('hex')}): ${String(error)}`);
    }
    if (!result.ok) {
      codes.set(result.error.code, (codes.get(result.error.code) ?? 0) + 1);
      continue;
    }
    decoded++;
    const again = encodeMessage(result.value);
    assert.ok(sameBytes(again, input), `packet #${i} decoded but re-encodes differently`);
    assert.deepStrictEqual(decodeOk(again), result.value);
  }
  assert.ok(decoded > 1000, `only ${decoded} of ${total} fuzzed packets decoded`);
  for (const code of ['truncated', 'bad-version', 'unknown-type', 'bad-length', 'bad-value', 'trailing-bytes']) {
    assert.ok((codes.get(code) ?? 0) > 0, `fuzzing never produced ${code}`);
  }
});

// ---------------------------------------------------------------- generators

function randomAddress(random: Random): Address {
  const r = random.int(10);
  if (r === 0) return 0n;
  if (r === 1) return RING_SIZE - 1n;
  return addressFromBytes(random.bytes(20));
}

function randomPort(random: Random): number {
  return random.int(4) === 0 ? [1, 65535][random.int(2)]! : 1 + random.int(65535);
}

/** Zero-heavy groups, formatted by Node (an independent oracle for the canonical text). */
function randomIpv6Endpoint(random: Random): string {
  const groups: number[] = [];
  const style = random.int(4);
  for (let g = 0; g < 8; g++) {
    if (style === 0) groups.push(random.int(65536));
    else if (style === 1) groups.push(random.int(3) === 0 ? random.int(65536) : 0);
    else if (style === 2) groups.push(g < 5 ? 0 : g === 5 ? [0, 0xffff][random.int(2)]! : random.int(65536));
    else groups.push(random.int(2) === 0 ? 0 : random.int(4));
  }
  const host = new SocketAddress({ address: groups.map((g) => g.toString(16)).join(':'), family: 'ipv6' }).address;
  return `[${host}]:${randomPort(random)}`;
}

function randomEndpoint(random: Random): string {
  if (random.int(2) === 0) return randomIpv6Endpoint(random);
  return `${random.int(256)}.${random.int(256)}.${random.int(256)}.${random.int(256)}:${randomPort(random)}`;
}

function randomPeer(random: Random): PeerRecord {
  const endpoints = Array.from({ length: random.int(5) }, () => randomEndpoint(random));
  const nat = random.int(3);
  return nat === 0 ? { address: randomAddress(random), endpoints } : { address: randomAddress(random), endpoints, nat: nat as 1 | 2 };
}

function randomPeers(random: Random): PeerRecord[] {
  return Array.from({ length: random.int(9) }, () => randomPeer(random));
}

function randomRecord(random: Random, maxValue: number): DhtRecord {
  const edge = random.int(4);
  return {
    key: random.bytes(1 + random.int(64)),
    value: random.bytes(random.int(maxValue + 1)),
    writer: random.bytes(32),
    issuedAt: edge === 0 ? 0 : edge === 1 ? Number.MAX_SAFE_INTEGER : random.int(2 ** 53),
    ttlSeconds: edge === 0 ? 0xffffffff : random.int(2 ** 32),
    flags: random.int(2),
    signature: random.bytes(64),
  };
}

function randomFloat(random: Random): number {
  const special = [0, -0, Number.MIN_VALUE, -Number.MAX_VALUE, Number.MAX_VALUE, Number.EPSILON];
  return random.int(4) === 0 ? special[random.int(special.length)]! : (random.float() - 0.5) * 2 ** (random.int(80) - 20);
}

function randomBody(random: Random, maxBytes: number): RoutedBody {
  const u32 = (): number => random.int(2 ** 32);
  switch (random.int(10)) {
    case 8: {
      const neighbours = Array.from({ length: random.int(33) }, () => ({
        address: randomAddress(random),
        ageSeconds: u32(),
        rttMs: random.int(4) === 0 ? null : random.int(0xffff),
      }));
      return random.int(2) === 0
        ? { type: 'path-request', token: u32(), requester: randomPeer(random), neighbours, via: random.int(2) === 0 ? null : randomAddress(random), directBroken: random.int(2) === 0 }
        : { type: 'path-reply', token: u32(), responder: randomPeer(random), neighbours };
    }
    case 0:
      return { type: 'connect-request', token: u32(), purpose: random.int(3) as 0, requester: randomPeer(random), via: random.int(2) === 0 ? null : randomPeer(random).address };
    case 1:
      return { type: 'connect-reply', token: u32(), responder: randomPeer(random), left: randomPeers(random), right: randomPeers(random) };
    case 2:
      return { type: 'ping', id: u32(), sentAt: randomFloat(random) };
    case 3:
      return { type: 'pong', id: u32(), sentAt: randomFloat(random), requestHops: random.int(256) };
    case 4:
      return {
        type: 'dht-request',
        requestId: u32(),
        op: random.int(4) as 0,
        key: random.bytes(1 + random.int(64)),
        record: random.int(2) === 0 ? null : randomRecord(random, maxBytes),
      };
    case 5:
      return {
        type: 'dht-response',
        requestId: u32(),
        status: random.int(5) as 0,
        records: Array.from({ length: random.int(4) }, () => randomRecord(random, maxBytes)),
      };
    case 6:
      return { type: 'crawl-request', id: u32() };
    case 7:
      return { type: 'crawl-reply', id: u32(), left: randomPeers(random), right: randomPeers(random) };
    default:
      return { type: 'app', channel: random.int(65536), data: random.bytes(random.int(maxBytes + 1)) };
  }
}

/** Any message; byte fields (values, data) at most `maxBytes` long. */
function randomMessage(random: Random, maxBytes: number): OverlayMessage {
  switch (random.int(6)) {
    case 4: {
      const pick = random.int(3);
      if (pick === 0) return random.int(2) === 0 ? { kind: 'endpoint-report', observed: randomEndpoint(random), sender: randomPeer(random) } : { kind: 'datagram', data: random.bytes(random.int(maxBytes + 1)) };
      const payload = random.bytes(1 + random.int(Math.min(maxBytes, MAX_RELAY_PAYLOAD_BYTES)));
      return pick === 1 ? { kind: 'relay-send', to: randomAddress(random), payload } : { kind: 'relay-deliver', from: randomAddress(random), payload };
    }
    case 0:
      return { kind: 'status', wantReply: random.int(2) === 1, churn: random.int(2) === 1, left: randomPeers(random), right: randomPeers(random) };
    case 1:
      return { kind: 'leave', left: randomPeers(random), right: randomPeers(random) };
    case 2:
      return {
        kind: 'dht-replicate',
        records: Array.from({ length: 1 + random.int(random.int(4) === 0 ? 16 : 3) }, () => randomRecord(random, maxBytes)),
      };
    case 3:
      return {
        kind: 'broadcast',
        id: random.bytes(8),
        origin: randomAddress(random),
        rangeStart: randomAddress(random),
        rangeEnd: randomAddress(random),
        hops: random.int(256),
        channel: random.int(65536),
        data: random.bytes(random.int(maxBytes + 1)),
      };
    default:
      return {
        kind: 'routed',
        source: randomAddress(random),
        destination: randomAddress(random),
        mode: random.int(4) as 0,
        excludeSource: random.int(2) === 1,
        ttl: random.int(256),
        hops: random.int(256),
        forwardTo: random.int(3) === 0 ? randomAddress(random) : null,
        body: randomBody(random, maxBytes),
      };
  }
}

const TYPES = [MessageType.STATUS, MessageType.ROUTED, MessageType.DHT_REPLICATE, MessageType.BROADCAST, MessageType.LEAVE];

function randomPacket(random: Random): Uint8Array {
  const bytes = random.bytes(random.int(120));
  if (bytes.length >= 2 && random.int(4) !== 0) {
    bytes[0] = OVERLAY_WIRE_VERSION;
    bytes[1] = TYPES[random.int(TYPES.length)]!;
  }
  return bytes;
}

const INTERESTING = [0, 1, 2, 3, 4, 5, 6, 8, 9, 16, 17, 0x40, 0x7f, 0x80, 0xfe, 0xff];

function mutate(random: Random, seed: Uint8Array): Uint8Array {
  let bytes = seed;
  const rounds = 1 + random.int(random.int(4) === 0 ? 4 : 1);
  for (let round = 0; round < rounds; round++) {
    const at = random.int(bytes.length + 1);
    switch (random.int(7)) {
      case 0: {
        bytes = bytes.slice();
        for (let k = 1 + random.int(4); k > 0; k--) {
          const bit = random.int(bytes.length * 8);
          bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) ^ (1 << (bit & 7));
        }
        break;
      }
      case 1:
        bytes = bytes.subarray(0, random.int(bytes.length + 1));
        break;
      case 2:
        bytes = concat(bytes, random.int(2) === 0 ? new Uint8Array(1 + random.int(4)) : random.bytes(1 + random.int(32)));
        break;
      case 3:
        bytes = concat(bytes.subarray(0, at), random.bytes(1 + random.int(4)), bytes.subarray(at));
        break;
      case 4:
        bytes = concat(bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + random.int(4))));
        break;
      case 5:
        if (bytes.length > 0) {
          bytes = bytes.slice();
          bytes[random.int(bytes.length)] = INTERESTING[random.int(INTERESTING.length)]!;
        }
        break;
      default:
        if (bytes.length > 0) {
          bytes = bytes.slice();
          bytes.set(random.bytes(Math.min(bytes.length - (at % bytes.length), 1 + random.int(8))), at % bytes.length);
        }
    }
  }
  return bytes;
}
