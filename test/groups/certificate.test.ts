import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addressFromPublicKey } from '../../src/overlay/address.js';
import { MAX_CREDENTIAL_BYTES } from '../../src/overlay/admission.js';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { identityFromSeed } from '../../src/overlay/identity.js';
import {
  MAX_CERTIFICATE_BYTES,
  checkCertificateBytes,
  decodeCertificate,
  encodeCertificateBody,
  verifyCertificate,
} from '../../src/groups/certificate.js';
import { issueCertificate, issueCrl, issueRevocationRecord } from '../../src/groups/group-ca.js';
import { RevocationSet, decodeCrl, decodeRevocationRecord, verifyCrl } from '../../src/groups/revocation.js';
import { DAY, T0, makeTestCa } from './fixtures.js';

before(async () => {
  await cryptoReady();
});

describe('member certificates', () => {
  test('encode deterministically and decode back to the same fields', () => {
    const t = makeTestCa('roundtrip');
    const { cert } = t.member('Alice Ø 🚀', { roles: ['gateway', 'member', 'admin'], virtualIp: '10.254.0.7' });
    const again = issueCertificate(t.ca, { ...cert });
    assert.deepEqual(again.bytes, cert.bytes);
    const decoded = decodeCertificate(cert.bytes);
    assert.ok(decoded.ok);
    assert.equal(decoded.value.name, 'Alice Ø 🚀');
    assert.deepEqual(decoded.value.roles, ['member', 'gateway', 'admin']);
    assert.equal(decoded.value.virtualIp, '10.254.0.7');
    assert.equal(decoded.value.address, cert.address);
    assert.deepEqual(decoded.value.signedBytes, encodeCertificateBody(decoded.value));
    assert.ok(cert.bytes.length <= MAX_CERTIFICATE_BYTES && MAX_CERTIFICATE_BYTES <= MAX_CREDENTIAL_BYTES);
  });

  test('verify at an explicit time: inside validity, before it, after it', () => {
    const t = makeTestCa('validity');
    const { cert } = t.member('bob', { notBefore: T0, notAfter: T0 + DAY });
    assert.ok(verifyCertificate(cert, t.ca, T0).ok);
    assert.ok(verifyCertificate(cert, t.ca, T0 + DAY - 1).ok);
    const early = verifyCertificate(cert, t.ca, T0 - 1);
    assert.ok(!early.ok && early.error.code === 'not-yet-valid');
    const late = verifyCertificate(cert, t.ca, T0 + DAY);
    assert.ok(!late.ok && late.error.code === 'expired');
  });

  test('refuse another group, another CA, a tampered byte, and an address that is not the key hash', () => {
    const t = makeTestCa('trust');
    const other = makeTestCa('other group');
    const { cert } = t.member('carol');
    const wrongGroup = verifyCertificate(cert, other.ca, T0 + 1);
    assert.ok(!wrongGroup.ok && wrongGroup.error.code === 'wrong-group');
    const forged = verifyCertificate(cert, { groupId: t.ca.groupId, caPublicKey: other.ca.caPublicKey }, T0 + 1);
    assert.ok(!forged.ok && forged.error.code === 'bad-signature');

    const tampered = Uint8Array.from(cert.bytes);
    const nameAt = 2 + 16 + 8 + 1;
    tampered[nameAt] = 'k'.charCodeAt(0);
    const t2 = checkCertificateBytes(tampered, t.ca, T0 + 1);
    assert.ok(!t2.ok && t2.error.code === 'bad-signature');

    const victim = identityFromSeed(t.random.bytes(32));
    const liar = issueCertificate(t.ca, { ...cert, serial: 99, publicKey: victim.publicKey });
    const mismatch = verifyCertificate(liar, t.ca, T0 + 1);
    assert.ok(!mismatch.ok && mismatch.error.code === 'address-mismatch');
  });

  test('decoder refuses trailing bytes, cuts, unknown versions, kinds, roles, flags and non-canonical names', () => {
    const t = makeTestCa('decoder');
    const { cert } = t.member('dave');
    const expectCode = (bytes: Uint8Array, code: string): void => {
      const r = decodeCertificate(bytes);
      assert.ok(!r.ok, `expected ${code}`);
      assert.equal(r.error.code, code);
    };
    expectCode(new Uint8Array([...cert.bytes, 0]), 'trailing-bytes');
    expectCode(cert.bytes.subarray(0, cert.bytes.length - 1), 'truncated');
    expectCode(new Uint8Array(0), 'truncated');
    const mutate = (at: number, value: number): Uint8Array => {
      const b = Uint8Array.from(cert.bytes);
      b[at] = value;
      return b;
    };
    expectCode(mutate(0, 2), 'bad-version');
    expectCode(mutate(1, 2), 'wrong-kind');
    const nameLen = cert.bytes[26] as number;
    const flagsAt = 27 + nameLen + 32 + 20;
    expectCode(mutate(flagsAt, 2), 'bad-value');
    expectCode(mutate(flagsAt + 1, 2), 'bad-value'); // roles without 'member'
    expectCode(mutate(flagsAt + 1, 9), 'bad-value');
    expectCode(mutate(18, 0xff), 'bad-value'); // serial beyond 2^53
    // "d" as an overlong two-byte sequence: 0xC1 0xA4 is invalid UTF-8.
    const overlong = new Uint8Array([...cert.bytes.subarray(0, 26), nameLen + 1, 0xc1, 0xa4, ...cert.bytes.subarray(28)]);
    expectCode(overlong, 'bad-value');
    expectCode(mutate(27, 0x0a), 'bad-value'); // control character in the name
  });
});

describe('revocation', () => {
  test('a CRL revokes by serial and by member key, round-trips, and is refused when forged', () => {
    const t = makeTestCa('crl');
    const a = t.member('a');
    const b = t.member('b');
    const c = t.member('c');
    const crl = issueCrl(t.ca, { sequence: 3, issuedAt: T0, serials: [a.cert.serial], publicKeys: [b.identity.publicKey] });
    const decoded = decodeCrl(crl.bytes);
    assert.ok(decoded.ok);
    assert.ok(verifyCrl(decoded.value, t.ca));
    const set = new RevocationSet(t.ca);
    assert.ok(set.applyCrl(decoded.value));
    assert.ok(!verifyCertificate(a.cert, t.ca, T0 + 1, set).ok);
    const bRes = verifyCertificate(b.cert, t.ca, T0 + 1, set);
    assert.ok(!bRes.ok && bRes.error.code === 'revoked');
    assert.ok(verifyCertificate(c.cert, t.ca, T0 + 1, set).ok);
    // A re-issued certificate for b's key (new serial) is still refused: revocation is by member.
    const reissued = issueCertificate(t.ca, { ...b.cert, serial: 500 });
    assert.ok(!verifyCertificate(reissued, t.ca, T0 + 1, set).ok);

    const other = makeTestCa('crl other');
    const forged = issueCrl(other.ca, { sequence: 9, issuedAt: T0, serials: [c.cert.serial], publicKeys: [] });
    assert.ok(!new RevocationSet(t.ca).applyCrl(forged));
    const older = issueCrl(t.ca, { sequence: 2, issuedAt: T0, serials: [], publicKeys: [] });
    assert.ok(!set.applyCrl(older), 'an older CRL is not applied over a newer one');
  });

  test('CRL decoder refuses unsorted or duplicate entries and counts larger than the bytes', () => {
    const t = makeTestCa('crl decoder');
    const crl = issueCrl(t.ca, { sequence: 1, issuedAt: T0, serials: [5, 7], publicKeys: [] });
    const swapped = Uint8Array.from(crl.bytes);
    const first = 2 + 16 + 8 + 8 + 2;
    swapped.set(crl.bytes.subarray(first + 8, first + 16), first);
    swapped.set(crl.bytes.subarray(first, first + 8), first + 8);
    const r = decodeCrl(swapped);
    assert.ok(!r.ok && r.error.code === 'non-canonical');
    const hugeCount = Uint8Array.from(crl.bytes);
    hugeCount[first - 2] = 0x30;
    const r2 = decodeCrl(hugeCount);
    assert.ok(!r2.ok && (r2.error.code === 'truncated' || r2.error.code === 'too-large'));
    const trailing = decodeCrl(new Uint8Array([...crl.bytes, 1]));
    assert.ok(!trailing.ok && trailing.error.code === 'trailing-bytes');
  });

  test('single signed revocation records round-trip and feed a revocation set', () => {
    const t = makeTestCa('records');
    const a = t.member('a');
    const bySerial = issueRevocationRecord(t.ca, { target: { kind: 'serial', serial: a.cert.serial }, revokedAt: T0 });
    const byKey = issueRevocationRecord(t.ca, { target: { kind: 'key', publicKey: a.identity.publicKey }, revokedAt: T0 });
    for (const rec of [bySerial, byKey]) {
      const d = decodeRevocationRecord(rec.bytes);
      assert.ok(d.ok);
      assert.deepEqual(d.value.bytes, rec.bytes);
      const set = new RevocationSet(t.ca);
      assert.ok(set.applyRecord(d.value));
      assert.ok(set.isRevoked(a.cert.serial, a.identity.publicKey));
    }
    const other = makeTestCa('records other');
    const forged = issueRevocationRecord(other.ca, { target: { kind: 'serial', serial: 1 }, revokedAt: T0 });
    assert.ok(!new RevocationSet(t.ca).applyRecord(forged));
    assert.equal(addressFromPublicKey(a.identity.publicKey), a.cert.address);
  });
});
