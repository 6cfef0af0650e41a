import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The native TAP binding (native-helpers/tap), as the C code exports it. */
export interface TapHandle {
  readonly name: string;
}

export interface TapNativeStats {
  framesRead: number;
  batchesRead: number;
  readErrors: number;
  framesWritten: number;
  writeDrops: number;
  lastWriteError: string | null;
}

export interface TapAddon {
  open(name: string): TapHandle;
  startReading(
    handle: TapHandle,
    callback: (error: Error | null, data?: Buffer, lengths?: Uint32Array) => void,
    maxBatch: number,
    maxFrameBytes: number,
  ): void;
  stopReading(handle: TapHandle): void;
  setRef(handle: TapHandle, ref: boolean): void;
  write(handle: TapHandle, frame: Uint8Array): boolean;
  writeBatch(handle: TapHandle, frames: readonly Uint8Array[]): number;
  stats(handle: TapHandle): TapNativeStats;
  close(handle: TapHandle): void;
  createPersistent(name: string, uid: number, gid: number): string;
  deletePersistent(name: string): void;
  setMtu(name: string, mtu: number): void;
  getMtu(name: string): number;
  setUp(name: string, up: boolean): void;
  getMac(name: string): Buffer;
  /** The native data path (fastpath.c, native-data-path.ts); absent from an addon built before it. */
  fpStart?(tap: TapHandle, udpFd: number, callback: (data: Buffer, lengths: Uint32Array, addresses: Uint32Array) => void): void;
  fpStop?(): void;
  fpConfigure?(vip: number, gatewayMac: Uint8Array, hostMac: Uint8Array, mtu: number): void;
  fpPause?(paused: boolean): void;
  fpSetSlot?(
    slot: number,
    localIndex: number,
    remoteIndex: number,
    ip: number,
    port: number,
    peerVip: number,
    sendKey: Uint8Array,
    sendEpoch: number,
    receiveKey: Uint8Array,
    receiveEpoch: number,
    shared: Uint8Array,
  ): void;
  fpClearSlot?(slot: number): void;
  fpStats?(): FastPathStats | null;
  /** The native AEAD on DATA packets alone (tests): a packet as Session.seal builds it, or the plaintext (null: refused). */
  sealData?(key: Uint8Array, receiverIndex: number, epoch: number, counter: number, plaintext: Uint8Array): Buffer;
  openData?(key: Uint8Array, packet: Uint8Array): Buffer | null;
  /** Tests: the frames one TAP read (virtio_net_hdr + frame) becomes: TSO frames cut into segments, checksums completed. */
  splitRead?(read: Uint8Array): Buffer[];
}

export interface FastPathStats {
  outFast: number;
  outToJs: number;
  inFast: number;
  inToJs: number;
  sendErrors: number;
  sendBatches: number;
  recvBatches: number;
  tapWriteDrops: number;
  authFailed: number;
}

export class TapAddonMissingError extends Error {
  readonly code = 'ERR_TAP_ADDON_MISSING';
  override readonly name = 'TapAddonMissingError';
}

/** Where the built addon is, from src/vpn (tsx) or dist/src/vpn (compiled). */
function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const out: string[] = [];
  let dir = here;
  for (let i = 0; i < 5; i++) {
    out.push(join(dir, 'native-helpers', 'tap', 'build', 'Release', 'tap.node'));
    dir = dirname(dir);
  }
  return out;
}

let cached: TapAddon | undefined;

/** Loads the addon once; throws TapAddonMissingError, in plain words, if it was not built. */
export function loadTapAddon(): TapAddon {
  if (cached !== undefined) return cached;
  if (process.platform !== 'linux') {
    throw new TapAddonMissingError(`TAP devices are supported on Linux only; this is ${process.platform}.`);
  }
  const path = addonCandidates().find((p) => existsSync(p));
  if (path === undefined) {
    throw new TapAddonMissingError(
      'The TAP addon is not built (native-helpers/tap/build/Release/tap.node is missing). ' +
        'Build it with "npm run build:native" (it needs make, a C compiler and python3), or run "npm ci" again.',
    );
  }
  try {
    cached = createRequire(import.meta.url)(path) as TapAddon;
  } catch (cause) {
    throw new TapAddonMissingError(
      `The TAP addon at ${path} could not be loaded (${(cause as Error).message}). ` +
        'It was probably built for another Node version: rebuild it with "npm run build:native".',
      { cause },
    );
  }
  return cached;
}
