import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeHost } from '../../src/node-host/node-host.js';
import { silentLogger } from '../../src/overlay/log.js';

/**
 * Real nodes on 127.0.0.1 for one test file: each in its own state directory under a temporary
 * root, all stopped and removed when the file's tests end.
 */
export function loopbackHosts(prefix: string, networkName: string): {
  root: string;
  /** The hosts started so far, in order. */
  hosts: NodeHost[];
  startHost(name: string, bootstraps?: string[]): Promise<NodeHost>;
} {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const hosts: NodeHost[] = [];
  after(async () => {
    for (const h of hosts) await h.stop();
    rmSync(root, { recursive: true, force: true });
  });
  return {
    root,
    hosts,
    async startHost(name, bootstraps = []) {
      const h = await NodeHost.start({ stateDir: join(root, name), port: 0, listenHost: '127.0.0.1', bootstraps, networkName, log: silentLogger });
      hosts.push(h);
      return h;
    },
  };
}

/** Polls `check` every 50 ms until it holds; throws after `ms`. */
export async function waitFor(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
