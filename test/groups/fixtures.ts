import { addressFromPublicKey } from '../../src/overlay/address.js';
import { type Identity, identityFromSeed } from '../../src/overlay/identity.js';
import { type Random, createSeededRandom } from '../../src/overlay/random.js';
import type { Certificate, Role } from '../../src/groups/certificate.js';
import { type GroupCa, createGroupCa, issueCertificate } from '../../src/groups/group-ca.js';

export const T0 = Date.UTC(2030, 0, 1);
export const DAY = 86_400_000;

export interface TestCa {
  ca: GroupCa;
  random: Random;
  nextSerial: number;
  member(name: string, options?: { roles?: Role[]; notBefore?: number; notAfter?: number; virtualIp?: string | null }): TestMember;
}

export interface TestMember {
  identity: Identity;
  cert: Certificate;
}

/** A group CA with deterministic keys, and a factory for members holding its certificates. Call cryptoReady() first. */
export function makeTestCa(seed: string): TestCa {
  const random = createSeededRandom(seed);
  const ca = createGroupCa((n) => random.bytes(n));
  const testCa: TestCa = {
    ca,
    random,
    nextSerial: 1,
    member(name, options = {}) {
      const identity = identityFromSeed(random.bytes(32));
      const cert = issueCertificate(ca, {
        serial: testCa.nextSerial++,
        name,
        publicKey: identity.publicKey,
        address: addressFromPublicKey(identity.publicKey),
        virtualIp: options.virtualIp ?? null,
        roles: options.roles ?? ['member'],
        notBefore: options.notBefore ?? T0,
        notAfter: options.notAfter ?? T0 + 365 * DAY,
      });
      return { identity, cert };
    },
  };
  return testCa;
}
