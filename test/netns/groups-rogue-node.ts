/**
 * An overlay node that presents whatever credential it is given and admits anyone itself: the lab
 * runs it inside a namespace to show that the group's members refuse certificates of another group,
 * expired or forged ones (and, as a control, that a valid certificate does get in). It runs for a
 * fixed time and prints one JSON line: how many peers it ever held a session with, and whether it
 * joined the ring. Usage:
 *   groups-rogue-node.ts SEED_HEX_FILE CREDENTIAL_FILE NETWORK_ID_HEX BOOTSTRAP PORT SECONDS
 */
import { readFileSync } from 'node:fs';
import { addressToHex } from '../../src/overlay/address.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { identityFromSeed } from '../../src/overlay/identity.js';
import { createNode } from '../../src/overlay/node/overlay-node.js';
import { createCryptoRandom } from '../../src/overlay/real/crypto-random.js';
import { createStderrLogger } from '../../src/overlay/real/stderr-logger.js';
import { createSystemClock } from '../../src/overlay/real/system-clock.js';
import { openUdpTransport } from '../../src/overlay/real/udp-transport.js';

const [seedFile, credentialFile, networkHex, bootstrap, port, seconds] = process.argv.slice(2);
if (seconds === undefined) throw new Error('usage: SEED_HEX_FILE CREDENTIAL_FILE NETWORK_ID_HEX BOOTSTRAP PORT SECONDS');
await cryptoReady();
const identity = identityFromSeed(new Uint8Array(Buffer.from(readFileSync(seedFile as string, 'utf8').trim(), 'hex')));
const credential = new Uint8Array(readFileSync(credentialFile as string));
const log = createStderrLogger('warn');
const transport = await openUdpTransport({ port: Number(port), host: '0.0.0.0', log });
const node = createNode({ networkId: new Uint8Array(Buffer.from(networkHex as string, 'hex')) })({
  clock: createSystemClock(),
  random: createCryptoRandom(),
  transport,
  identity,
  log,
  admission: { credential, admit: () => ({ ok: true }) },
});
node.start([bootstrap as string]);
const everLinked = new Set<string>();
const watch = setInterval(() => {
  for (const link of node.links.links()) everLinked.add(addressToHex(link.peer));
}, 50);
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
clearInterval(watch);
const summary = { address: addressToHex(node.address), everLinked: [...everLinked], joined: node.joined, connectFailures: node.links.stats.handshakesRefused };
node.stop();
await transport.closeGracefully();
process.stdout.write(`${JSON.stringify(summary)}\n`);
