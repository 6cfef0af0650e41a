import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cryptoReady } from '../../../src/overlay/crypto.js';
import { identityFromSeed } from '../../../src/overlay/identity.js';
import { IDENTITY_FILE, identityFileText, writePrivateFile } from '../../../src/overlay/real/state-dir.js';

/** How close to the wanted ring position a ground identity lands (fraction of the ring). */
const TOLERANCE = 0.004;
/** Attempts before giving up (about 1 / (2 · TOLERANCE) are needed on average). */
const MAX_ATTEMPTS = 20_000;

/** Where an address sits on the ring, as a fraction in [0, 1). */
export function ringFraction(address: bigint): number {
  return Number(address >> 128n) / 2 ** 32;
}

/**
 * Writes an identity key into `stateDir` whose address lies at `fraction` of the ring (within
 * TOLERANCE): addresses are hashes of public keys, so keys are drawn until one lands there. Lab
 * topologies use it to decide who is whose ring neighbour, e.g. to keep two NATed hosts from
 * being linked by the ring before a test connects them.
 */
export async function writeIdentityAt(stateDir: string, fraction: number): Promise<bigint> {
  await cryptoReady();
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const seed = new Uint8Array(randomBytes(32));
    const identity = identityFromSeed(seed);
    const f = ringFraction(identity.address);
    const off = Math.abs(f - fraction);
    if (Math.min(off, 1 - off) <= TOLERANCE) {
      writePrivateFile(join(stateDir, IDENTITY_FILE), identityFileText(seed));
      return identity.address;
    }
  }
  throw new Error(`lab: no identity found near ring position ${fraction}`);
}
