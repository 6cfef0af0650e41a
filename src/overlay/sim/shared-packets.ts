/**
 * Packets between the threads of a parallel simulation, written into shared memory instead of
 * being cloned by `postMessage`. Structured cloning cost about 150 µs per simulation window in
 * the coordinator/worker round trip, as much as the window's own work with 3,000 nodes; writing
 * the same packets here and reading them on the other side costs a few microseconds.
 *
 * An area belongs to one direction of one channel and holds one message's packets at a time:
 * the protocol is strictly request → reply, so its writer never writes while its reader reads.
 *
 * Layout: a header (packet count, bytes used), then per packet its destination partition, its
 * delivery time, both endpoints as (host number, port), and the payload. Endpoints are sent as
 * numbers, and their strings are cached on each side, since every endpoint in a parallel world is
 * a host number's address (`hostIp`) and a port.
 */
import type { Endpoint } from '../transport.js';
import type { PacketBatch } from './packet-batch.js';
import { hostIp } from './sim-network.js';

const HEADER = 8;
/** dest u16, at f64, from host u32, from port u16, to host u32, to port u16, length u32. */
const RECORD = 2 + 8 + 4 + 2 + 4 + 2 + 4;
const HOSTS_PER_24 = 254;

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

export class SharedPacketArea {
  private readonly view: DataView;
  private readonly bytes: Uint8Array;
  private readonly codec = new EndpointCodec();

  constructor(readonly buffer: SharedArrayBuffer) {
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  /** Writes the batches, each for partition `dest`. False if they do not fit (nothing is written then). */
  write(batches: readonly { dest: number; batch: PacketBatch }[]): boolean {
    let need = HEADER;
    let count = 0;
    for (const { batch: b } of batches) {
      need += RECORD * b.at.length + b.data.length;
      count += b.at.length;
    }
    if (need > this.bytes.length) return false;
    const view = this.view;
    let at = HEADER;
    for (const { dest, batch: b } of batches) {
      let start = 0;
      for (let i = 0; i < b.at.length; i++) {
        const end = b.ends[i]!;
        const from = this.codec.id(b.from[i]!);
        const to = this.codec.id(b.to[i]!);
        view.setUint16(at, dest);
        view.setFloat64(at + 2, b.at[i]!);
        view.setUint32(at + 10, Math.floor(from / 65536));
        view.setUint16(at + 14, from % 65536);
        view.setUint32(at + 16, Math.floor(to / 65536));
        view.setUint16(at + 20, to % 65536);
        view.setUint32(at + 22, end - start);
        at += RECORD;
        this.bytes.set(b.data.subarray(start, end), at);
        at += end - start;
        start = end;
      }
    }
    view.setUint32(0, count);
    view.setUint32(4, at);
    return true;
  }

  /** Calls `fn` for every packet written, in order; each payload is a copy of its own. */
  read(fn: (dest: number, from: Endpoint, to: Endpoint, bytes: Uint8Array, at: number) => void): void {
    const view = this.view;
    const count = view.getUint32(0);
    let at = HEADER;
    for (let i = 0; i < count; i++) {
      const dest = view.getUint16(at);
      const time = view.getFloat64(at + 2);
      const from = this.codec.endpoint(view.getUint32(at + 10), view.getUint16(at + 14));
      const to = this.codec.endpoint(view.getUint32(at + 16), view.getUint16(at + 20));
      const length = view.getUint32(at + 22);
      at += RECORD;
      fn(dest, from, to, this.bytes.slice(at, at + length), time);
      at += length;
    }
  }
}
