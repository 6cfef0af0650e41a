/**
 * The native data path's pieces that need no TAP device or root: its AEAD on DATA packets
 * (native-helpers/tap/src/fastpath.c, OpenSSL) interoperates byte for byte with Session's
 * (libsodium) and refuses tampering; a Session shared with it (offload.ts) keeps one counter
 * sequence and one replay window, reports key changes and lets go when replaced; the shared
 * replay window behaves exactly like the private one. The whole path (TAP, sockets) is exercised
 * by the netns VPN tests and measured by bench:peers.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { resolveConfig } from '../../src/overlay/links/config.js';
import { ContentType } from '../../src/overlay/links/content-codec.js';
import type { Link } from '../../src/overlay/links/link-table.js';
import { LinkTable } from '../../src/overlay/links/link-table.js';
import { OFFLOAD_MEMORY_BYTES, OffloadCell, REPLAY_BITMAP_OFFSET } from '../../src/overlay/links/offload.js';
import { readDataCounter } from '../../src/overlay/links/packet-codec.js';
import { ReplayWindow } from '../../src/overlay/links/replay-window.js';
import { OpenFailure, Session } from '../../src/overlay/links/session.js';
import { type TapAddon, loadTapAddon } from '../../src/vpn/tap-addon.js';
import { linkUp, makePair, utf8 } from '../helpers/link-test-net.js';

let addon: TapAddon | null = null;
before(async () => {
  await cryptoReady();
  try {
    addon = loadTapAddon();
  } catch {
    addon = null;
  }
});

const config = resolveConfig({ networkId: new Uint8Array(16) });
const fakeLink = {} as Link;

function key(fill: number): Uint8Array {
  return Uint8Array.from({ length: 32 }, (_, i) => (fill * 31 + i * 7) & 0xff);
}

function pair(policy = config): { a: Session; b: Session } {
  const k1 = key(1);
  const k2 = key(2);
  const a = new Session(11, 22, { send: Uint8Array.from(k1), receive: Uint8Array.from(k2) }, 0, true, fakeLink, policy);
  const b = new Session(22, 11, { send: Uint8Array.from(k2), receive: Uint8Array.from(k1) }, 0, false, fakeLink, policy);
  return { a, b };
}

function native(t: { skip: (m: string) => void }): Required<Pick<TapAddon, 'sealData' | 'openData'>> | null {
  if (addon?.sealData === undefined || addon.openData === undefined) {
    t.skip('the TAP addon (with the native data path) is not built');
    return null;
  }
  return { sealData: addon.sealData, openData: addon.openData };
}

function ipPacket(length: number, seed: number): Uint8Array {
  const p = Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff);
  p[0] = 0x45;
  return p;
}

test('native sealing is byte for byte the Session sealing (libsodium), for sizes, counters and epochs', (t) => {
  const n = native(t);
  if (n === null) return;
  const { a } = pair();
  const k1 = key(1);
  for (const size of [0, 1, 15, 16, 17, 63, 64, 65, 1357, 1400, 9000]) {
    const body = Uint8Array.from([0x01, 0x18, ...ipPacket(size, size)]);
    const counter = a.sendCounter;
    const js = a.seal(ContentType.PAYLOAD, body, 0);
    const c = n.sealData(k1, 22, 0, counter, Uint8Array.from([ContentType.PAYLOAD, ...body]));
    assert.deepEqual(Buffer.from(c), Buffer.from(js), `size ${size}`);
  }
  // Large counters and a non-zero epoch.
  for (const counter of [2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER - 1]) {
    const noUpdates = { encryptPayloads: true, keyUpdateAfterMs: Infinity, keyUpdateAfterMessages: Infinity };
    const s = new Session(1, 0xfedcba98, { send: key(9), receive: key(8) }, 0, true, fakeLink, noUpdates);
    s.sendCounter = counter;
    const js = s.seal(ContentType.PAYLOAD, Uint8Array.of(1, 2, 3), 0);
    assert.equal(readDataCounter(js), counter);
    const c = n.sealData(key(9), 0xfedcba98, 0, counter, Uint8Array.of(ContentType.PAYLOAD, 1, 2, 3));
    assert.deepEqual(Buffer.from(c), Buffer.from(js), `counter ${counter}`);
  }
  const s = new Session(1, 2, { send: key(3), receive: key(4) }, 0, true, fakeLink, config);
  s.updateSendKey(0);
  s.updateSendKey(0);
  const js = s.seal(ContentType.PAYLOAD, Uint8Array.of(7), 0);
  assert.equal(js[6], 2, 'epoch 2 in the header');
});

test('native opening accepts Session packets, Session accepts native packets, both refuse tampering', (t) => {
  const n = native(t);
  if (n === null) return;
  const { a, b } = pair();
  const k1 = key(1);
  for (let i = 0; i < 50; i++) {
    const body = ipPacket(i * 29, i);
    const js = a.seal(ContentType.PAYLOAD, body, 0);
    const opened = n.openData(k1, js);
    assert.ok(opened !== null);
    assert.deepEqual(Buffer.from(opened), Buffer.from([ContentType.PAYLOAD, ...body]));
  }
  // Native-sealed packets open in the receiving Session (counters continue after a's 50).
  for (let i = 0; i < 50; i++) {
    const counter = 50 + i;
    const body = ipPacket(i * 31, i + 1);
    const c = n.sealData(k1, 22, 0, counter, Uint8Array.from([ContentType.PAYLOAD, ...body]));
    const plain = b.open(c, counter, 0);
    assert.ok(plain instanceof Uint8Array, `counter ${counter}`);
    assert.deepEqual(Buffer.from(plain), Buffer.from([ContentType.PAYLOAD, ...body]));
  }
  // Tampering anywhere (header = AAD, ciphertext, tag) fails both ways; so does a wrong key.
  const packet = n.sealData(k1, 22, 0, 1000, Uint8Array.from([ContentType.PAYLOAD, ...ipPacket(100, 3)]));
  for (let at = 0; at < packet.length; at++) {
    for (const bit of [0x01, 0x80]) {
      const bad = Uint8Array.from(packet);
      bad[at] = (bad[at] as number) ^ bit;
      assert.equal(n.openData(k1, bad), null, `byte ${at}`);
      const counter = readDataCounter(bad);
      if (counter >= 0 && at >= 14) assert.equal(b.open(bad, counter, 0), OpenFailure.AUTH_FAILED, `byte ${at}`);
    }
  }
  assert.equal(n.openData(key(5), packet), null);
  assert.equal(n.openData(k1, packet.subarray(0, 29)), null);
  assert.equal(n.openData(k1, new Uint8Array(0)), null);
});

test('fuzz: native opening of random and mutated packets never crashes and accepts nothing forged', (t) => {
  const n = native(t);
  if (n === null) return;
  const k = key(6);
  const good = n.sealData(k, 1, 0, 5, Uint8Array.from([ContentType.PAYLOAD, ...ipPacket(300, 1)]));
  let seed = 12345;
  const rnd = (m: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % m;
  };
  for (let i = 0; i < 20_000; i++) {
    let p: Uint8Array;
    if (i % 2 === 0) p = Uint8Array.from({ length: rnd(2000) }, () => rnd(256));
    else {
      p = Uint8Array.from(good.subarray(0, Math.max(0, good.length - rnd(40))));
      for (let j = 0, m = 1 + rnd(4); j < m && p.length > 0; j++) p[rnd(p.length)] = rnd(256);
      if (Buffer.from(p).equals(Buffer.from(good))) continue;
    }
    assert.equal(n.openData(k, p), null);
  }
});

test('a shared replay window behaves exactly like a private one, and survives share/unshare', () => {
  const shared = new ReplayWindow();
  const plain = new ReplayWindow();
  const memory = new Uint8Array(OFFLOAD_MEMORY_BYTES);
  const cells = new Float64Array(memory.buffer, 0, REPLAY_BITMAP_OFFSET / 8);
  let seed = 99;
  const rnd = (m: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % m;
  };
  let top = 0;
  for (let i = 0; i < 50_000; i++) {
    if (i === 1000) shared.share(new Uint32Array(memory.buffer, REPLAY_BITMAP_OFFSET, 65), cells, OffloadCell.REPLAY_HIGHEST);
    if (i === 30_000) shared.unshare();
    if (i === 40_000) shared.share(new Uint32Array(memory.buffer, REPLAY_BITMAP_OFFSET, 65), cells, OffloadCell.REPLAY_HIGHEST);
    const r = rnd(10);
    const counter = r < 6 ? top + rnd(3) : r < 9 ? Math.max(0, top - rnd(2500)) : top + rnd(5000);
    top = Math.max(top, counter);
    assert.equal(shared.check(counter), plain.check(counter), `check ${counter} at ${i}`);
    assert.equal(shared.commit(counter), plain.commit(counter), `commit ${counter} at ${i}`);
    assert.equal(shared.highestSeen, plain.highestSeen);
  }
  assert.equal(cells[OffloadCell.REPLAY_HIGHEST], plain.highestSeen, 'the shared cell holds the highest counter');
});

test('an offloaded session shares its counter and replay window, reports key changes, lets go when replaced', () => {
  const { a, b } = pair();
  for (let i = 0; i < 3; i++) b.open(a.seal(ContentType.PAYLOAD, Uint8Array.of(i), 0), i, 0);
  const events: string[] = [];
  const hook = { changed: () => events.push('changed'), released: () => events.push('released') };
  const memA = new Uint8Array(OFFLOAD_MEMORY_BYTES);
  const cellsA = new Float64Array(memA.buffer, 0, 8);
  const stateA = a.offload(memA, hook, '10.0.0.2:4100', config);
  assert.equal(cellsA[OffloadCell.SEND_COUNTER], 3, 'the counter moved into the shared memory');
  assert.equal(stateA.remoteIndex, 22);
  assert.equal(stateA.localIndex, 11);
  assert.deepEqual(stateA.sendKey, key(1));
  assert.equal(cellsA[OffloadCell.SEND_LIMIT], Math.min(config.keyUpdateAfterMessages, config.rejectAfterMessages, config.handshakeRekeyAfterMessages));
  assert.equal(cellsA[OffloadCell.SEND_DEADLINE], Math.min(config.keyUpdateAfterMs, config.rejectAfterMs));

  // The native path sent counters 3..9: the JS path goes on at 10.
  cellsA[OffloadCell.SEND_COUNTER] = 10;
  assert.equal(a.sendCounter, 10);
  const p10 = a.seal(ContentType.PAYLOAD, Uint8Array.of(10), 0);
  assert.equal(readDataCounter(p10), 10);
  assert.equal(cellsA[OffloadCell.SEND_COUNTER], 11);

  // b offloaded: a counter the native path committed is a replay for the JS path, and the other way round.
  const memB = new Uint8Array(OFFLOAD_MEMORY_BYTES);
  const cellsB = new Float64Array(memB.buffer, 0, 8);
  b.offload(memB, hook, '10.0.0.1:4100', config);
  assert.equal(cellsB[OffloadCell.REPLAY_HIGHEST], 2);
  const windowWords = new Uint32Array(memB.buffer, REPLAY_BITMAP_OFFSET, 65);
  windowWords[0] = (windowWords[0] as number) | (1 << 10); // as fastpath.c commits counter 10
  cellsB[OffloadCell.REPLAY_HIGHEST] = 10;
  assert.equal(b.open(p10, 10, 0), OpenFailure.REPLAYED);
  const p11 = a.seal(ContentType.PAYLOAD, Uint8Array.of(11), 0);
  assert.ok(b.open(p11, 11, 0) instanceof Uint8Array);
  assert.equal(cellsB[OffloadCell.REPLAY_HIGHEST], 11, 'the JS path commits into the shared window');
  assert.equal(b.open(p11, 11, 0), OpenFailure.REPLAYED);

  // A key update either way tells the hook; the new limit starts at the epoch's first counter.
  events.length = 0;
  a.updateSendKey(5);
  assert.deepEqual(events, ['changed']);
  const again = a.offload(memA, hook, '10.0.0.2:4100', config);
  assert.equal(again.sendEpoch, 1);
  assert.equal(cellsA[OffloadCell.SEND_LIMIT], Math.min(12 + config.keyUpdateAfterMessages, config.rejectAfterMessages, config.handshakeRekeyAfterMessages));
  assert.equal(cellsA[OffloadCell.SEND_DEADLINE], Math.min(5 + config.keyUpdateAfterMs, config.rejectAfterMs));
  const p12 = a.seal(ContentType.PAYLOAD, Uint8Array.of(12), 6);
  events.length = 0;
  assert.ok(b.open(p12, 12, 6) instanceof Uint8Array);
  assert.deepEqual(events, ['changed'], 'the receiver adopted the next epoch');

  // Replaced by a re-handshake: released, the counter and window come back to the session.
  const table = new LinkTable();
  const link = table.create({ peer: 1n, publicKey: new Uint8Array(32), credential: new Uint8Array(0), endpoint: 'x:1', initiator: true, now: 0 }, () => b);
  const next = new Session(33, 44, { send: key(7), receive: key(8) }, 0, true, link, config);
  events.length = 0;
  table.replaceCurrent(link, next, 0);
  assert.deepEqual(events, ['released']);
  assert.equal(b.offloaded, false);
  cellsB[OffloadCell.REPLAY_HIGHEST] = 1e6; // the memory is no longer the session's
  assert.equal(b.replay.highestSeen, 12);
  const p13 = a.seal(ContentType.PAYLOAD, Uint8Array.of(13), 6);
  assert.ok(b.open(p13, 13, 6) instanceof Uint8Array);

  // Wiped: released too.
  events.length = 0;
  a.wipe();
  assert.deepEqual(events, ['released']);
  assert.equal(a.sendCounter, 14);
});

/** Ones' complement sum check: a header or segment whose checksum is right sums to 0xffff. */
function sum16(bytes: Uint8Array, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += ((bytes[i] as number) << 8) | (bytes[i + 1] as number);
  if (bytes.length % 2 === 1) sum += (bytes[bytes.length - 1] as number) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

function tcpChecksumOk(frame: Uint8Array): boolean {
  const ip = frame.subarray(14);
  const ihl = ((ip[0] as number) & 0x0f) * 4;
  const total = ((ip[2] as number) << 8) | (ip[3] as number);
  const l4 = ip.subarray(ihl, total);
  const pseudo = sum16(ip.subarray(12, 20)) + (ip[9] as number) + l4.length;
  return sum16(l4, pseudo) === 0xffff;
}

/** A TAP read with TCP segmentation offload: virtio_net_hdr, Ethernet, IPv4, TCP (checksum partial), payload. */
function tsoRead(payload: Uint8Array, mss: number, tcpFlags: number): Uint8Array {
  const hdr = new Uint8Array(10);
  const view = new DataView(hdr.buffer);
  hdr[0] = 1; // NEEDS_CSUM
  hdr[1] = 1; // GSO_TCPV4
  view.setUint16(2, 14 + 20 + 20, true);
  view.setUint16(4, mss, true);
  view.setUint16(6, 34, true);
  view.setUint16(8, 16, true);
  const frame = new Uint8Array(14 + 20 + 20 + payload.length);
  frame.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
  const ip = frame.subarray(14);
  ip.set([0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 232, 3, 1, 10, 232, 3, 2]);
  const tcp = ip.subarray(20);
  tcp.set([0x13, 0x88, 0x14, 0x51, 0xff, 0xff, 0xff, 0x00, 0, 0, 0, 1, 0x50, tcpFlags, 0x20, 0x00, 0, 0, 0, 0]);
  frame.set(payload, 54);
  return Uint8Array.from([...hdr, ...frame]);
}

test('a TSO read becomes the segments the host would have sent, with valid IPv4 and TCP checksums', (t) => {
  const split = addon?.splitRead;
  if (split === undefined) return t.skip('the TAP addon is not built');
  const payload = Uint8Array.from({ length: 2500 }, (_, i) => (i * 7 + 1) & 0xff);
  const frames = split(tsoRead(payload, 1000, 0x19)); // ACK | PSH | FIN
  assert.deepEqual(frames.map((f) => f.length), [1054, 1054, 554]);
  let seq = 0xffffff00;
  frames.forEach((f, i) => {
    const ip = f.subarray(14);
    assert.equal(sum16(ip.subarray(0, 20)), 0xffff, `IPv4 checksum of segment ${i}`);
    assert.equal(ip.readUInt16BE(2), f.length - 14);
    assert.equal(ip.readUInt16BE(4), 0x1234 + i, 'IP id counts up');
    assert.ok(tcpChecksumOk(f), `TCP checksum of segment ${i}`);
    assert.equal(ip.readUInt32BE(24), seq >>> 0, 'sequence numbers follow (and wrap)');
    seq += f.length - 54;
    assert.equal(ip[33], i === 2 ? 0x19 : 0x10, 'PSH and FIN only on the last segment');
  });
  assert.deepEqual(Buffer.concat(frames.map((f) => f.subarray(54))), Buffer.from(payload));
});

test('a read with a partial checksum only (no segmentation) gets its checksum completed; plain reads pass as they are', (t) => {
  const split = addon?.splitRead;
  if (split === undefined) return t.skip('the TAP addon is not built');
  const read = tsoRead(Uint8Array.from({ length: 301 }, (_, i) => i & 0xff), 1000, 0x18);
  read[1] = 0; // GSO_NONE, NEEDS_CSUM stays
  const ip = read.subarray(24);
  ip[2] = (20 + 20 + 301) >> 8;
  ip[3] = (20 + 20 + 301) & 0xff;
  // The partial checksum the kernel leaves: the pseudo-header sum.
  const pseudo = sum16(ip.subarray(12, 20)) + 6 + 20 + 301;
  const folded = (pseudo & 0xffff) + (pseudo >>> 16);
  ip[36] = folded >> 8;
  ip[37] = folded & 0xff;
  const [frame] = split(read);
  assert.ok(frame !== undefined && tcpChecksumOk(frame));
  const plain = Uint8Array.from([...new Uint8Array(10), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x86, 0xdd]);
  assert.deepEqual([...(split(plain)[0] ?? [])], [...plain.subarray(10)]);
});

test('fuzz: random and mutated TAP reads never crash the splitter and never yield more than they hold', (t) => {
  const split = addon?.splitRead;
  if (split === undefined) return t.skip('the TAP addon is not built');
  let seed = 4242;
  const rnd = (m: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % m;
  };
  const base = tsoRead(Uint8Array.from({ length: 5000 }, (_, i) => i & 0xff), 1200, 0x10);
  for (let i = 0; i < 20_000; i++) {
    const r = i % 3 === 0 ? Uint8Array.from({ length: rnd(3000) }, () => rnd(256)) : Uint8Array.from(base.subarray(0, base.length - rnd(100)));
    if (i % 3 !== 0) for (let j = 0, m = 1 + rnd(5); j < m; j++) r[rnd(Math.min(r.length, 80))] = rnd(256);
    const frames = split(r);
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    assert.ok(frames.length <= 200 && bytes <= r.length + frames.length * 140, `read ${i}`);
  }
});

test('the link layer offloads only confirmed direct sessions, refreshes liveness, and tells of path changes and rekeys', () => {
  const { clock, net, a, b } = makePair();
  const events: string[] = [];
  const hook = { changed: () => events.push('changed'), released: () => events.push('released') };
  const memory = new Uint8Array(OFFLOAD_MEMORY_BYTES);
  const cells = new Float64Array(memory.buffer, 0, 8);
  assert.equal(a.layer.offload?.(b.address, memory, hook), null, 'no link yet');
  linkUp(clock, a, b);
  const state = a.layer.offload?.(b.address, memory, hook);
  assert.ok(state);
  assert.equal(state.endpoint, b.endpoint);
  // Packets the native path took count as traffic for the link's liveness.
  const later = clock.now() + 25_000;
  clock.advance(25_000);
  cells[OffloadCell.LAST_RECEIVED_AT] = later;
  a.layer.offload?.(b.address, memory, hook);
  assert.equal(a.layer.get(b.address)?.lastReceivedAt, later);
  // A payload sent by the JS path uses the shared counter and still arrives.
  cells[OffloadCell.SEND_COUNTER] = (cells[OffloadCell.SEND_COUNTER] as number) + 100;
  assert.ok(a.layer.send(b.address, utf8('after native packets')));
  clock.advance(50);
  assert.deepEqual(b.messagesFrom(a.address).slice(-1), ['after native packets']);
  // A relay takes over: told at once, and a relayed path is not offloaded.
  events.length = 0;
  a.layer.redirect(b.address, `relay:${'1'.repeat(40)}:${'2'.repeat(40)}`);
  assert.deepEqual(events, ['changed']);
  assert.equal(a.layer.offload?.(b.address, memory, hook), null);
  a.layer.redirect(b.address, b.endpoint);
  // The link goes down: released.
  events.length = 0;
  a.layer.close(b.address, 'test');
  assert.deepEqual(events, ['released']);
  void net;
});
