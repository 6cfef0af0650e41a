import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createCryptoRandom } from '../../src/overlay/real/crypto-random.js';
import { createStderrLogger } from '../../src/overlay/real/stderr-logger.js';
import { createSystemClock } from '../../src/overlay/real/system-clock.js';
import { type UdpTransport, openUdpTransport } from '../../src/overlay/real/udp-transport.js';

const open: UdpTransport[] = [];
after(() => {
  for (const t of open) t.close();
});

async function loopbackTransport(port = 0): Promise<UdpTransport> {
  const t = await openUdpTransport({ port, host: '127.0.0.1' });
  open.push(t);
  return t;
}

/** Resolves with the next datagram `t` receives (or rejects after 2 s). */
function nextPacket(t: UdpTransport): Promise<{ from: string; bytes: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no datagram within 2 s')), 2000);
    t.onPacket((from, bytes) => {
      clearTimeout(timer);
      resolve({ from, bytes: Uint8Array.from(bytes) });
    });
  });
}

test('two transports exchange datagrams over loopback, with ip:port endpoints both ways', async () => {
  const a = await loopbackTransport();
  const b = await loopbackTransport();
  assert.match(a.localEndpoint, /^127\.0\.0\.1:\d+$/);
  assert.equal(a.localEndpoint, `127.0.0.1:${a.port}`);
  const got = nextPacket(b);
  a.send(b.localEndpoint, new Uint8Array([1, 2, 3]));
  const p = await got;
  assert.equal(p.from, a.localEndpoint);
  assert.deepEqual([...p.bytes], [1, 2, 3]);
  const back = nextPacket(a);
  b.send(p.from, new Uint8Array(1400).fill(7));
  assert.equal((await back).bytes.length, 1400);
  assert.equal(a.stats.datagramsOut, 1);
  assert.equal(b.stats.datagramsIn, 1);
  assert.ok(a.receiveBufferBytes() > 0);
});

test('sends to malformed or unreachable endpoints are counted, never thrown', async () => {
  const a = await loopbackTransport();
  for (const bad of ['', 'nonsense', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '300.1.1.1:5', 'example.org:53', '[::1]:9']) {
    assert.doesNotThrow(() => a.send(bad, new Uint8Array(4)));
  }
  assert.equal(a.stats.badEndpoints, 8, 'the IPv6 one too: a socket bound to 127.0.0.1 has no IPv6 side');
  // The kernel refuses a broadcast address on a socket without SO_BROADCAST: a send error, counted.
  a.send('255.255.255.255:9', new Uint8Array(4));
  // Larger than any UDP datagram: the kernel refuses it.
  a.send(`127.0.0.1:${a.port}`, new Uint8Array(70_000));
  for (let i = 0; i < 50 && a.stats.sendErrors < 2; i++) await sleep(10);
  assert.equal(a.stats.sendErrors, 2);
});

test('a busy port is refused with a plain-words error', async () => {
  const a = await loopbackTransport();
  await assert.rejects(openUdpTransport({ port: a.port, host: '127.0.0.1' }), /already in use.*--port/);
  await assert.rejects(openUdpTransport({ port: 70000 }), /0 to 65535/);
});

test('a handler that throws is counted and the transport keeps receiving', async () => {
  const a = await loopbackTransport();
  const sender = createSocket('udp4');
  try {
    let calls = 0;
    a.onPacket(() => {
      calls++;
      throw new Error('handler bug');
    });
    sender.send(new Uint8Array(3), a.port, '127.0.0.1');
    sender.send(new Uint8Array(3), a.port, '127.0.0.1');
    for (let i = 0; i < 100 && calls < 2; i++) await sleep(10);
    assert.equal(calls, 2);
    assert.equal(a.stats.handlerErrors, 2);
  } finally {
    sender.close();
  }
});

test('closeGracefully lets the datagrams already sent leave, then frees the port', async () => {
  const a = await loopbackTransport();
  const receiver = createSocket('udp4');
  receiver.bind(0, '127.0.0.1');
  await once(receiver, 'listening');
  try {
    let received = 0;
    receiver.on('message', () => received++);
    for (let i = 0; i < 100; i++) a.send(`127.0.0.1:${receiver.address().port}`, new Uint8Array(100));
    await a.closeGracefully();
    for (let i = 0; i < 100 && received < 100; i++) await sleep(10);
    assert.equal(received, 100);
    a.send(`127.0.0.1:${receiver.address().port}`, new Uint8Array(1));
    const again = await openUdpTransport({ port: a.port, host: '127.0.0.1' });
    again.close();
  } finally {
    receiver.close();
  }
});

test('system clock timers fire and cancel; crypto random stays in range', async () => {
  const clock = createSystemClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push('once'), 5);
  const cancelled = clock.setTimeout(() => fired.push('cancelled'), 5);
  cancelled.cancel();
  const every = clock.setInterval(() => fired.push('tick'), 5);
  await sleep(40);
  every.cancel();
  assert.ok(fired.includes('once'));
  assert.ok(!fired.includes('cancelled'));
  assert.ok(fired.filter((f) => f === 'tick').length >= 2);
  assert.ok(Math.abs(clock.now() - Date.now()) < 50);

  const random = createCryptoRandom();
  for (let i = 0; i < 1000; i++) {
    const f = random.float();
    assert.ok(f >= 0 && f < 1);
    const n = random.int(7);
    assert.ok(Number.isInteger(n) && n >= 0 && n < 7);
  }
  assert.ok(random.int(2 ** 52) < 2 ** 52);
  assert.equal(random.bytes(32).length, 32);
  assert.notDeepEqual(random.bytes(16), random.bytes(16));
});

test('a transport on every interface adds an IPv6 socket on the same port when the host has IPv6', async (t) => {
  const a = await openUdpTransport({ port: 0 });
  open.push(a);
  if (!a.hasIpv6) {
    t.skip('this host has no IPv6');
    return;
  }
  const b = await loopbackTransport();
  const got = nextPacket(a);
  const raw = createSocket('udp6');
  try {
    raw.send(new Uint8Array([6]), a.port, '::1');
    const p = await got;
    assert.match(p.from, /^\[::1\]:\d+$/);
    // And the v4 side on the same port.
    const got4 = nextPacket(a);
    b.send(`127.0.0.1:${a.port}`, new Uint8Array([4]));
    assert.equal((await got4).bytes[0], 4);
  } finally {
    raw.close();
  }
});

test('the stderr logger writes one line per message at or above its level, fields as key=value', () => {
  const lines: string[] = [];
  const log = createStderrLogger('info', 'ringvpn', (l) => lines.push(l)).child('udp');
  log.debug('hidden');
  log.info('link up', { peer: 'abcd1234', endpoint: '10.0.0.1:4000', reason: 'two words', none: undefined });
  log.error('boom');
  assert.equal(lines.length, 2);
  assert.match(lines[0] as string, /^\S+Z INFO {2}\[ringvpn\.udp\] link up peer=abcd1234 endpoint=10\.0\.0\.1:4000 reason="two words"\n$/);
  assert.match(lines[1] as string, /ERROR \[ringvpn\.udp\] boom\n$/);
});
