import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NFT, inNs, mustInNs } from './sh.js';

/** The lab's table for counting packets (a probe, never a filter: every rule only counts). */
export const COUNTER_TABLE = 'ringvpn_lab_count';

/**
 * Installs named packet counters in `ns`: each rule is an nft match (for example
 * `udp dport 4200 ip ttl 1`) counted at `hook` (prerouting sees packets before the routing
 * decision, so also those a router drops for an expired TTL; input sees what reaches the host).
 * The table lives in the namespace and goes away with it.
 */
export async function installCounters(ns: string, dir: string, hook: 'prerouting' | 'input', rules: Record<string, string>): Promise<void> {
  for (const name of Object.keys(rules)) if (!/^[a-z][a-z0-9_]{0,30}$/.test(name)) throw new Error(`lab: bad counter name ${name}`);
  const lines = Object.entries(rules).map(([name, match]) => `    ${match} counter name ${name}`);
  const counters = Object.keys(rules).map((name) => `  counter ${name} { }`);
  const text = `table ip ${COUNTER_TABLE} {\n${counters.join('\n')}\n  chain count {\n    type filter hook ${hook} priority -300; policy accept;\n${lines.join('\n')}\n  }\n}\n`;
  const file = join(dir, `${ns}-counters.nft`);
  writeFileSync(file, text);
  await mustInNs(ns, NFT, ['-f', file]);
}

/** Packets counted so far, by counter name. */
export async function readCounters(ns: string): Promise<Record<string, number>> {
  const r = await inNs(ns, NFT, ['-j', 'list', 'counters', 'table', 'ip', COUNTER_TABLE]);
  if (r.code !== 0) throw new Error(`lab: cannot read the counters in ${ns}: ${r.stderr.trim()}`);
  const out: Record<string, number> = {};
  const parsed = JSON.parse(r.stdout) as { nftables: { counter?: { name: string; packets: number } }[] };
  for (const item of parsed.nftables) if (item.counter !== undefined) out[item.counter.name] = item.counter.packets;
  return out;
}
