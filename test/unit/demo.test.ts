import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('npm start explains what runs here; the headless demo forms a ring on loopback and pings across it', () => {
  const start = spawnSync(process.execPath, ['scripts/start.mjs'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(start.status, 0);
  assert.match(start.stdout, /npm run demo/);

  const demo = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--nodes', '3'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(demo.status, 0, demo.stderr);
  assert.match(demo.stdout, /The ring is formed/);
  assert.match(demo.stdout, /ping node1 → node3 \([0-9a-f]{8}\): \d+ ms, \d+ hop\(s\)/);
  assert.match(demo.stdout, /All demo nodes stopped/);
});
