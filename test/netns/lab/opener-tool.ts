// Sends datagrams through the real UdpTransport from inside a lab namespace, to check on the
// wire what sendOpener does:   node --import tsx opener-tool.ts LOCAL_PORT TARGET_IP:PORT PLAN
// PLAN is a comma-separated list of steps, all issued in the same tick: "o2" = an opener with
// TTL 2, "n" = a normal send. Prints the transport's counters as JSON once every send completed.
import { openUdpTransport } from '../../../src/overlay/real/udp-transport.js';

const [portText, target, plan] = process.argv.slice(2);
if (portText === undefined || target === undefined || plan === undefined) {
  process.stderr.write('usage: opener-tool.ts LOCAL_PORT TARGET_IP:PORT o2,n,...\n');
  process.exit(2);
}
const transport = await openUdpTransport({ port: Number(portText), ipv6: false });
let step = 0;
for (const s of plan.split(',')) {
  const bytes = new TextEncoder().encode(`step ${step++} ${s}`);
  if (s === 'n') transport.send(target, bytes);
  else if (/^o\d+$/.test(s)) transport.sendOpener(target, bytes, Number(s.slice(1)));
  else throw new Error(`unknown step ${s}`);
}
await transport.closeGracefully(2_000);
process.stdout.write(`${JSON.stringify(transport.stats)}\n`);
