/**
 * Anti-replay window over DATA counters, RFC 6479 style: a ring of 32-bit words, one bit per
 * counter, with one spare word so that sliding the window clears whole words at a time and never
 * a bit at a time.
 *
 * Accepts each counter at most once, and any counter within {@link REPLAY_WINDOW_SIZE} of the
 * highest one seen, so that reordering by up to 2048 packets (a burst on a busy link crossing a
 * slower path) is not mistaken for a replay.
 *
 * Usage: {@link ReplayWindow.check} before authenticating (cheap rejection), then
 * {@link ReplayWindow.commit} only once the packet is authenticated, so that forged packets
 * cannot move the window.
 */
const WORD_BITS = 32;
/** 64 words of window plus the spare: 260 bytes per session (the simulator holds ~200,000). */
const WORDS = 65;
export const REPLAY_WINDOW_SIZE = (WORDS - 1) * WORD_BITS; // 2048

export class ReplayWindow {
  private readonly bitmap = new Uint32Array(WORDS);
  /** Highest counter committed; -1 before the first. */
  private highest = -1;

  get highestSeen(): number {
    return this.highest;
  }

  /** True if `counter` may be new (not seen and not too old). Does not change the window. */
  check(counter: number): boolean {
    if (counter > this.highest) return true;
    if (counter + REPLAY_WINDOW_SIZE <= this.highest) return false;
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    const bit = counter % WORD_BITS;
    return ((this.bitmap[word] as number) & (1 << bit)) === 0;
  }

  /** Records an authenticated counter; false if it was a replay or too old after all. */
  commit(counter: number): boolean {
    if (counter > this.highest) {
      const current = this.highest < 0 ? -1 : Math.floor(this.highest / WORD_BITS);
      const target = Math.floor(counter / WORD_BITS);
      const steps = Math.min(target - current, WORDS);
      for (let i = 1; i <= steps; i++) this.bitmap[(current + i) % WORDS] = 0;
      this.highest = counter;
    } else if (counter + REPLAY_WINDOW_SIZE <= this.highest) {
      return false;
    }
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    const mask = 1 << (counter % WORD_BITS);
    const value = this.bitmap[word] as number;
    if ((value & mask) !== 0) return false;
    this.bitmap[word] = value | mask;
    return true;
  }
}
