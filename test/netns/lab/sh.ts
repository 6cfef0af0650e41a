import { execFile, execFileSync } from 'node:child_process';

/** Absolute paths: the lab never runs a command found through $PATH. */
export const IP = '/usr/sbin/ip';
export const NFT = '/usr/sbin/nft';
export const SYSCTL = '/usr/sbin/sysctl';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (argv array, no shell) and resolves with its output, whatever its exit status. */
export function run(file: string, args: string[], timeoutMs = 15_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (error !== null && code === 1 ? error.message : '') });
    });
  });
}

/** Like {@link run} but rejects with the command and its stderr when it fails. */
export async function must(file: string, args: string[], timeoutMs?: number): Promise<string> {
  const r = await run(file, args, timeoutMs);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Synchronous variant for the process 'exit' handler; never throws. */
export function runSync(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return '';
  }
}

/** `ip netns exec NS file args...` */
export function inNs(ns: string, file: string, args: string[], timeoutMs?: number): Promise<ExecResult> {
  return run(IP, ['netns', 'exec', ns, file, ...args], timeoutMs);
}

export async function mustInNs(ns: string, file: string, args: string[]): Promise<string> {
  return must(IP, ['netns', 'exec', ns, file, ...args]);
}
