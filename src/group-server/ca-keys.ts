import { existsSync } from 'node:fs';
import { fromHex } from '../groups/binary.js';
import { type GroupCa, groupCaFromSeed } from '../groups/group-ca.js';
import { readKeyFile, writeKeyFile } from '../groups/secret-file.js';
import { GROUP_ID_BYTES } from '../groups/records.js';
import type { DataDir } from './data-dir.js';

/** Each group's CA key lives in its own 0600 file in the data directory, never in the database. */
export class CaKeys {
  private readonly cache = new Map<string, GroupCa>();

  constructor(private readonly dir: DataDir) {}

  save(ca: GroupCa): void {
    writeKeyFile(this.dir.caKey(Buffer.from(ca.groupId).toString('hex')), ca.seed);
  }

  load(groupIdHex: string): GroupCa {
    const cached = this.cache.get(groupIdHex);
    if (cached !== undefined) return cached;
    const path = this.dir.caKey(groupIdHex);
    const groupId = fromHex(groupIdHex, GROUP_ID_BYTES);
    if (groupId === null || !existsSync(path)) throw new Error(`the CA key of group ${groupIdHex} is missing from ${path}`);
    const ca = groupCaFromSeed(groupId, readKeyFile(path));
    this.cache.set(groupIdHex, ca);
    return ca;
  }
}
