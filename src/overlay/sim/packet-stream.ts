/**
 * Packets from one thread of a parallel simulation to another (parallel-world.ts), streamed
 * through a ring in shared memory as they are sent: one writer, one reader, no locks. The writer
 * publishes each packet by moving the head; the reader takes everything up to the head it reads
 * and then moves the tail. A thread publishes its clock only after the packets sent before it
 * (partition-clocks.ts), so a reader that reads a clock and then drains the ring has every packet
 * sent before that clock.
 *
 * Layout: head and tail (Int32, on cache lines of their own), then records, each 8-byte aligned:
 * payload length (u32; 0xFFFFFFFF marks "continue at the start"), delivery time and rank (f64),
 * both endpoints as (host number u32, port u16), then the payload. Endpoints travel as numbers,
 * their strings cached on each side: every endpoint in a parallel world is a host number's
 * address (`hostIp`) and a port.
 */
import type { Endpoint } from '../transport.js';
import { hostIp } from './sim-network.js';

const HEAD = 0;
const TAIL = 16; // Int32 index: byte 64
const DATA = 128;
/** length u32, at f64, rank f64, from host u32, from port u16, to host u32, to port u16. */
const RECORD = 4 + 8 + 8 + 4 + 2 + 4 + 2;
const WRAP = 0xffffffff;
const HOSTS_PER_24 = 254;

export class PacketStreamFullError extends Error {
  override readonly name = 'PacketStreamFullError';
}

export class EndpointCodec {
  private readonly ids = new Map<Endpoint, number>();
  private readonly names = new Map<number, Endpoint>();

  /** host number × 65536 + port; throws for an endpoint that is not a simulated host's. */
  id(endpoint: Endpoint): number {
    let id = this.ids.get(endpoint);
    if (id === undefined) {
      const m = /^10\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(endpoint);
      const last = Number(m?.[3]);
      if (m === null || !(last >= 1 && last <= HOSTS_PER_24)) throw new RangeError(`not a simulated host's endpoint: ${endpoint}`);
      const host = (Number(m[1]) * 256 + Number(m[2])) * HOSTS_PER_24 + (last - 1);
      id = host * 65536 + Number(m[4]);
      this.ids.set(endpoint, id);
      this.names.set(id, endpoint);
    }
    return id;
  }

  endpoint(host: number, port: number): Endpoint {
    const id = host * 65536 + port;
    let name = this.names.get(id);
    if (name === undefined) {
      name = `${hostIp(host)}:${port}`;
      this.names.set(id, name);
      this.ids.set(name, id);
    }
    return name;
  }
}

export class PacketStream {
  private readonly index: Int32Array;
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly capacity: number;
  private readonly codec = new EndpointCodec();
  /** The writer's head, and the last tail it read. */
  private head: number;
  private knownTail: number;
  /** The reader's tail. */
  private tail: number;

  static create(bytes: number): SharedArrayBuffer {
    if (!(Number.isInteger(bytes) && bytes >= DATA + 1024 && bytes % 8 === 0)) throw new RangeError('a packet stream needs a whole number of 8-byte words, at least 1 KiB');
    return new SharedArrayBuffer(bytes);
  }

  constructor(buffer: SharedArrayBuffer) {
    this.index = new Int32Array(buffer, 0, DATA / 4);
    this.view = new DataView(buffer, DATA);
    this.bytes = new Uint8Array(buffer, DATA);
    this.capacity = buffer.byteLength - DATA;
    this.head = Atomics.load(this.index, HEAD);
    this.tail = Atomics.load(this.index, TAIL);
    this.knownTail = this.tail;
  }

  /** Appends one packet and publishes it. Throws PacketStreamFullError when the reader is that far behind. */
  write(from: Endpoint, to: Endpoint, payload: Uint8Array, at: number, rank: number): void {
    const f = this.codec.id(from);
    const t = this.codec.id(to);
    const size = (RECORD + payload.length + 7) & ~7;
    let start = this.place(size);
    if (start < 0) {
      this.knownTail = Atomics.load(this.index, TAIL);
      start = this.place(size);
      if (start < 0) throw new PacketStreamFullError(`packets between simulation threads filled their ${Math.round(this.capacity / 1024)} KiB buffer`);
    }
    if (start !== this.head) this.view.setUint32(this.head, WRAP);
    const v = this.view;
    v.setUint32(start, payload.length);
    v.setFloat64(start + 4, at);
    v.setFloat64(start + 12, rank);
    v.setUint32(start + 20, Math.floor(f / 65536));
    v.setUint16(start + 24, f % 65536);
    v.setUint32(start + 26, Math.floor(t / 65536));
    v.setUint16(start + 30, t % 65536);
    this.bytes.set(payload, start + RECORD);
    this.head = start + size;
    Atomics.store(this.index, HEAD, this.head);
  }

  /** Calls `fn` for every packet published so far and not yet taken, in order; each payload is a copy. */
  drain(fn: (from: Endpoint, to: Endpoint, payload: Uint8Array, at: number, rank: number) => void): number {
    const head = Atomics.load(this.index, HEAD);
    const v = this.view;
    let tail = this.tail;
    let count = 0;
    while (tail !== head) {
      const length = v.getUint32(tail);
      if (length === WRAP) {
        tail = 0;
        continue;
      }
      const at = v.getFloat64(tail + 4);
      const rank = v.getFloat64(tail + 12);
      const from = this.codec.endpoint(v.getUint32(tail + 20), v.getUint16(tail + 24));
      const to = this.codec.endpoint(v.getUint32(tail + 26), v.getUint16(tail + 30));
      const payload = this.bytes.slice(tail + RECORD, tail + RECORD + length);
      tail += (RECORD + length + 7) & ~7;
      count++;
      fn(from, to, payload, at, rank);
    }
    if (count > 0 || tail !== this.tail) {
      this.tail = tail;
      Atomics.store(this.index, TAIL, tail);
    }
    return count;
  }

  /** Where a record of `size` bytes goes given the last known tail, or -1. The head never catches up with the tail. */
  private place(size: number): number {
    const head = this.head;
    const tail = this.knownTail;
    if (head >= tail) {
      if (head + size < this.capacity) return head;
      return size < tail ? 0 : -1; // wrap: the record goes to the start, before the tail
    }
    return head + size < tail ? head : -1;
  }
}
