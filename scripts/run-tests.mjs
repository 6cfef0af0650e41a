#!/usr/bin/env node
// Runs the test suites with Node's own test runner (TypeScript loaded through tsx).
// Usage: node scripts/run-tests.mjs [suite ...]   (suites: folders under test/, default all)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'test');
const allSuites = readdirSync(testRoot).filter((name) => statSync(join(testRoot, name)).isDirectory()).sort();
const requested = process.argv.slice(2);
const unknown = requested.filter((s) => !allSuites.includes(s));
if (unknown.length > 0) {
  console.error(`Unknown test suite(s): ${unknown.join(', ')}. Known: ${allSuites.join(', ')}`);
  process.exit(2);
}
const suites = requested.length > 0 ? requested : allSuites;

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = suites.flatMap((s) => collect(join(testRoot, s))).map((f) => relative(root, f));
if (files.length === 0) {
  console.error('No test files found.');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
