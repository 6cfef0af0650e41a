import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cryptoReady } from '../../src/overlay/crypto.js';
import { identityFromSeed } from '../../src/overlay/identity.js';
import { type Random, createSeededRandom } from '../../src/overlay/random.js';
import type { DecodeErrorCode } from '../../src/groups/binary.js';
import { type Role, decodeCertificate, encodeCertificateBody } from '../../src/groups/certificate.js';
import { issueCertificate, issueCrl, issueRevocationRecord } from '../../src/groups/group-ca.js';
import { hasForbiddenCharacters } from '../../src/groups/member-name.js';
import { decodeCrl, decodeRevocationRecord } from '../../src/groups/revocation.js';
import { T0, makeTestCa } from './fixtures.js';

before(async () => {
  await cryptoReady();
});

const INPUTS = 100_000;
const CODES = new Set<DecodeErrorCode>(['truncated', 'trailing-bytes', 'bad-version', 'wrong-kind', 'too-large', 'non-canonical', 'bad-value']);

function corpus(): Uint8Array[] {
  const t = makeTestCa('fuzz corpus');
  const out: Uint8Array[] = [];
  out.push(t.member('a').cert.bytes, t.member('ßøb 🚀', { roles: ['gateway', 'admin'], virtualIp: '10.254.3.4' }).cert.bytes);
  const m = t.member('c');
  out.push(issueCrl(t.ca, { sequence: 1, issuedAt: T0, serials: [], publicKeys: [] }).bytes);
  out.push(issueCrl(t.ca, { sequence: 7, issuedAt: T0, serials: [1, 2, 9], publicKeys: [m.identity.publicKey, t.random.bytes(32)] }).bytes);
  out.push(issueRevocationRecord(t.ca, { target: { kind: 'serial', serial: 3 }, revokedAt: T0 }).bytes);
  out.push(issueRevocationRecord(t.ca, { target: { kind: 'key', publicKey: m.identity.publicKey }, revokedAt: T0 }).bytes);
  return out;
}

function mutate(random: Random, seeds: Uint8Array[]): Uint8Array {
  const kind = random.int(8);
  if (kind === 0) return random.bytes(random.int(400));
  if (kind === 1) {
    const b = random.bytes(2 + random.int(300));
    b[0] = 1;
    b[1] = 1 + random.int(3);
    return b;
  }
  let out = Uint8Array.from(seeds[random.int(seeds.length)] as Uint8Array);
  const changes = 1 + random.int(4);
  for (let i = 0; i < changes; i++) {
    const op = random.int(6);
    if (op <= 2 && out.length > 0) out[random.int(out.length)] = random.int(256);
    else if (op === 3) out = out.subarray(0, random.int(out.length + 1));
    else if (op === 4) out = Uint8Array.from([...out, ...random.bytes(1 + random.int(40))]);
    else if (out.length > 40) out[26 + random.int(14)] = random.int(256); // name length, list counts
  }
  return out;
}

test('certificate, CRL and revocation decoders take 100,000 random and mutated inputs without throwing', () => {
  const seeds = corpus();
  const random = createSeededRandom('group record fuzz');
  const accepted = { cert: 0, crl: 0, record: 0 };
  for (let i = 0; i < INPUTS; i++) {
    const input = mutate(random, seeds);
    const cert = decodeCertificate(input);
    const crl = decodeCrl(input);
    const rec = decodeRevocationRecord(input);
    for (const r of [cert, crl, rec]) {
      if (r.ok) assert.deepEqual(r.value.bytes, input);
      else assert.ok(CODES.has(r.error.code), `unexpected error code ${r.error.code}`);
    }
    if (cert.ok) {
      accepted.cert++;
      // Canonical: whatever decodes re-encodes to exactly the bytes that were signed.
      assert.deepEqual(encodeCertificateBody(cert.value), cert.value.signedBytes);
    }
    if (crl.ok) accepted.crl++;
    if (rec.ok) accepted.record++;
  }
  assert.ok(accepted.cert > 0 && accepted.crl > 0 && accepted.record > 0, JSON.stringify(accepted));
});

test('any valid certificate fields round-trip exactly (property)', () => {
  const t = makeTestCa('fuzz property');
  const roles = fc.subarray<Role>(['member', 'gateway', 'admin']);
  const name = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 20 })
    .map((s) => s.trim())
    .filter((s) => s.length > 0 && !hasForbiddenCharacters(s) && Buffer.byteLength(s) <= 64);
  fc.assert(
    fc.property(
      fc.record({
        serial: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        name,
        roles,
        ip: fc.option(fc.ipV4(), { nil: null }),
        notBefore: fc.integer({ min: 0, max: 2 ** 50 }),
        span: fc.integer({ min: 1, max: 2 ** 40 }),
        seed: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      }),
      (f) => {
        const member = identityFromSeed(f.seed);
        const cert = issueCertificate(t.ca, {
          serial: f.serial,
          name: f.name,
          publicKey: member.publicKey,
          address: member.address,
          virtualIp: f.ip,
          roles: f.roles,
          notBefore: f.notBefore,
          notAfter: f.notBefore + f.span,
        });
        const d = decodeCertificate(cert.bytes);
        assert.ok(d.ok);
        assert.equal(d.value.name, f.name);
        assert.equal(d.value.serial, f.serial);
        assert.equal(d.value.virtualIp, f.ip);
        assert.deepEqual(encodeCertificateBody(d.value), cert.signedBytes);
      },
    ),
    { numRuns: 300 },
  );
});
