import { type TapAddon, type TapHandle, type TapNativeStats, loadTapAddon } from './tap-addon.js';

/**
 * A TAP device (Ethernet frames, no packet information header) through the native addon.
 *
 * Reading is driven by the event loop: when the device becomes readable the addon reads frames until
 * the kernel has no more or `maxBatch` is reached, and calls the handler once with the whole batch.
 * The frames of one batch are views into one buffer that belongs to that batch (safe to keep).
 *
 * Errors from the addon carry a stable `code` (ERR_TAP_NO_TUN, ERR_TAP_PERMISSION, ERR_TAP_BUSY,
 * ERR_TAP_INVALID, ERR_TAP_NO_INTERFACE, ERR_TAP_CLOSED, ...) and a message that says what to do.
 *
 * setMtu, up, down and mac act on the device by name in this process's network namespace.
 */
export interface TapDeviceOptions {
  /** Frames per handler call at most. Default 64. */
  readonly maxBatch?: number;
  /** The largest frame expected (MTU + 14, + 4 with VLAN tags). Default 65553. */
  readonly maxFrameBytes?: number;
}

export type FrameBatchHandler = (frames: Uint8Array[]) => void;
export type TapErrorHandler = (error: Error) => void;

const DEFAULT_MAX_BATCH = 64;
const DEFAULT_MAX_FRAME_BYTES = 65_535 + 18;

export class TapDevice {
  private readonly addon: TapAddon;
  private readonly handle: TapHandle;
  private closed = false;

  private constructor(addon: TapAddon, handle: TapHandle) {
    this.addon = addon;
    this.handle = handle;
  }

  /**
   * Creates the TAP device `name`, or attaches to it if it exists (a persistent device owned by this
   * user can be attached without root). A name with "%d" lets the kernel pick the number.
   */
  static open(name: string, addon: TapAddon = loadTapAddon()): TapDevice {
    return new TapDevice(addon, addon.open(name));
  }

  /** Privileged (root / CAP_NET_ADMIN): creates a device that outlives this process, owned by uid/gid (-1: no owner). */
  static createPersistent(name: string, uid: number, gid: number, addon: TapAddon = loadTapAddon()): string {
    return addon.createPersistent(name, uid, gid);
  }

  /** Privileged: removes a persistent device once no process has it open. */
  static deletePersistent(name: string, addon: TapAddon = loadTapAddon()): void {
    addon.deletePersistent(name);
  }

  /** The addon and its handle of this device (for the native data path). */
  get native(): { addon: TapAddon; handle: TapHandle } {
    return { addon: this.addon, handle: this.handle };
  }

  /** The interface name the kernel gave the device. */
  get name(): string {
    return this.handle.name;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Starts delivering frames in batches; replaces an earlier handler. An exception thrown by the
   * handler goes to `onError` (reading goes on); without onError it is rethrown as an uncaught exception.
   * A read error stops reading and is passed to `onError`.
   */
  onFrames(handler: FrameBatchHandler, onError?: TapErrorHandler, options: TapDeviceOptions = {}): void {
    this.assertOpen();
    this.addon.stopReading(this.handle);
    this.addon.startReading(
      this.handle,
      (error, data, lengths) => {
        if (error !== null) {
          if (onError) onError(error);
          else throw error;
          return;
        }
        if (data === undefined || lengths === undefined) return;
        const frames = new Array<Uint8Array>(lengths.length);
        let offset = 0;
        for (let i = 0; i < lengths.length; i++) {
          const length = lengths[i] as number;
          frames[i] = new Uint8Array(data.buffer, data.byteOffset + offset, length);
          offset += length;
        }
        if (onError === undefined) {
          handler(frames);
          return;
        }
        try {
          handler(frames);
        } catch (e) {
          onError(e instanceof Error ? e : new Error(String(e)));
        }
      },
      options.maxBatch ?? DEFAULT_MAX_BATCH,
      options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    );
  }

  /** Stops delivering frames (they queue in the kernel, which drops them when its queue is full). */
  stopReading(): void {
    if (!this.closed) this.addon.stopReading(this.handle);
  }

  /** Whether a reading device keeps the process alive (default true, like a socket). */
  setRef(ref: boolean): void {
    if (!this.closed) this.addon.setRef(this.handle, ref);
  }

  /** Writes one frame; false if the kernel dropped it (e.g. the device is down). */
  write(frame: Uint8Array): boolean {
    this.assertOpen();
    return this.addon.write(this.handle, frame);
  }

  /** Writes frames in order; returns how many the kernel took. */
  writeBatch(frames: readonly Uint8Array[]): number {
    this.assertOpen();
    return this.addon.writeBatch(this.handle, frames);
  }

  /** Needs root (CAP_NET_ADMIN). */
  setMtu(mtu: number): void {
    this.addon.setMtu(this.name, mtu);
  }

  mtu(): number {
    return this.addon.getMtu(this.name);
  }

  /** Brings the link up (needs root / CAP_NET_ADMIN). */
  up(): void {
    this.addon.setUp(this.name, true);
  }

  down(): void {
    this.addon.setUp(this.name, false);
  }

  /** The MAC of the device's kernel side (the host's interface). */
  mac(): Uint8Array {
    return Uint8Array.from(this.addon.getMac(this.name));
  }

  stats(): TapNativeStats {
    return this.addon.stats(this.handle);
  }

  /** Stops reading and closes the descriptor; a non-persistent device disappears. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.handle);
  }

  private assertOpen(): void {
    if (this.closed) {
      throw Object.assign(new Error(`The TAP device ${this.name} is closed.`), { code: 'ERR_TAP_CLOSED' });
    }
  }
}
