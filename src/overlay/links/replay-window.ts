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
 *
 * The window can be moved into memory shared with a native data path ({@link ReplayWindow.share},
 * offload.ts): both then check and commit the same bits (fastpath.c has the same algorithm).
 */
const WORD_BITS = 32;
/** 64 words of window plus the spare: 260 bytes per session (the simulator holds ~200,000). */
export const REPLAY_WINDOW_WORDS = 65;
const WORDS = REPLAY_WINDOW_WORDS;
export const REPLAY_WINDOW_SIZE = (WORDS - 1) * WORD_BITS; // 2048

export class ReplayWindow {
  private bitmap: Uint32Array<ArrayBufferLike> = new Uint32Array(WORDS);
  /** Highest counter committed; -1 before the first (while not shared). */
  private own = -1;
  /** While shared: the cell holding the highest counter. */
  private cell: Float64Array<ArrayBufferLike> | null = null;
  private cellIndex = 0;

  get highestSeen(): number {
    return this.cell === null ? this.own : (this.cell[this.cellIndex] as number);
  }

  private setHighest(value: number): void {
    if (this.cell === null) this.own = value;
    else this.cell[this.cellIndex] = value;
  }

  /** Moves the window into shared memory: `bitmap` (65 words) and `cell[index]` (the highest counter). */
  share(bitmap: Uint32Array<ArrayBufferLike>, cell: Float64Array<ArrayBufferLike>, index: number): void {
    if (bitmap.length < WORDS || index >= cell.length) throw new RangeError('shared replay window memory is too small');
    const highest = this.highestSeen;
    bitmap.set(this.bitmap.subarray(0, WORDS));
    cell[index] = highest;
    this.bitmap = bitmap;
    this.cell = cell;
    this.cellIndex = index;
  }

  /** Takes the window back from shared memory (the memory may then be reused). */
  unshare(): void {
    if (this.cell === null) return;
    this.own = this.cell[this.cellIndex] as number;
    this.bitmap = Uint32Array.from(this.bitmap.subarray(0, WORDS));
    this.cell = null;
  }

  /** True if `counter` may be new (not seen and not too old). Does not change the window. */
  check(counter: number): boolean {
    const highest = this.highestSeen;
    if (counter > highest) return true;
    if (counter + REPLAY_WINDOW_SIZE <= highest) return false;
    const word = Math.floor(counter / WORD_BITS) % WORDS;
    const bit = counter % WORD_BITS;
    return ((this.bitmap[word] as number) & (1 << bit)) === 0;
  }

  /** Records an authenticated counter; false if it was a replay or too old after all. */
  commit(counter: number): boolean {
    const highest = this.highestSeen;
    if (counter > highest) {
      const current = highest < 0 ? -1 : Math.floor(highest / WORD_BITS);
      const target = Math.floor(counter / WORD_BITS);
      const steps = Math.min(target - current, WORDS);
      for (let i = 1; i <= steps; i++) this.bitmap[(current + i) % WORDS] = 0;
      this.setHighest(counter);
    } else if (counter + REPLAY_WINDOW_SIZE <= highest) {
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
