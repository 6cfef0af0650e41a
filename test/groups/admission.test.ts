import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { type Identity, identityFromSeed } from '../../src/overlay/identity.js';
import { createSeededRandom } from '../../src/overlay/random.js';
import { addressFromPublicKey } from '../../src/overlay/address.js';
import { createGroupAdmission } from '../../src/groups/admission.js';
import { issueCertificate, issueRevocationRecord } from '../../src/groups/group-ca.js';
import { RevocationSet } from '../../src/groups/revocation.js';
import { type LinkNode, TestNet, VirtualClock, makeLinkNode } from '../helpers/link-test-net.js';
import { DAY, makeTestCa } from './fixtures.js';

before(async () => {
  await cryptoReady();
});

/** The identity makeLinkNode derives for a node name (so the CA can certify it before the node exists). */
function linkNodeIdentity(name: string): Identity {
  return identityFromSeed(createSeededRandom(`identity:${name}`).bytes(32));
}

test('the private ring admits certificate holders of the group and refuses the rest', () => {
  const clock = new VirtualClock();
  const now = clock.now();
  const net = new TestNet(clock);
  const group = makeTestCa('admission group');
  const otherGroup = makeTestCa('admission other');
  const revocations = new RevocationSet(group.ca);
  let serial = 1;
  const certFor = (name: string, ca = group.ca, validity = { notBefore: now - DAY, notAfter: now + DAY }): Uint8Array => {
    const id = linkNodeIdentity(name);
    return issueCertificate(ca, {
      serial: serial++,
      name,
      publicKey: id.publicKey,
      address: addressFromPublicKey(id.publicKey),
      virtualIp: null,
      roles: ['member'],
      ...validity,
    }).bytes;
  };
  const node = (name: string, endpoint: string, cert: Uint8Array, anchor = group.ca): LinkNode =>
    makeLinkNode(net, {
      name,
      endpoint,
      admission: createGroupAdmission({ anchor, ownCertificate: cert, revocations }),
    });

  const a = node('a', '10.0.0.1:4000', certFor('a'));
  const b = node('b', '10.0.0.2:4000', certFor('b'));
  const c = node('c', '10.0.0.3:4000', certFor('c'));
  const stranger = node('stranger', '10.0.0.4:4000', certFor('stranger', otherGroup.ca), otherGroup.ca);
  const expired = node('expired', '10.0.0.5:4000', certFor('expired', group.ca, { notBefore: now - 3 * DAY, notAfter: now - DAY }));
  // Forged: right group id, but signed by a key that is not the group's CA.
  const forgedCa = { ...otherGroup.ca, groupId: group.ca.groupId };
  const forger = node('forger', '10.0.0.6:4000', certFor('forger', forgedCa));
  // Stolen: presents b's certificate with its own key.
  const thief = node('thief', '10.0.0.7:4000', certFor('b'));

  a.layer.connect(b.endpoint, b.address);
  c.layer.connect(a.endpoint, a.address);
  clock.advance(100);
  assert.ok(a.layer.get(b.address) && b.layer.get(a.address), 'a and b linked');
  assert.ok(a.layer.get(c.address), 'c linked to a');

  for (const outsider of [stranger, expired, forger, thief]) {
    outsider.layer.connect(a.endpoint, a.address);
  }
  clock.advance(10_000);
  for (const outsider of [stranger, expired, forger, thief]) {
    assert.equal(a.layer.get(outsider.address), undefined, `${outsider.name} must not link`);
  }
  assert.ok(a.layer.stats.handshakesRefused >= 4);

  // c is revoked by a signed record; it cannot link again with anyone who learned of it.
  assert.ok(revocations.applyRecord(issueRevocationRecord(group.ca, { target: { kind: 'key', publicKey: c.identity.publicKey }, revokedAt: now })));
  a.layer.close(c.address, 'revoked');
  clock.advance(100);
  c.layer.connect(b.endpoint, b.address);
  clock.advance(10_000);
  assert.equal(b.layer.get(c.address), undefined, 'revoked member cannot link');
});
