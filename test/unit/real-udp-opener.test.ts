import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { type UdpTransport, openUdpTransport } from '../../src/overlay/real/udp-transport.js';

/**
 * sendOpener over loopback: what can be seen without a router (the TTL itself is checked on the
 * wire in test/netns/lab-opener.test.ts): openers leave from the same port, sends issued around
 * them all arrive in the order they were issued, bad TTLs are refused and counted.
 */
const open: UdpTransport[] = [];
after(() => {
  for (const t of open) t.close();
});

async function receiver(): Promise<{ port: number; got: string[]; from: string[]; close(): void }> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const got: string[] = [];
  const from: string[] = [];
  socket.on('message', (m, rinfo) => {
    got.push(m.toString());
    from.push(`${rinfo.address}:${rinfo.port}`);
  });
  return { port: socket.address().port, got, from, close: () => socket.close() };
}

test('openers and normal sends issued in one tick arrive in order, from the same port', async () => {
  const t = await openUdpTransport({ port: 0, host: '127.0.0.1' });
  open.push(t);
  const r = await receiver();
  try {
    const plan = ['n', 'o', 'n', 'n', 'o', 'o', 'n', 'n'];
    plan.forEach((kind, i) => {
      const bytes = new TextEncoder().encode(`${i}${kind}`);
      if (kind === 'o') t.sendOpener(`127.0.0.1:${r.port}`, bytes, 2);
      else t.send(`127.0.0.1:${r.port}`, bytes);
    });
    for (let i = 0; i < 100 && r.got.length < plan.length; i++) await sleep(10);
    assert.deepEqual(r.got, plan.map((kind, i) => `${i}${kind}`));
    assert.ok(r.from.every((f) => f === t.localEndpoint));
    assert.equal(t.stats.openersOut, 3);
    assert.equal(t.stats.datagramsOut, plan.length);
  } finally {
    r.close();
  }
});

test('the caller may reuse its buffer at once: a send held behind an opener keeps what it was given', async () => {
  const t = await openUdpTransport({ port: 0, host: '127.0.0.1' });
  open.push(t);
  const r = await receiver();
  try {
    const buffer = new TextEncoder().encode('first');
    t.sendOpener(`127.0.0.1:${r.port}`, new TextEncoder().encode('opener'), 2);
    t.send(`127.0.0.1:${r.port}`, buffer);
    buffer.set(new TextEncoder().encode('XXXXX'));
    for (let i = 0; i < 100 && r.got.length < 2; i++) await sleep(10);
    assert.deepEqual(r.got, ['opener', 'first']);
  } finally {
    r.close();
  }
});

test('a TTL outside 1..255 or a bad endpoint is counted and nothing is sent', async () => {
  const t = await openUdpTransport({ port: 0, host: '127.0.0.1' });
  open.push(t);
  const r = await receiver();
  try {
    for (const ttl of [0, -1, 256, 1.5, Number.NaN]) t.sendOpener(`127.0.0.1:${r.port}`, new Uint8Array(1), ttl);
    t.sendOpener('nonsense', new Uint8Array(1), 2);
    t.sendOpener('[::1]:9', new Uint8Array(1), 2);
    t.send(`127.0.0.1:${r.port}`, new TextEncoder().encode('after'));
    for (let i = 0; i < 100 && r.got.length < 1; i++) await sleep(10);
    await sleep(20);
    assert.deepEqual(r.got, ['after']);
    assert.equal(t.stats.badEndpoints, 7);
    assert.equal(t.stats.openersOut, 0);
  } finally {
    r.close();
  }
});

test('closeGracefully waits for sends held behind an opener', async () => {
  const t = await openUdpTransport({ port: 0, host: '127.0.0.1' });
  const r = await receiver();
  try {
    t.sendOpener(`127.0.0.1:${r.port}`, new Uint8Array(10), 2);
    for (let i = 0; i < 50; i++) t.send(`127.0.0.1:${r.port}`, new Uint8Array(10));
    await t.closeGracefully(1_000);
    for (let i = 0; i < 100 && r.got.length < 51; i++) await sleep(10);
    assert.equal(r.got.length, 51);
  } finally {
    r.close();
  }
});

test('local endpoints are read once and again on refresh; refresh says whether they changed', async () => {
  const t = await openUdpTransport({ port: 0 });
  open.push(t);
  const first = t.localEndpoints();
  assert.ok(first.every((e) => e.endsWith(`:${t.port}`)));
  assert.equal(t.refreshLocalEndpoints(), false, 'nothing changed on this host in between');
  assert.deepEqual(t.localEndpoints(), first);
  const bound = await openUdpTransport({ port: 0, host: '127.0.0.1' });
  open.push(bound);
  assert.deepEqual(bound.localEndpoints(), [`127.0.0.1:${bound.port}`]);
});
