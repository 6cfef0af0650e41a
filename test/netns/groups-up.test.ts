import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type LabHost, type LabNode, labUnavailableReason } from './lab/lab.js';
import type { LabProcess } from './lab/lab-process.js';
import type { ExecResult } from './lab/sh.js';
import type { NodeStatus } from '../../src/node-host/status-snapshot.js';
import { addressFromPublicKey } from '../../src/overlay/address.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { toBase64Url } from '../../src/groups/binary.js';
import { groupCaFromSeed, issueCertificate } from '../../src/groups/group-ca.js';
import { GroupStateDir, loadOrCreateNodeIdentity } from '../../src/groups/group-state.js';
import { PING, VPN_TAP, type VpnMember, received, startMember } from './lab/vpn-lab.js';

/**
 * `ringvpn up` on a group's private ring: two people join through a real group server and are
 * approved, then run `ringvpn up` with their state dirs and reach each other by virtual IP over
 * TAP devices; two more computers run `ringvpn up` with the members as bootstrap, one with no
 * certificate at all, one with a certificate for the group's id from a CA it made itself, and get
 * nowhere: no link, no ring, no reply from the members' virtual IPs.
 */
const unavailable = labUnavailableReason() ?? (existsSync('/dev/net/tun') ? null : '/dev/net/tun is missing');
const REPO = join(import.meta.dirname, '../..');
const RINGVPN_BIN = join(REPO, 'bin/ringvpn.js');
const ADMIN = join(import.meta.dirname, 'groups-admin.ts');
const SERVER_PORT = 8443;
const OUTSIDER_PORT = 4100;
/** How long the outsider is watched for a link it must not get. */
const OUTSIDER_WATCH_MS = 8_000;

describe('ringvpn up on a group\'s private ring, in the network-namespace lab', { skip: unavailable ?? false, timeout: 120_000 }, () => {
  let lab: Lab;
  let serverHost: LabHost;
  let server: LabProcess;
  const hosts: LabHost[] = [];
  let noCertHost: LabHost;
  let forgerHost: LabHost;
  let groupId = '';
  let invitationLink = '';
  const members: VpnMember[] = [];

  before(async () => {
    lab = await Lab.create();
    serverHost = await lab.addPublicHost('srv');
    for (const name of ['m1', 'm2']) hosts.push(await lab.addPublicHost(name));
    noCertHost = await lab.addPublicHost('nocert');
    forgerHost = await lab.addPublicHost('forger');
  });

  after(async () => {
    await lab?.destroy();
  });

  async function admin(args: string[]): Promise<Record<string, unknown>> {
    const r = await lab.exec(serverHost.ns, process.execPath, ['--import', 'tsx', ADMIN, args[0] as string, `https://127.0.0.1:${SERVER_PORT}`, ...args.slice(1)], 60_000);
    assert.equal(r.code, 0, `admin ${args[0]}: ${r.stderr}\n${server.tail()}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
  }

  async function waitForOutput(p: LabProcess, pattern: RegExp, what: string, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (p.output.some((l) => pattern.test(l))) return;
      if (!p.running) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`lab: ${p.name} did not ${what}:\n${p.tail()}`);
  }

  const linkedWith = (s: NodeStatus, address: string): boolean =>
    s.peers.some((p) => p.address === address) || s.connections.some((c) => c.address === address);

  const pingOnce = (from: LabHost, vip: string): Promise<ExecResult> =>
    lab.exec(from.ns, PING, ['-n', '-c', '2', '-W', '2', vip], 15_000);

  test('two approved members run ringvpn up on the group\'s ring and ping each other by virtual IP', async () => {
    server = lab.spawn('server', serverHost.ns, process.execPath, [
      RINGVPN_BIN, 'group-server', '--data', join(lab.dir, 'server-data'), '--port', String(SERVER_PORT), '--host', '0.0.0.0',
      '--public-url', `https://${serverHost.ip}:${SERVER_PORT}`,
    ]);
    await waitForOutput(server, /listening at https:/, 'start');
    const created = await admin(['create', 'Up group']);
    groupId = created.groupId as string;
    invitationLink = created.invitationLink as string;
    const joins = hosts.map((h) =>
      lab.spawn(`join-${h.name}`, h.ns, process.execPath, [RINGVPN_BIN, 'join', invitationLink, '--name', h.name, '--email', `${h.name}@example.org`, '--state-dir', join(lab.dir, h.name)]),
    );
    for (const j of joins) await waitForOutput(j, /Waiting for an admin/, 'wait for approval');
    assert.deepEqual(await admin(['approve-all', groupId]), { approved: 2 });
    for (const j of joins) {
      await j.waitForExit();
      assert.equal(j.exit?.code, 0, j.tail());
    }

    const first = await startMember(lab, 'm1', hosts[0] as LabHost, { network: groupId });
    members.push(first);
    members.push(await startMember(lab, 'm2', hosts[1] as LabHost, { network: groupId, bootstraps: [first.endpoint] }));
    const [m1, m2] = members as [VpnMember, VpnMember];
    assert.notEqual(m1.vip, m2.vip);
    for (const m of members) {
      const s = await lab.waitForStatus(m, (st) => members.every((o) => o === m || linkedWith(st, o.address)), 'link with the other member', 20_000);
      assert.equal(s.network, groupId, `${m.name} runs on the group's ring`);
      assert.ok(m.process.output.some((l) => /running on the private ring of the group .*name="Up group"/.test(l)), m.process.tail());
    }
    // The first packets may wait for a session to be set up: a few bounded rounds.
    for (const [a, b] of [[m1, m2], [m2, m1]] as const) {
      let replies = 0;
      for (let round = 0; round < 5 && replies === 0; round++) replies = received(await pingOnce(a.host, b.vip));
      assert.ok(replies > 0, `${a.name} gets no reply from ${b.name} (${b.vip}):\n${lab.logs()}`);
    }
  });

  async function forgedStateDir(stateDir: string, invitationLink: string): Promise<void> {
    // What a forger could put together: the group's id and name, a certificate for its own key,
    // signed by a CA key of its own making (the real one never leaves the group server).
    await cryptoReady();
    const identity = loadOrCreateNodeIdentity(stateDir);
    const ca = groupCaFromSeed(new Uint8Array(Buffer.from(groupId, 'hex')), new Uint8Array(randomBytes(32)));
    const now = Date.now();
    const cert = issueCertificate(ca, {
      serial: 900_001,
      name: 'forger',
      publicKey: identity.publicKey,
      address: addressFromPublicKey(identity.publicKey),
      virtualIp: null,
      roles: ['member'],
      notBefore: now - 3600_000,
      notAfter: now + 3600_000,
    });
    const state = new GroupStateDir(stateDir, groupId);
    state.ensure();
    state.saveInvitation(invitationLink);
    state.saveGroup({ groupId, name: 'Up group', caPublicKey: toBase64Url(ca.caPublicKey) });
    state.saveCertificate(cert.bytes);
  }

  test('computers without the group\'s certificate (none, or one from a forged CA) run ringvpn up with the members as bootstrap: no link, no ring, no reply', async () => {
    assert.equal(members.length, 2, 'needs the members of the previous test');
    const [m1, m2] = members as [VpnMember, VpnMember];
    const refusedBy = async (): Promise<number> => (await lab.status(m1)).stats.link.handshakesRefused + (await lab.status(m2)).stats.link.handshakesRefused;
    const refusedBefore = await refusedBy();
    await forgedStateDir(join(lab.dir, 'forger'), invitationLink);
    const outsiders: LabNode[] = [];
    for (const [name, host] of [['nocert', noCertHost], ['forger', forgerHost]] as const) {
      const stateDir = join(lab.dir, name);
      const proc = lab.spawn(name, host.ns, process.execPath, [
        RINGVPN_BIN, 'up', '--state-dir', stateDir, '--port', String(OUTSIDER_PORT), '--network', groupId, '--tap', VPN_TAP,
        '--bootstrap', `${m1.endpoint},${m2.endpoint}`, '--log-level', 'info',
      ]);
      outsiders.push({ name, host, port: OUTSIDER_PORT, stateDir, endpoint: `${host.ip}:${OUTSIDER_PORT}`, process: proc, address: '' });
    }
    for (const o of outsiders) o.address = (await lab.waitForStatus(o, () => true, 'answer on its control socket', 20_000)).address;
    const forger = outsiders[1] as LabNode;
    assert.ok(forger.process.output.some((l) => /running on the private ring of the group/.test(l)), `the forger runs on the group's ring id:\n${forger.process.tail()}`);

    const memberAddresses = members.map((m) => m.address);
    const watchUntil = Date.now() + OUTSIDER_WATCH_MS;
    const last = new Map<string, NodeStatus>();
    while (Date.now() < watchUntil) {
      for (const o of outsiders) {
        const s = await lab.status(o);
        last.set(o.name, s);
        assert.ok(!memberAddresses.some((a) => linkedWith(s, a)), `${o.name} linked with a member: ${JSON.stringify(s.peers)} ${JSON.stringify(s.connections)}`);
        assert.equal(s.joined, false, `${o.name} joined the ring`);
        for (const m of members) assert.ok(!linkedWith(await lab.status(m), o.address), `${m.name} linked with ${o.name}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const o of outsiders) {
      assert.ok(o.process.running, `${o.name}'s ringvpn up keeps running (it only gets no answer):\n${o.process.tail()}`);
      for (const m of members) {
        const r = await pingOnce(o.host, m.vip);
        assert.equal(received(r), 0, `${o.name} got a reply from ${m.name} (${m.vip}): ${r.stdout}`);
      }
    }
    const refused = (await refusedBy()) - refusedBefore;
    const seen = [...last].map(([name, s]) => `${name}: ${s.peers.length} peers, joined ${String(s.joined)}`).join('; ');
    process.stderr.write(`groups up lab: ${seen}; the members refused ${refused} handshake(s)\n`);
    assert.ok(refused > 0, 'the members refused the outsiders\' handshakes');
    assert.ok(received(await pingOnce(m1.host, m2.vip)) > 0, 'm1 still reaches m2');
  });
});

if (unavailable !== null) process.stderr.write(`groups up lab tests skipped: ${unavailable}\n`);
