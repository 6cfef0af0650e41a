import { randomBytes, randomInt } from 'node:crypto';
import type { Random } from '../random.js';

/** crypto.randomInt accepts ranges below 2^48. */
const RANDOM_INT_LIMIT = 2 ** 48;

/** The Random interface over the operating system's CSPRNG (node:crypto), for real runs. */
export function createCryptoRandom(): Random {
  const float = (): number => {
    // 53 random bits: every double in [0, 1) with a 2^-53 step.
    const b = randomBytes(7);
    let v = 0;
    for (const byte of b) v = v * 256 + byte;
    return Math.floor(v / 8) / 2 ** 53;
  };
  return {
    float,
    int(maxExclusive) {
      if (!(maxExclusive >= 1)) return 0;
      const max = Math.floor(maxExclusive);
      return max < RANDOM_INT_LIMIT ? randomInt(max) : Math.floor(float() * max);
    },
    bytes: (n) => new Uint8Array(randomBytes(n)),
  };
}
