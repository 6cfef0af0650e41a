import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { silentLogger } from '../../src/overlay/log.js';
import { NodeHost } from '../../src/node-host/node-host.js';
import type { GroupServer } from '../../src/group-server/app.js';
import { RENEW_BEFORE_MS } from '../../src/group-server/membership-service.js';
import { API_PREFIX } from '../../src/groups/api-protocol.js';
import { fromBase64Url, toBase64Url } from '../../src/groups/binary.js';
import { type Certificate, checkCertificateBytes, decodeCertificate, hasRole } from '../../src/groups/certificate.js';
import { RevocationSet, decodeCrl } from '../../src/groups/revocation.js';
import { GroupApiClient } from '../../src/groups/group-api-client.js';
import { GroupStateDir } from '../../src/groups/group-state.js';
import { type JoinProgress, joinGroup } from '../../src/groups/join.js';
import { loadMembership } from '../../src/groups/membership.js';
import { type TestGroup, createGroupThroughWeb, makeTempDir, memberIds, pendingRequestIds, startTestServer } from './server-fixture.js';
import { rawRequest } from './web-session.js';

/**
 * A member's certificate changes while it is a member: an admin turns the gateway role on or off
 * (off revokes the certificate held), or it nears its end and the server renews it. The running
 * node, and `ringvpn join` run again, must pick up the certificate in force instead of being cut off.
 */
const temp = makeTempDir('cert-refresh');
let server: GroupServer | null = null;
const hosts: NodeHost[] = [];

before(async () => {
  await cryptoReady();
});
after(async () => {
  for (const h of hosts) await h.stop();
  await server?.close();
  temp.remove();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function savedCertificate(stateDir: string, groupId: string): Certificate {
  const bytes = new GroupStateDir(stateDir, groupId).certificateBytes();
  assert.ok(bytes !== null);
  const decoded = decodeCertificate(bytes);
  assert.ok(decoded.ok);
  return decoded.value;
}

/** The certificate `host` holds on its link with `peer` (what the peer presented in the handshake), or undefined without a link. */
function presentedBy(host: NodeHost, peer: NodeHost): Certificate | undefined {
  const link = [...host.node.links.links()].find((l) => l.peer === peer.node.address);
  if (link === undefined) return undefined;
  const decoded = decodeCertificate(link.credential);
  return decoded.ok ? decoded.value : undefined;
}

async function memberId(group: TestGroup, name: string): Promise<string> {
  const page = await group.admin.get(`/groups/${group.groupId}/members`);
  const row = page.text.split('<tr>').find((r) => r.includes(`<td>${name}</td>`));
  const id = row === undefined ? undefined : /\/members\/(\d+)\/ban"/.exec(row)?.[1];
  assert.ok(id !== undefined, `${name} is on the members page`);
  return id;
}

async function startHost(stateDir: string, bootstraps: string[]): Promise<NodeHost> {
  const h = await NodeHost.start({ stateDir, port: 0, listenHost: '127.0.0.1', bootstraps, networkName: 'ringvpn-public', log: silentLogger });
  hosts.push(h);
  return h;
}

test('gateway on and off reach the running node: it presents the new certificate, and is not cut off when the old one is revoked', async () => {
  server = await startTestServer(join(temp.path, 'server'), { openGroupCreation: true });
  const group = await createGroupThroughWeb(server, 'Roles');
  await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' });
  const dirs = { alice: join(temp.path, 'alice'), bob: join(temp.path, 'bob'), carol: join(temp.path, 'carol') };
  for (const [name, stateDir] of Object.entries(dirs)) {
    await joinGroup({ invitation: group.invitation, name, email: `${name}@example.org`, stateDir });
  }
  const first = savedCertificate(dirs.alice, group.groupId);
  assert.ok(!hasRole(first, 'gateway'));

  // Gateway on while Alice's node is off: her node learns of it from its first report to the server.
  const aliceId = await memberId(group, 'alice');
  await group.admin.post(`/groups/${group.groupId}/members/${aliceId}/gateway-on`, {});
  const alice = await startHost(dirs.alice, []);
  const aliceEndpoint = `127.0.0.1:${alice.transport.localEndpoint.split(':').pop() as string}`;
  const bob = await startHost(dirs.bob, [aliceEndpoint]);
  const gateway = await waitFor('the gateway certificate saved by Alice\'s node', () => {
    const c = savedCertificate(dirs.alice, group.groupId);
    return c.serial > first.serial ? c : undefined;
  });
  assert.ok(hasRole(gateway, 'gateway'));
  await waitFor('Bob linked with Alice', () => presentedBy(bob, alice));

  // A node that links with Alice now sees the certificate she presents from now on: the gateway one.
  const carol = await startHost(dirs.carol, [aliceEndpoint]);
  const seenByCarol = await waitFor('Carol linked with Alice', () => presentedBy(carol, alice));
  assert.equal(seenByCarol.serial, gateway.serial);
  assert.ok(hasRole(seenByCarol, 'gateway'));

  // Gateway off revokes the gateway certificate. Carol closes her link with it; Alice's node fetches
  // the certificate in force, presents it, and Carol admits her again.
  await group.admin.post(`/groups/${group.groupId}/members/${aliceId}/gateway-off`, {});
  const member = await waitFor('the member certificate saved by Alice\'s node', () => {
    const c = savedCertificate(dirs.alice, group.groupId);
    return c.serial > gateway.serial ? c : undefined;
  });
  assert.ok(!hasRole(member, 'gateway'));
  const relinked = await waitFor('Carol linked with Alice again, on the new certificate', () => {
    const c = presentedBy(carol, alice);
    return c !== undefined && c.serial === member.serial ? c : undefined;
  });
  assert.ok(!hasRole(relinked, 'gateway'));
  // Alice's membership still loads (a restart keeps working), and the revoked certificate is refused.
  assert.equal(loadMembership(dirs.alice, group.groupId).certificate.serial, member.serial);
  assert.ok(loadMembership(dirs.carol, group.groupId).revocations.isRevoked(gateway.serial, new Uint8Array(32)));
});

test('ringvpn join run again fetches the certificate in force after a change of role, and asks again after a removal', async () => {
  assert.ok(server !== null);
  const group = await createGroupThroughWeb(server, 'Offline', 'offlineadmin');
  const stateDir = join(temp.path, 'dora');
  const joining = joinGroup({ invitation: group.invitation, name: 'Dora', email: 'dora@example.org', stateDir, pollIntervalMs: 50 });
  const [requestId] = await waitFor('the request', async () => {
    const ids = await pendingRequestIds(group.admin, group.groupId);
    return ids.length > 0 ? ids : undefined;
  });
  await group.admin.post(`/groups/${group.groupId}/requests/${requestId}/approve`, {});
  const joined = await joining;
  const [id] = await memberIds(group.admin, group.groupId);

  // Gateway on, then off, while the node is not running: the held certificate is not revoked by
  // "on", but the one issued then is by "off". Joining again picks up the newest one.
  await group.admin.post(`/groups/${group.groupId}/members/${id}/gateway-on`, {});
  const asGateway = await joinGroup({ invitation: group.invitation, name: 'Dora', email: 'dora@example.org', stateDir });
  assert.ok(hasRole(asGateway.certificate, 'gateway'));
  assert.ok(asGateway.certificate.serial > joined.certificate.serial);
  await group.admin.post(`/groups/${group.groupId}/members/${id}/gateway-off`, {});
  const events: JoinProgress['kind'][] = [];
  const back = await joinGroup({ invitation: group.invitation, name: 'Dora', email: 'dora@example.org', stateDir, onProgress: (e) => events.push(e.kind) });
  assert.ok(!hasRole(back.certificate, 'gateway'));
  assert.ok(back.certificate.serial > asGateway.certificate.serial);
  assert.ok(events.includes('certificate-saved'));
  assert.equal(loadMembership(stateDir, group.groupId).certificate.serial, back.certificate.serial);

  // Removed: the saved certificate is revoked; joining again says so and files a new request,
  // which an admin approves like any other.
  await group.admin.post(`/groups/${group.groupId}/members/${id}/remove`, {});
  const rejoinEvents: JoinProgress['kind'][] = [];
  const rejoining = joinGroup({
    invitation: group.invitation,
    name: 'Dora',
    email: 'dora@example.org',
    stateDir,
    pollIntervalMs: 50,
    onProgress: (e) => rejoinEvents.push(e.kind),
  });
  const [again] = await waitFor('the new request', async () => {
    const ids = await pendingRequestIds(group.admin, group.groupId);
    return ids.length > 0 ? ids : undefined;
  });
  assert.notEqual(again, requestId);
  await group.admin.post(`/groups/${group.groupId}/requests/${again}/approve`, {});
  const rejoined = await rejoining;
  assert.ok(rejoinEvents.includes('membership-ended'));
  assert.ok(rejoined.certificate.serial > back.certificate.serial);
  assert.equal(loadMembership(stateDir, group.groupId).certificate.serial, rejoined.certificate.serial);
});

test('a member that reports near the end of its certificate gets a renewed one; the old one is not revoked', async () => {
  let clock = Date.now();
  const renewServer = await startTestServer(join(temp.path, 'renew-server'), { now: () => clock });
  try {
    const group = await createGroupThroughWeb(renewServer, 'Renewal', 'renewadmin');
    await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' });
    const stateDir = join(temp.path, 'erin');
    const joined = await joinGroup({ invitation: group.invitation, name: 'Erin', email: 'erin@example.org', stateDir });
    const membership = loadMembership(stateDir, group.groupId);
    const client = new GroupApiClient(group.invitation, { now: () => clock });

    const early = await client.checkIn(membership.identity, ['192.0.2.5:4500']);
    assert.equal(early.certificate !== null && decodeCertificate(fromBase64Url(early.certificate, 2048) as Uint8Array).ok, true);
    assert.deepEqual(fromBase64Url(early.certificate as string, 2048), joined.certificate.bytes, 'far from its end: the same certificate');

    clock = joined.certificate.notAfter - RENEW_BEFORE_MS + 60_000;
    const crlBefore = await client.crl();
    const late = await client.checkIn(membership.identity, ['192.0.2.5:4500']);
    const renewed = decodeCertificate(fromBase64Url(late.certificate as string, 2048) as Uint8Array);
    assert.ok(renewed.ok);
    assert.ok(renewed.value.serial > joined.certificate.serial);
    assert.ok(renewed.value.notAfter > joined.certificate.notAfter);
    assert.equal(renewed.value.name, 'Erin');
    assert.deepEqual(renewed.value.roles, joined.certificate.roles);
    assert.equal((await client.crl()).sequence, crlBefore.sequence, 'renewal revokes nothing');

    const again = await client.checkIn(membership.identity, ['192.0.2.5:4500']);
    assert.deepEqual(fromBase64Url(again.certificate as string, 2048), renewed.value.bytes, 'renewed once, then kept');
  } finally {
    await renewServer.close();
  }
});

test('removing a member revokes every certificate it was given (an older one from before a change of role or a renewal too)', async () => {
  let clock = Date.now();
  const s = await startTestServer(join(temp.path, 'all-serials'), { now: () => clock });
  try {
    const group = await createGroupThroughWeb(s, 'Every serial', 'serialadmin');
    await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' });
    const stateDir = join(temp.path, 'fred');
    const joined = await joinGroup({ invitation: group.invitation, name: 'Fred', email: 'fred@example.org', stateDir });
    const [id] = await memberIds(group.admin, group.groupId);
    // A second certificate (gateway on) and a third (renewed near its end): the first two stay valid until removal.
    await group.admin.post(`/groups/${group.groupId}/members/${id}/gateway-on`, {});
    const membership = loadMembership(stateDir, group.groupId);
    const client = new GroupApiClient(group.invitation, { now: () => clock });
    clock = joined.certificate.notAfter - RENEW_BEFORE_MS + 60_000;
    const renewed = decodeCertificate(fromBase64Url((await client.checkIn(membership.identity, [])).certificate as string, 2048) as Uint8Array);
    assert.ok(renewed.ok);
    const serials = [joined.certificate.serial, renewed.value.serial - 1, renewed.value.serial];
    assert.equal(new Set(serials).size, 3);

    clock = Date.now(); // back to today: the admin's session is hours long, not months
    const removed = await group.admin.post(`/groups/${group.groupId}/members/${id}/remove`, {});
    assert.match(removed.text, /Member removed/);
    const crl = await client.crl();
    const decoded = decodeCrl(fromBase64Url(crl.crl, 1 << 20) as Uint8Array);
    assert.ok(decoded.ok);
    for (const serial of serials) assert.ok(decoded.value.serials.includes(serial), `serial ${serial} is revoked (CRL: ${decoded.value.serials.join(",")}; issued: ${serials.join(",")})`);
    assert.equal(decoded.value.publicKeys.length, 0, 'removal revokes certificates, not the device: the person may ask again');
    const set = new RevocationSet(membership.anchor);
    assert.ok(set.applyCrl(decoded.value));
    const first = checkCertificateBytes(joined.certificate.bytes, membership.anchor, clock, set);
    assert.ok(!first.ok && first.error.code === 'revoked', 'the very first certificate no longer gets in');
  } finally {
    await s.close();
  }
});

test('a running member keeps long polling: long after it started it hears at once of a change of role and of a ban', async () => {
  // The server holds each long poll 1 s here (25 s in service), so that "long after" is a few cycles.
  const s = await startTestServer(join(temp.path, 'long-poll-server'), { crlWaitCapSeconds: 1 });
  try {
    const group = await createGroupThroughWeb(s, 'Steady', 'steadyadmin');
    await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' });
    const dirs = { gina: join(temp.path, 'gina'), hal: join(temp.path, 'hal') };
    for (const [name, stateDir] of Object.entries(dirs)) await joinGroup({ invitation: group.invitation, name, email: `${name}@example.org`, stateDir });
    const gina = await startHost(dirs.gina, []);
    const hal = await startHost(dirs.hal, [`127.0.0.1:${gina.transport.localEndpoint.split(':').pop() as string}`]);
    await waitFor('Hal linked with Gina', () => presentedBy(hal, gina));
    const held = savedCertificate(dirs.gina, group.groupId);
    // Past the nodes' first report to the server (5 s after start) and several long polls: what
    // arrives now comes through the long poll (the next report is 5 minutes away).
    await new Promise((r) => setTimeout(r, 7_000));

    await group.admin.post(`/groups/${group.groupId}/members/${await memberId(group, 'gina')}/gateway-on`, {});
    const gateway = await waitFor('the gateway certificate adopted by Gina\'s running node', () => {
      const c = savedCertificate(dirs.gina, group.groupId);
      return c.serial > held.serial ? c : undefined;
    }, 30_000);
    assert.ok(hasRole(gateway, 'gateway'));

    await group.admin.post(`/groups/${group.groupId}/members/${await memberId(group, 'hal')}/ban`, {});
    await waitFor('Gina cut Hal off', () => (presentedBy(gina, hal) === undefined ? true : undefined), 30_000);
  } finally {
    await s.close();
  }
});

test('the long poll names a member by key and serial: malformed ones get a clear error; a current serial waits, an old one is answered at once with the new certificate', async () => {
  const pollServer = await startTestServer(join(temp.path, 'poll-params-server'));
  try {
    const group = await createGroupThroughWeb(pollServer, 'Poll params', 'polladmin');
    await group.admin.post(`/groups/${group.groupId}/settings`, { autoApprove: 'on' });
    const stateDir = join(temp.path, 'ivy');
    const joined = await joinGroup({ invitation: group.invitation, name: 'Ivy', email: 'ivy@example.org', stateDir });
    const base = `${pollServer.url}${API_PREFIX}/groups/${group.groupId}/crl`;
    for (const query of ['?after=0&wait=1&key=short&serial=1', '?after=0&wait=1&key=' + 'A'.repeat(43), '?after=0&wait=1&serial=3', `?after=0&wait=1&key=${toBase64Url(joined.certificate.publicKey)}&serial=x`]) {
      const res = await rawRequest(base + query);
      assert.equal(res.status, 400, query);
      assert.match((JSON.parse(res.text) as { error: string }).error, /key|serial/);
    }
    const key = toBase64Url(joined.certificate.publicKey);
    const current = JSON.parse((await rawRequest(`${base}?after=${Number.MAX_SAFE_INTEGER}&wait=0&key=${key}&serial=${joined.certificate.serial}`)).text) as { certificate?: string };
    assert.equal(current.certificate, undefined, 'nothing new for the serial held');
    await group.admin.post(`/groups/${group.groupId}/members/${await memberId(group, 'Ivy')}/gateway-on`, {});
    const stale = JSON.parse((await rawRequest(`${base}?after=${Number.MAX_SAFE_INTEGER}&wait=20&key=${key}&serial=${joined.certificate.serial}`)).text) as { certificate?: string };
    const fresh = decodeCertificate(fromBase64Url(stale.certificate as string, 2048) as Uint8Array);
    assert.ok(fresh.ok && hasRole(fresh.value, 'gateway'), 'answered at once with the gateway certificate');
  } finally {
    await pollServer.close();
  }
});
