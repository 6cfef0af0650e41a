import { type ChildProcess, spawn } from 'node:child_process';
import { IP } from './sh.js';

/** Lines of output kept per process (the tail is what a failing test prints). */
const MAX_OUTPUT_LINES = 400;

/** A process the lab started inside a namespace; its output is kept (bounded) for diagnosis. */
export class LabProcess {
  readonly output: string[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    readonly ns: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (prefix: string) => (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue;
        this.output.push(`${prefix}${line}`);
        if (this.output.length > MAX_OUTPUT_LINES) this.output.shift();
      }
    };
    child.stdout?.on('data', keep(''));
    child.stderr?.on('data', keep(''));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve();
      });
      child.on('error', (error) => {
        this.output.push(`spawn failed: ${error.message}`);
        this.exitInfo = { code: null, signal: null };
        resolve();
      });
    });
  }

  /** `ip netns exec NS file args...`: ip execs the command in place, so the pid is the command's. */
  static start(name: string, ns: string, file: string, args: string[], env?: NodeJS.ProcessEnv): LabProcess {
    const child = spawn(IP, ['netns', 'exec', ns, file, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    return new LabProcess(name, ns, child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === null;
  }

  get exit(): { code: number | null; signal: NodeJS.Signals | null } | null {
    return this.exitInfo;
  }

  /** Sends `signal`, waits up to `graceMs` for the exit, then SIGKILL. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref());
    if ((await Promise.race([this.exited.then(() => 'exited' as const), timer])) === 'timeout') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Synchronous SIGKILL for the process 'exit' handler. */
  killNow(): void {
    if (this.running && this.child.pid !== undefined) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  waitForExit(): Promise<void> {
    return this.exited;
  }

  tail(lines = 40): string {
    return this.output.slice(-lines).join('\n');
  }
}
