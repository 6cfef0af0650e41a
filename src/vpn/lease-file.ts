import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../overlay/real/state-dir.js';
import { formatIpv4, parseIpv4 } from './packets/addresses.js';

/**
 * The virtual IP lease kept in the state directory (`vip-lease.json`), so that a restarted node
 * claims the same address again: while its DHT record lives nobody else can take it.
 */
export const LEASE_FILE = 'vip-lease.json';

export interface StoredLease {
  /** Which overlay and subnet the lease belongs to (a lease of another network is ignored). */
  readonly networkIdHex: string;
  readonly subnet: string;
  readonly ip: number;
  readonly claimedAt: number;
  readonly expiresAt: number;
}

/** Where leases are kept: a file in a directory, or nowhere (the simulator's nodes). */
export interface LeaseStore {
  load(): StoredLease | undefined;
  save(lease: StoredLease): void;
  clear(): void;
}

export const memoryLeaseStore = (): LeaseStore => {
  let kept: StoredLease | undefined;
  return { load: () => kept, save: (l) => (kept = l), clear: () => (kept = undefined) };
};

export function fileLeaseStore(stateDir: string): LeaseStore {
  const path = join(stateDir, LEASE_FILE);
  return {
    load: () => {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
      return parseLease(text);
    },
    save: (lease) =>
      writePrivateFile(
        path,
        `${JSON.stringify({ version: 1, network: lease.networkIdHex, subnet: lease.subnet, vip: formatIpv4(lease.ip), claimedAt: lease.claimedAt, expiresAt: lease.expiresAt })}\n`,
      ),
    clear: () => {
      try {
        unlinkSync(path);
      } catch {
        // not there
      }
    },
  };
}

/** A damaged or foreign file is ignored (the node claims a fresh address), never an error. */
export function parseLease(text: string): StoredLease | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.version !== 1 || typeof o.network !== 'string' || typeof o.subnet !== 'string' || typeof o.vip !== 'string') return undefined;
  const ip = parseIpv4(o.vip);
  const times = [o.claimedAt, o.expiresAt];
  if (ip === undefined || !times.every((t) => typeof t === 'number' && Number.isSafeInteger(t) && t >= 0)) return undefined;
  return { networkIdHex: o.network, subnet: o.subnet, ip, claimedAt: o.claimedAt as number, expiresAt: o.expiresAt as number };
}
