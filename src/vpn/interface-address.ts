import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { formatIpv4 } from './packets/addresses.js';

/**
 * Sets and removes the TAP device's IPv4 address with ip(8), run by absolute path with an argv
 * array (no shell, nothing from the command line reaches a shell). Only the addresses this object
 * added are removed by `removeAll` (what `ringvpn down` undoes).
 */
const IP_CANDIDATES = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'];

export class InterfaceAddressError extends Error {
  override readonly name = 'InterfaceAddressError';
}

export function findIpCommand(): string {
  const found = IP_CANDIDATES.find((p) => existsSync(p));
  if (found === undefined) throw new InterfaceAddressError('The ip command (package iproute2) is not installed; it is needed to give the TAP device its address.');
  return found;
}

function ip(args: string[]): Promise<void> {
  const file = findIpCommand();
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 10_000 }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new InterfaceAddressError(`${file} ${args.join(' ')} failed: ${String(stderr).trim() || error.message}`));
    });
  });
}

export class InterfaceAddresses {
  private readonly added = new Set<string>();

  constructor(
    private readonly device: string,
    private readonly prefixLength: number,
  ) {}

  /** Replaces every address this object set with `address` (undefined: just removes them). */
  async set(address: number | undefined): Promise<void> {
    const wanted = address === undefined ? undefined : `${formatIpv4(address)}/${this.prefixLength}`;
    for (const a of [...this.added]) {
      if (a === wanted) continue;
      await this.remove(a);
    }
    if (wanted === undefined || this.added.has(wanted)) return;
    // `replace` is idempotent: a leftover of a crashed run with the same address is taken over.
    await ip(['addr', 'replace', wanted, 'dev', this.device]);
    this.added.add(wanted);
  }

  async removeAll(): Promise<void> {
    for (const a of [...this.added]) await this.remove(a);
  }

  private async remove(a: string): Promise<void> {
    this.added.delete(a);
    try {
      await ip(['addr', 'del', a, 'dev', this.device]);
    } catch {
      // The device is gone already (its addresses went with it).
    }
  }
}
