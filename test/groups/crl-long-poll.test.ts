import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { API_PREFIX } from '../../src/groups/api-protocol.js';
import { serverCrlSource } from '../../src/groups/crl-source.js';
import { GroupError } from '../../src/groups/errors.js';
import { decodeCrl } from '../../src/groups/revocation.js';
import { CrlWatch } from '../../src/group-server/crl-watch.js';
import { createGroupThroughWeb, makeTempDir, startTestServer } from './server-fixture.js';
import { rawRequest } from './web-session.js';

const temp = makeTempDir('crl-long-poll');
before(async () => {
  await cryptoReady();
});
after(() => temp.remove());

test('the CRL long poll refuses malformed parameters with a clear error, and shutting the server down answers waiting clients', async () => {
  const server = await startTestServer(join(temp.path, 'server'));
  let closed = false;
  try {
    const group = await createGroupThroughWeb(server, 'Long poll');
    const url = `${server.url}${API_PREFIX}/groups/${group.groupId}/crl`;
    for (const query of ['?after=abc&wait=5', '?after=0&wait=26', '?after=-1&wait=1', '?after=0&wait=1.5', `?after=${'9'.repeat(40)}&wait=1`]) {
      const res = await rawRequest(url + query);
      assert.equal(res.status, 400, query);
      assert.match(JSON.parse(res.text).error as string, /must be a whole number/);
    }
    // A plain fetch, and one whose `after` is already behind: both answer at once.
    assert.equal((await rawRequest(url)).status, 200);
    const source = serverCrlSource(group.invitation, 20);
    const t0 = Date.now();
    const first = await source.fetch(-1, new AbortController().signal);
    const crl = decodeCrl(first.crl);
    assert.ok(crl.ok && crl.value.sequence === 0);
    assert.ok(Date.now() - t0 < 2_000);
    // A waiting client is answered when the server shuts down (it does not hold the shutdown).
    const waiting = source.fetch(0, new AbortController().signal).then(
      () => 'answered',
      (e: unknown) => (e instanceof GroupError ? e.code : 'other'),
    );
    await new Promise((r) => setTimeout(r, 300));
    const closing = Date.now();
    await server.close();
    closed = true;
    assert.ok(Date.now() - closing < 5_000, 'the shutdown did not wait for the long poll');
    assert.equal(await waiting, 'answered', 'the waiting client got the CRL');
  } finally {
    if (!closed) await server.close();
  }
});

test('CrlWatch answers waiters on change, on timeout and on abort, and keeps no waiter afterwards', async () => {
  const watch = new CrlWatch();
  const abort = new AbortController();
  const a = watch.wait('g1', 10_000, new AbortController().signal);
  const b = watch.wait('g1', 10_000, abort.signal);
  const c = watch.wait('g2', 50, new AbortController().signal);
  assert.equal(watch.waiting, 3);
  watch.notify('g1');
  await a;
  await b;
  await c;
  assert.equal(watch.waiting, 0);
  const d = watch.wait('g1', 10_000, abort.signal);
  abort.abort();
  await d;
  assert.equal(watch.waiting, 0);
  watch.close();
  const t0 = Date.now();
  await watch.wait('g1', 10_000, new AbortController().signal);
  assert.ok(Date.now() - t0 < 100, 'a closed watch answers at once');
});
