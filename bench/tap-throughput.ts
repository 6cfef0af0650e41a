/**
 * Frames per second read from a real TAP device in batches, with and without the frame classifier.
 * Prints figures; asserts nothing. Needs root (it creates a network namespace and a TAP device,
 * and removes both).
 *
 *     node --import tsx bench/tap-throughput.ts [secondsPerCase] [payloadBytes]
 *
 * Traffic: a UDP blaster (python3) inside the namespace sends to a subnet address as fast as it can;
 * the kernel hands the frames to the TAP device, whose queue (1,000 frames) drops what the reader
 * does not take in time. "sent" counts what the blaster handed to the kernel; "read" what reached
 * JavaScript; the difference was dropped at the device queue.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { availableParallelism, loadavg } from 'node:os';
import { TapLab, tapLabUnavailable } from '../test/netns/tap-lab.js';
import { ArpResponder } from '../src/vpn/arp-responder.js';
import { FrameFilter } from '../src/vpn/frame-filter.js';
import { parseIpv4, parseMac } from '../src/vpn/packets/addresses.js';
import { parseSubnet } from '../src/vpn/subnet.js';

const SECONDS = Number(process.argv[2] ?? 3);
const PAYLOAD = Number(process.argv[3] ?? 1400);
const HOST = '10.254.0.2';
const TARGET = '10.254.0.9';

const BLASTER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
data = b'x' * int(sys.argv[2])
end = time.time() + float(sys.argv[1])
n = 0
while time.time() < end:
    for _ in range(256):
        try:
            s.sendto(data, ('${TARGET}', 9))
            n += 1
        except OSError:
            pass
print(n)
`;

interface CaseResult {
  readonly batch: number;
  readonly classify: boolean;
  readonly sent: number;
  readonly read: number;
  readonly batches: number;
  readonly seconds: number;
  readonly cpuMs: number;
}

async function runCase(lab: TapLab, batch: number, classify: boolean): Promise<CaseResult> {
  const subnet = parseSubnet('10.254.0.0/16');
  if (!subnet.ok) throw new Error(subnet.error.message);
  const localMac = parseMac('02:52:56:00:00:01') as Uint8Array;
  const filter = new FrameFilter({ subnet: subnet.value, localMac, hostAddress: parseIpv4(HOST) });
  const arp = new ArpResponder({ subnet: subnet.value, localMac, hostAddress: parseIpv4(HOST) });
  let read = 0;
  let batches = 0;
  lab.tap.onFrames(
    (frames) => {
      batches++;
      read += frames.length;
      for (const f of frames) {
        if (classify && filter.classify(f).kind === 'arp') {
          const reply = arp.answer(f);
          if (reply.kind === 'reply') lab.tap.write(reply.frame);
        } else if (!classify && f[12] === 0x08 && f[13] === 0x06) {
          const reply = arp.answer(f);
          if (reply.kind === 'reply') lab.tap.write(reply.frame);
        }
      }
    },
    (error) => console.error(error.message),
    { maxBatch: batch, maxFrameBytes: 1518 },
  );
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sent = await new Promise<number>((resolve, reject) => {
    const child = spawn('/usr/sbin/ip', ['netns', 'exec', lab.namespace, 'python3', '-c', BLASTER, String(SECONDS), String(PAYLOAD)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', () => resolve(Number(out.trim())));
  });
  await new Promise((r) => setTimeout(r, 50));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  lab.tap.stopReading();
  return { batch, classify, sent, read, batches, seconds, cpuMs: (cpu.user + cpu.system) / 1000 };
}

async function main(): Promise<void> {
  const why = tapLabUnavailable();
  if (why !== undefined) {
    console.log(`Cannot run the TAP benchmark: ${why}.`);
    return;
  }
  console.log(`TAP read throughput: ${SECONDS} s per case, UDP payload ${PAYLOAD} bytes (frame ${PAYLOAD + 42}), node ${process.version}, ${availableParallelism()} cores, load ${loadavg()[0]?.toFixed(2)}`);
  const lab = TapLab.create({ address: `${HOST}/16` });
  try {
    lab.exec('sysctl', ['-q', '-w', `net.ipv6.conf.${lab.tap.name}.disable_ipv6=1`]);
    console.log('batch  classify     sent/s     read/s  frames/batch  Mbit/s read  JS CPU %');
    for (const classify of [false, true]) {
      for (const batch of [1, 16, 64, 256]) {
        const r = await runCase(lab, batch, classify);
        const perSecond = (n: number): string => Math.round(n / r.seconds).toLocaleString('en-US').padStart(9);
        const mbit = ((r.read * (PAYLOAD + 42) * 8) / r.seconds / 1e6).toFixed(0).padStart(11);
        const cpu = ((100 * r.cpuMs) / (r.seconds * 1000)).toFixed(0).padStart(8);
        console.log(
          `${String(batch).padStart(5)}  ${(classify ? 'yes' : 'no').padEnd(8)} ${perSecond(r.sent)}  ${perSecond(r.read)}  ${(r.read / Math.max(1, r.batches)).toFixed(1).padStart(12)}  ${mbit}  ${cpu}`,
        );
      }
    }
    console.log(`addon counters: ${JSON.stringify(lab.tap.stats())}`);
  } finally {
    lab.dispose();
  }
}

await main();
