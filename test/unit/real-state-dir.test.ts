import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { silentLogger } from '../../src/overlay/log.js';
import { createCryptoRandom } from '../../src/overlay/real/crypto-random.js';
import { networkIdFromName } from '../../src/overlay/real/network-id.js';
import { IDENTITY_FILE, StateDirError, loadOrCreateIdentity, prepareStateDir } from '../../src/overlay/real/state-dir.js';

const root = mkdtempSync(join(tmpdir(), 'ringvpn-state-'));
before(async () => {
  await cryptoReady();
});
after(() => rmSync(root, { recursive: true, force: true }));

const random = createCryptoRandom();

test('the identity is created on first start with mode 0600 in a 0700 directory, and reused', () => {
  const dir = join(root, 'fresh', 'nested');
  prepareStateDir(dir, silentLogger);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const first = loadOrCreateIdentity(dir, random, silentLogger);
  assert.equal(first.created, true);
  assert.equal(statSync(join(dir, IDENTITY_FILE)).mode & 0o777, 0o600);
  const second = loadOrCreateIdentity(dir, random, silentLogger);
  assert.equal(second.created, false);
  assert.equal(second.identity.address, first.identity.address);
  assert.deepEqual(second.identity.publicKey, first.identity.publicKey);
  assert.ok(!readFileSync(join(dir, IDENTITY_FILE), 'utf8').includes(Buffer.from(first.identity.secretKey).toString('hex')));
});

test('a state directory open to others is tightened to 0700, with a warning', () => {
  const dir = join(root, 'loose');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const warnings: string[] = [];
  prepareStateDir(dir, { ...silentLogger, warn: (m) => warnings.push(m) });
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(warnings.length, 1);
});

test('a key file others can read is refused in plain words; chmod 600 makes it usable again', () => {
  const dir = join(root, 'readable');
  prepareStateDir(dir, silentLogger);
  const { identity } = loadOrCreateIdentity(dir, random, silentLogger);
  const path = join(dir, IDENTITY_FILE);
  chmodSync(path, 0o644);
  assert.throws(
    () => loadOrCreateIdentity(dir, random, silentLogger),
    (e: unknown) => e instanceof StateDirError && e.code === 'identity-mode' && /other users/.test(e.message) && e.message.includes(`chmod 600 ${path}`),
  );
  chmodSync(path, 0o600);
  assert.equal(loadOrCreateIdentity(dir, random, silentLogger).identity.address, identity.address);
});

test('a damaged key file is refused, never replaced silently', () => {
  const dir = join(root, 'damaged');
  prepareStateDir(dir, silentLogger);
  const path = join(dir, IDENTITY_FILE);
  for (const content of ['', 'ringvpn-identity-v1\nzz\n', 'something else\n' + 'ab'.repeat(32), 'ringvpn-identity-v1\n' + 'ab'.repeat(31)]) {
    writeFileSync(path, content, { mode: 0o600 });
    assert.throws(() => loadOrCreateIdentity(dir, random, silentLogger), (e: unknown) => e instanceof StateDirError && e.code === 'identity-malformed');
    assert.equal(readFileSync(path, 'utf8'), content);
  }
});

test('a state directory path that is a file is refused', () => {
  const path = join(root, 'a-file');
  writeFileSync(path, 'x');
  assert.throws(() => prepareStateDir(path, silentLogger), StateDirError);
});

test('network ids: 16 bytes, stable per name, different across names', () => {
  const a = networkIdFromName('ringvpn-public');
  assert.equal(a.length, 16);
  assert.deepEqual(networkIdFromName('ringvpn-public'), a);
  assert.notDeepEqual(networkIdFromName('team-x'), a);
});
