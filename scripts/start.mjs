#!/usr/bin/env node
// `npm start`: the desktop app when it is there; otherwise say so plainly and point at what runs.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
function electronBinary() {
  try {
    // The electron package exports the path of its binary, when the binary was installed.
    return require('electron');
  } catch {
    return null;
  }
}
const electron = electronBinary();
if (typeof electron !== 'string') {
  process.stdout.write(
    [
      'RingVPN desktop app: not available in this build.',
      '  The Electron shell is not part of the repository yet, and the Electron binary cannot be',
      '  downloaded on this machine. Everything beneath it runs headless:',
      '',
      '  npm run demo                 a small RingVPN network on this machine (loopback only):',
      '                               nodes start, form the ring, show their status, ping each other',
      '  npm run ringvpn -- --help    the command line: node, status, ping, and more',
      '  npm run group-server -- --help   the group server (certificate authority and web pages)',
      '',
    ].join('\n'),
  );
  process.exit(0);
}
