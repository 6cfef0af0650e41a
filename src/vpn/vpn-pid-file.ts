import { readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { writePrivateFile } from '../overlay/real/state-dir.js';

/**
 * `ringvpn up` writes its process id to `<state dir>/vpn.pid`; `ringvpn down` reads it and sends
 * SIGTERM. The pid is believed only if that process is still a `ringvpn up` of this state
 * directory (its command line says so), so a stale file never leads to signalling a stranger.
 */
export const PID_FILE = 'vpn.pid';

export function writePidFile(stateDir: string): void {
  writePrivateFile(join(stateDir, PID_FILE), `${process.pid}\n`);
}

export function removePidFile(stateDir: string): void {
  try {
    if (readPid(stateDir) === process.pid) unlinkSync(join(stateDir, PID_FILE));
  } catch {
    // gone already
  }
}

export function readPid(stateDir: string): number | undefined {
  try {
    const n = Number(readFileSync(join(stateDir, PID_FILE), 'utf8').trim());
    return Number.isSafeInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The pid of the live `ringvpn up` of `stateDir`, if there is one; a stale pid file is removed. */
export function runningVpnPid(stateDir: string): number | undefined {
  const pid = readPid(stateDir);
  if (pid === undefined) return undefined;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    args = [];
  }
  if (args.includes('up') && args.some((a) => a.includes('ringvpn'))) return pid;
  try {
    unlinkSync(join(stateDir, PID_FILE));
  } catch {
    // not ours to remove, or gone
  }
  return undefined;
}
