import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { TapDevice } from '../../src/vpn/tap-device.js';
import { TapAddonMissingError, loadTapAddon } from '../../src/vpn/tap-addon.js';

/**
 * A TAP device living in a network namespace made for one test: the device is created in the root
 * namespace (never given an address there, never brought up), moved into the namespace at once, and
 * configured there. The descriptor stays valid across the move, so frames the namespace's kernel
 * sends out of the device reach this process. Everything is removed by dispose(), and leftovers of
 * crashed runs (namespaces whose process is gone) are swept when a lab is created.
 */

const NS_PREFIX = 'rvtapns-';
const IP = '/usr/sbin/ip';

/** Why the TAP tests cannot run here, or undefined if they can. */
export function tapLabUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'TAP tests need Linux';
  if (process.getuid?.() !== 0) return 'TAP tests need root (they create network namespaces and TAP devices); run them as root';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (load the tun module, or pass the device into the container)';
  if (!existsSync(IP)) return 'the ip command (iproute2) is not installed';
  try {
    loadTapAddon();
  } catch (e) {
    if (e instanceof TapAddonMissingError) return e.message;
    throw e;
  }
  return undefined;
}

export function run(command: string, args: readonly string[], timeoutMs = 10_000): string {
  return execFileSync(command, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces left by earlier runs whose process has died (the TAP inside goes with them). */
export function sweepStaleNamespaces(): void {
  const names = spawnSync(IP, ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of names.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = new RegExp(`^${NS_PREFIX}(\\d+)-\\d+$`).exec(name);
    if (match && !pidAlive(Number(match[1]))) spawnSync(IP, ['netns', 'del', name]);
  }
}

let labCounter = 0;

export interface TapLabOptions {
  /** The address (with prefix) given to the device inside the namespace, e.g. "10.254.0.2/16". */
  readonly address: string;
  readonly mtu?: number;
}

export class TapLab {
  readonly namespace: string;
  readonly tap: TapDevice;
  /** The MAC of the namespace's side of the device (its kernel's interface). */
  readonly hostMac: Uint8Array;
  private disposed = false;

  private constructor(namespace: string, tap: TapDevice, hostMac: Uint8Array) {
    this.namespace = namespace;
    this.tap = tap;
    this.hostMac = hostMac;
  }

  static create(options: TapLabOptions): TapLab {
    sweepStaleNamespaces();
    labCounter++;
    const namespace = `${NS_PREFIX}${process.pid}-${labCounter}`;
    const tapName = `rvtap${process.pid % 100_000}${labCounter}`.slice(0, 15);
    run(IP, ['netns', 'add', namespace]);
    let tap: TapDevice | undefined;
    try {
      tap = TapDevice.open(tapName);
      if (options.mtu !== undefined) tap.setMtu(options.mtu);
      const hostMac = tap.mac();
      run(IP, ['link', 'set', 'dev', tap.name, 'netns', namespace]);
      const lab = new TapLab(namespace, tap, hostMac);
      lab.exec(IP, ['link', 'set', 'lo', 'up']);
      lab.exec(IP, ['addr', 'add', options.address, 'dev', tap.name]);
      lab.exec(IP, ['link', 'set', tap.name, 'up']);
      return lab;
    } catch (e) {
      tap?.close();
      spawnSync(IP, ['netns', 'del', namespace]);
      spawnSync(IP, ['link', 'del', tapName]);
      throw e;
    }
  }

  /** Runs a quick command inside the namespace and returns its output (throws on failure). Blocks the event loop. */
  exec(command: string, args: readonly string[], timeoutMs = 10_000): string {
    return run(IP, ['netns', 'exec', this.namespace, command, ...args], timeoutMs);
  }

  /**
   * Runs a command inside the namespace without blocking the event loop (the node must keep
   * answering the TAP while, say, ping runs); resolves with its status and output, never rejects.
   */
  runAsync(command: string, args: readonly string[], timeoutMs = 10_000): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(IP, ['netns', 'exec', this.namespace, command, ...args], { encoding: 'utf8', timeout: timeoutMs }, (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ status, stdout, stderr });
      });
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.tap.close();
    spawnSync(IP, ['netns', 'del', this.namespace]);
    // A device that never reached the namespace would still be in the root one.
    spawnSync(IP, ['link', 'del', this.tap.name], { stdio: 'ignore' });
  }
}
