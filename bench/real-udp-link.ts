/**
 * The link layer over real UDP on loopback: handshake time (connect to `up`, i.e. to the first
 * authenticated packet) and one-way payload throughput through the encrypted session, with the
 * shipped real components (system clock, CSPRNG, UDP transport). Prints figures; asserts nothing.
 *
 *     node --import tsx bench/real-udp-link.ts [seconds] [payloadBytes] [handshakes]
 *
 * Throughput is bounded by one JavaScript thread doing AEAD + dgram per packet on each side; the
 * receiver's count is what matters (the sender's excess is lost in socket buffers).
 */
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { openAdmission } from '../src/overlay/admission.js';
import { cryptoReady } from '../src/overlay/crypto.js';
import { generateIdentity } from '../src/overlay/identity.js';
import { createLinkLayer } from '../src/overlay/links/link-layer.js';
import type { InspectableLinkLayer } from '../src/overlay/links/link-layer.js';
import { silentLogger } from '../src/overlay/log.js';
import { createCryptoRandom } from '../src/overlay/real/crypto-random.js';
import { createSystemClock } from '../src/overlay/real/system-clock.js';
import { type UdpTransport, openUdpTransport } from '../src/overlay/real/udp-transport.js';

const SECONDS = Number(process.argv[2] ?? 3);
const PAYLOAD = Number(process.argv[3] ?? 1400);
const HANDSHAKES = Number(process.argv[4] ?? 50);
const NETWORK_ID = new Uint8Array(16).fill(7);

interface Side {
  transport: UdpTransport;
  layer: InspectableLinkLayer;
  address: bigint;
}

async function side(): Promise<Side> {
  const random = createCryptoRandom();
  const identity = generateIdentity(random);
  const transport = await openUdpTransport({ port: 0, host: '127.0.0.1' });
  const layer = createLinkLayer({ networkId: NETWORK_ID })({
    clock: createSystemClock(),
    random,
    transport,
    identity,
    admission: openAdmission,
    log: silentLogger,
  });
  return { transport, layer, address: identity.address };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

async function handshakes(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < HANDSHAKES; i++) {
    const a = await side();
    const b = await side();
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      a.layer.onEvent((e) => {
        if (e.kind === 'up') resolve();
      });
      a.layer.connect(b.transport.localEndpoint, b.address);
    });
    times.push(performance.now() - t0);
    for (const s of [a, b]) {
      s.layer.stop();
      s.transport.close();
    }
  }
  return times.sort((x, y) => x - y);
}

async function throughput(): Promise<{ sent: number; received: number; seconds: number }> {
  const a = await side();
  const b = await side();
  let received = 0;
  b.layer.onEvent((e) => {
    if (e.kind === 'message') received++;
  });
  await new Promise<void>((resolve) => {
    a.layer.onEvent((e) => {
      if (e.kind === 'up') resolve();
    });
    a.layer.connect(b.transport.localEndpoint, b.address);
  });
  const payload = new Uint8Array(PAYLOAD).fill(0x42);
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  // Send in bursts and yield so the receiver (same thread) gets its turn, as two processes would.
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) {
      a.layer.send(b.address, payload.slice());
      sent++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 200));
  const seconds = (performance.now() - t0) / 1000;
  for (const s of [a, b]) {
    s.layer.stop();
    s.transport.close();
  }
  return { sent, received, seconds };
}

await cryptoReady();
const hs = await handshakes();
process.stdout.write(
  `handshake (connect -> first authenticated packet), loopback, ${hs.length} runs: ` +
    `median ${percentile(hs, 0.5).toFixed(2)} ms, p99 ${percentile(hs, 0.99).toFixed(2)} ms\n`,
);
const t = await throughput();
const mbit = (t.received * PAYLOAD * 8) / t.seconds / 1e6;
process.stdout.write(
  `encrypted payloads of ${PAYLOAD} B, one process both ends, ${t.seconds.toFixed(1)} s: ` +
    `${Math.round(t.received / t.seconds)} received/s (${mbit.toFixed(0)} Mbit/s), ${Math.round(t.sent / t.seconds)} sent/s; ` +
    `load average ${loadavg()[0]?.toFixed(2)}\n`,
);
