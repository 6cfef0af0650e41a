import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoReady } from '../../src/overlay/crypto.js';
import {
  MAX_PENDING_HANDSHAKES,
  MAX_RATE_LIMITED_SOURCES,
  MAX_REMEMBERED_PEERS,
} from '../../src/overlay/links/config.js';
import { decodeContent } from '../../src/overlay/links/content-codec.js';
import { PacketType, decodePacket } from '../../src/overlay/links/packet-codec.js';
import { type Random, createSeededRandom } from '../../src/overlay/random.js';
import { linkUp, makeLinkNode, makePair, utf8 } from '../helpers/link-test-net.js';

before(async () => {
  await cryptoReady();
});

const DATAGRAMS = 100_000;
const ERROR_CODES = new Set(['too-short', 'too-long', 'bad-version', 'unknown-type', 'bad-length', 'credential-too-long', 'value-out-of-range']);

/** Real packets of every type, captured from a live exchange: the seeds the mutations start from. */
function captureCorpus(): Uint8Array[] {
  const { clock, net, a, b } = makePair();
  const corpus: Uint8Array[] = [];
  net.fault = (p) => {
    corpus.push(Uint8Array.from(p.bytes));
    return undefined;
  };
  linkUp(clock, a, b);
  const c = makeLinkNode(net, { name: 'c', endpoint: '10.0.0.3:4000' });
  linkUp(clock, c, b);
  for (let i = 0; i < 10; i++) a.layer.send(b.address, utf8(`payload ${i}`.repeat(i + 1)));
  a.layer.close(b.address, 'bye');
  clock.advance(50);
  return corpus;
}

/** A random datagram, or a real one with a few random changes (flips, cuts, extensions, length fields). */
function fuzzDatagram(random: Random, corpus: Uint8Array[]): Uint8Array {
  const kind = random.int(10);
  if (kind === 0) return random.bytes(random.int(1600));
  if (kind === 1) {
    const b = random.bytes(random.int(1300));
    if (b.length >= 2) {
      b[0] = 1;
      b[1] = 1 + random.int(3);
    }
    return b;
  }
  const seed = corpus[random.int(corpus.length)] as Uint8Array;
  let out = Uint8Array.from(seed);
  const changes = 1 + random.int(4);
  for (let i = 0; i < changes; i++) {
    const op = random.int(6);
    if (op <= 2 && out.length > 0) {
      out[random.int(out.length)] = random.int(256);
    } else if (op === 3) {
      out = out.subarray(0, random.int(out.length + 1));
    } else if (op === 4) {
      const longer = new Uint8Array(out.length + 1 + random.int(64));
      longer.set(out);
      longer.set(random.bytes(longer.length - out.length), out.length);
      out = longer;
    } else if (out.length > 96) {
      // Length fields of INIT (credential length at 94) and RESP (at 74).
      out[random.int(2) === 0 ? 94 : 74] = random.int(256);
      out[random.int(2) === 0 ? 95 : 75] = random.int(256);
    }
  }
  return out;
}

test('the packet decoder takes 100,000 random and mutated datagrams without throwing', () => {
  const corpus = captureCorpus();
  assert.ok(corpus.some((p) => p[1] === PacketType.HANDSHAKE_INIT));
  assert.ok(corpus.some((p) => p[1] === PacketType.HANDSHAKE_RESP));
  assert.ok(corpus.some((p) => p[1] === PacketType.DATA));
  const random = createSeededRandom('decoder fuzz');
  let decoded = 0;
  for (let i = 0; i < DATAGRAMS; i++) {
    const bytes = fuzzDatagram(random, corpus);
    const r = decodePacket(bytes);
    if (r.ok) {
      decoded++;
      const p = r.value;
      if (p.type === PacketType.HANDSHAKE_INIT) {
        assert.ok(p.authenticated.length <= bytes.length && p.credential.length <= 1024 && p.ephemeral.length === 32);
      } else if (p.type === PacketType.HANDSHAKE_RESP) {
        assert.ok(p.signed.length + 64 === bytes.length && p.staticKey.length === 32);
      } else {
        assert.ok(Number.isSafeInteger(p.counter) && p.counter >= 0);
      }
    } else {
      assert.ok(ERROR_CODES.has(r.error.code), r.error.code);
    }
    decodeContent(bytes.subarray(14));
  }
  assert.ok(decoded > 1_000 && decoded < DATAGRAMS - 1_000, `decoded ${decoded}: both outcomes exercised`);
});

test("a running link layer's receive path takes 100,000 hostile datagrams and stays within its caps", () => {
  const corpus = captureCorpus();
  const { clock, net, a, b } = makePair();
  linkUp(clock, a, b);
  // Live DATA toward b is part of the corpus too (valid index, so it reaches the AEAD).
  net.fault = (p) => {
    if (p.to === b.endpoint) corpus.push(Uint8Array.from(p.bytes));
    return undefined;
  };
  for (let i = 0; i < 20; i++) a.layer.send(b.address, utf8(`live ${i}`));
  clock.advance(20);
  net.fault = null;

  const random = createSeededRandom('receive fuzz');
  const before = { ...b.layer.stats };
  // Well-formed INITs from 10,000 distinct hosts at once: the rate-limiter table stops at its
  // cap, and the hosts beyond it share one bucket.
  const inits = corpus.filter((p) => p[1] === PacketType.HANDSHAKE_INIT);
  for (let i = 0; i < 10_000; i++) {
    net.inject(b.endpoint, `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}:4000`, inits[i % inits.length] as Uint8Array);
  }
  let maxSources = b.layer.stateSizes().rateLimitedSources;
  assert.equal(maxSources, MAX_RATE_LIMITED_SOURCES);
  assert.ok(b.layer.stats.droppedRateLimited - before.droppedRateLimited >= 10_000 - MAX_RATE_LIMITED_SOURCES - 20);
  clock.advance(2_000);
  assert.equal(b.layer.stateSizes().rateLimitedSources, 0, 'quiet sources are forgotten on the tick');
  for (let i = 0; i < DATAGRAMS; i++) {
    // A third of it from 4 flooding hosts, the rest from anywhere (enough to fill the rate-limiter table).
    const from =
      random.int(3) === 0
        ? `203.0.113.${random.int(4)}:${1 + random.int(65535)}`
        : `${10 + random.int(200)}.${random.int(256)}.${random.int(256)}.${random.int(4)}:${1 + random.int(65535)}`;
    net.inject(b.endpoint, from, fuzzDatagram(random, corpus));
    if (i % 1_000 === 999) {
      clock.advance(25); // 40,000 datagrams per virtual second; ticks run: retries, expiry, keepalives
      maxSources = Math.max(maxSources, b.layer.stateSizes().rateLimitedSources);
      a.layer.send(b.address, utf8(`during ${i}`));
    }
  }
  clock.advance(100);

  assert.deepEqual(b.log.problems, [], 'no exception reached the safety net');
  const sizes = b.layer.stateSizes();
  const s = b.layer.stats;
  assert.ok(maxSources <= MAX_RATE_LIMITED_SOURCES, `rate-limiter sources ${maxSources}`);
  assert.ok(s.droppedRateLimited > 1_000, `rate-limited ${s.droppedRateLimited}`);
  assert.ok(sizes.pendingHandshakes <= MAX_PENDING_HANDSHAKES);
  assert.ok(sizes.rememberedPeers <= MAX_REMEMBERED_PEERS);
  assert.ok(sizes.links <= 2, `links ${sizes.links}: no forged peer got in`);
  assert.ok(sizes.sessions <= 3 * sizes.links);
  assert.equal(sizes.queuedPayloads, 0);
  const dropped =
    s.droppedMalformed + s.droppedAuthFailed + s.droppedReplayed + s.droppedUnknownSession + s.droppedRateLimited + s.handshakesRefused -
    (before.droppedMalformed + before.droppedAuthFailed + before.droppedReplayed + before.droppedUnknownSession + before.droppedRateLimited + before.handshakesRefused);
  assert.ok(dropped > DATAGRAMS * 0.9, `dropped ${dropped}`);
  // Cached RESPs to replayed INITs are bounded per INIT (no reflection), junk gets nothing.
  assert.ok(s.packetsOut - before.packetsOut < 100, `answers sent: ${s.packetsOut - before.packetsOut}`);
  // The real link still works, in both directions.
  const during = b.messagesFrom(a.address).filter((m) => m.startsWith('during'));
  assert.equal(during.length, DATAGRAMS / 1_000);
  b.layer.send(a.address, utf8('after the storm'));
  clock.advance(20);
  assert.deepEqual(a.messagesFrom(b.address), ['after the storm']);
});
