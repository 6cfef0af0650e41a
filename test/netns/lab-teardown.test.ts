import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { labUnavailableReason } from './lab/lab.js';
import { labPrefix, listLabNamespaces, sweepLeftovers } from './lab/sweep.js';

/**
 * The lab removes what it made even when its test process dies: the 'exit' handler covers a
 * process that exits without calling destroy(), the start-up sweep covers one killed outright.
 */
const unavailable = labUnavailableReason();
const SCRIPT = `
import { Lab } from ${JSON.stringify(join(import.meta.dirname, 'lab/lab.js'))};
const lab = await Lab.create();
const host = await lab.addPublicHost('pub');
await lab.addNat('nat', 'symmetric');
lab.spawn('sleeper', host.ns, '/usr/bin/sleep', ['60']);
process.stdout.write('ready\\n');
if (process.argv.at(-1) === 'exit') process.exit(3);
await new Promise(() => setInterval(() => {}, 1000));
`;

/** Every wait on the child is bounded; the child is killed when the test ends, whatever happened. */
const CHILD_DEADLINE_MS = 30_000;

function startLabProcess(mode: 'exit' | 'hang'): Promise<{ pid: number; done: Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const deadline = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS);
  const done = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(deadline);
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the lab child did not get ready within 20 s'));
    }, 20_000);
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve({ pid: child.pid as number, done });
      }
    });
  });
}

const ours = (pid: number): string[] => listLabNamespaces().filter((ns) => ns.startsWith(`${labPrefix(pid)}-`));

test('a lab process that exits without destroy() leaves no namespace behind', { skip: unavailable ?? false }, async () => {
  const child = await startLabProcess('exit');
  try {
    assert.equal(await child.done, 3);
    assert.deepEqual(ours(child.pid), []);
  } finally {
    sweepLeftovers();
  }
});

test('a lab process killed outright is swept by the next lab', { skip: unavailable ?? false }, async () => {
  const child = await startLabProcess('hang');
  try {
    assert.equal(ours(child.pid).length, 5, 'core, pub and nat with their ISP routers while it runs');
    process.kill(child.pid, 'SIGKILL');
    await child.done;
    assert.equal(ours(child.pid).length, 5, 'SIGKILL runs no handler');
  } finally {
    const removed = sweepLeftovers();
    assert.ok(removed.length >= 5);
  }
  assert.deepEqual(ours(child.pid), []);
});
