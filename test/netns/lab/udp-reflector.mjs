#!/usr/bin/env node
/* global process, setTimeout */
// A tiny STUN-like tool for the lab (plain JavaScript, no dependencies):
//   node udp-reflector.mjs serve PORT
//       answers every datagram with the sender's "ip:port" as the reflector saw it
//   node udp-reflector.mjs ask LOCAL_PORT TARGET_IP:PORT [TARGET_IP:PORT ...]
//       sends one datagram to each target from LOCAL_PORT and prints one line per answer:
//       "TARGET OBSERVED" (what that target saw as our public endpoint); exits after 2 s at most
import { createSocket } from 'node:dgram';

const [mode, portText, ...targets] = process.argv.slice(2);
const port = Number(portText);
const socket = createSocket('udp4');
if (mode === 'serve') {
  socket.on('message', (_msg, rinfo) => socket.send(`${rinfo.address}:${rinfo.port}`, rinfo.port, rinfo.address));
  socket.bind(port);
} else if (mode === 'ask') {
  let answers = 0;
  socket.on('message', (msg, rinfo) => {
    process.stdout.write(`${rinfo.address}:${rinfo.port} ${msg.toString()}\n`);
    if (++answers === targets.length) socket.close();
  });
  socket.bind(port, () => {
    for (const t of targets) {
      const colon = t.lastIndexOf(':');
      socket.send('?', Number(t.slice(colon + 1)), t.slice(0, colon));
    }
  });
  setTimeout(() => socket.close(), 2000).unref();
} else {
  process.stderr.write('usage: udp-reflector.mjs serve PORT | ask LOCAL_PORT TARGET...\n');
  process.exit(2);
}
