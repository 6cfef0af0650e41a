#!/usr/bin/env node
/* global process, console */
// Builds the TAP addon with node-gyp against the Node headers already on this machine (never downloads).
// Run by `npm ci` / `npm install` through the root package's "install" script, or by hand:
//   node native-helpers/tap/build.mjs
// Set RINGVPN_SKIP_TAP_BUILD=1 to skip it (the VPN then cannot open TAP devices).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function fail(message) {
  console.error(`\nThe TAP addon (native-helpers/tap) was not built: ${message}\n`);
  process.exit(1);
}

if (process.env.RINGVPN_SKIP_TAP_BUILD === '1') {
  console.log('RINGVPN_SKIP_TAP_BUILD=1: not building the TAP addon.');
  process.exit(0);
}
if (process.platform !== 'linux') {
  console.log(`The TAP addon is Linux-only; skipping it on ${process.platform}.`);
  process.exit(0);
}

/** Where node-gyp is: npm tells lifecycle scripts; otherwise the copy bundled with npm, or the PATH. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return { command: process.execPath, args: [c] };
  return { command: 'node-gyp', args: [] };
}

/** The prefix holding include/node/node_api.h: the configured nodedir, or the prefix Node itself lives under. */
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, join(dirname(process.execPath), '..')];
  for (const c of candidates) if (c && existsSync(join(c, 'include', 'node', 'node_api.h'))) return c;
  return undefined;
}

const nodeDir = findNodeDir();
if (nodeDir === undefined) {
  fail(
    'the Node.js headers (include/node/node_api.h) are not installed next to this Node. ' +
      'On Debian or Ubuntu install them with "apt-get install libnode-dev" (or use a Node.js build that ships its headers), then run "npm rebuild" or "node native-helpers/tap/build.mjs".',
  );
}
const gyp = findNodeGyp();
const result = spawnSync(gyp.command, [...gyp.args, 'rebuild', `--nodedir=${nodeDir}`, '--loglevel=warn'], {
  cwd: here,
  stdio: 'inherit',
  env: { ...process.env, npm_config_nodedir: nodeDir },
});
if (result.error) fail(`could not run node-gyp (${result.error.message}).`);
if (result.status !== 0) {
  fail('the compiler reported errors (see above). A C compiler, make and python3 are needed: on Debian, "apt-get install make gcc python3".');
}
if (!existsSync(join(here, 'build', 'Release', 'tap.node'))) fail('node-gyp finished but build/Release/tap.node is missing.');
console.log('TAP addon built: native-helpers/tap/build/Release/tap.node');
