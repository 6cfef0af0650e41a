import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IP, runSync } from './sh.js';

/**
 * Every lab object is named with a per-run prefix `rvl<pid in base 36>`, so that leftovers of a
 * crashed run can be found by name (and only ours: other suites use other prefixes), and so that
 * a sweep never touches the namespaces of a lab that is still running in another process.
 */
const PREFIX_PATTERN = /^rvl([0-9a-z]{1,6})-/;

export function labPrefix(pid = process.pid): string {
  return `rvl${pid.toString(36)}`;
}

export function listLabNamespaces(): string[] {
  return runSync(IP, ['netns', 'list'])
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => PREFIX_PATTERN.test(name));
}

/** Kills the processes inside `ns` and deletes it (its veths and nft tables go with it). Synchronous. */
export function deleteNamespace(ns: string): void {
  for (const pid of runSync(IP, ['netns', 'pids', ns]).split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 1)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  runSync(IP, ['netns', 'del', ns]);
}

/** Deletes the namespaces and temporary directories of lab runs whose process is gone. Returns the namespaces removed. */
export function sweepLeftovers(): string[] {
  const removed: string[] = [];
  for (const ns of listLabNamespaces()) {
    if (!ownerGone(ns)) continue;
    deleteNamespace(ns);
    removed.push(ns);
  }
  for (const name of readdirSync(tmpdir())) {
    if (PREFIX_PATTERN.test(name) && ownerGone(name)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  return removed;
}

function ownerGone(name: string): boolean {
  const pid = parseInt((PREFIX_PATTERN.exec(name) as RegExpExecArray)[1] as string, 36);
  return pid !== process.pid && !processAlive(pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
