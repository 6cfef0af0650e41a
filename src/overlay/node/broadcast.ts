import { type Address, clockwiseDistance, inClockwiseRange } from '../address.js';
import type { BroadcastMessage } from '../wire/messages.js';
import type { NodeContext } from './node-context.js';

export interface BroadcastInit {
  /** Broadcast ids remembered to deliver each broadcast once (default 4096; oldest forgotten first). */
  seenCapacity: number;
}

export const defaultBroadcastInit: BroadcastInit = { seenCapacity: 4096 };

export type BroadcastHandler = (origin: Address, data: Uint8Array, hops: number) => void;

/**
 * Bounded broadcast over ring ranges (Brunet): the node responsible for [start, end) delivers
 * locally and hands each of its connections inside the range the sub-range up to the next one, so in a
 * consistent ring every node gets exactly one copy.
 */
export class Broadcast {
  private readonly seen = new Set<string>();
  private readonly handlers = new Map<number, BroadcastHandler>();
  delivered = 0;
  duplicates = 0;

  constructor(
    private readonly ctx: NodeContext,
    private readonly init: BroadcastInit,
  ) {}

  onChannel(channel: number, handler: BroadcastHandler): void {
    this.handlers.set(channel, handler);
  }

  /** Broadcast to every node of the ring; returns the broadcast's id (hex). */
  send(channel: number, data: Uint8Array): string {
    const id = this.ctx.random.bytes(8);
    const message: BroadcastMessage = {
      kind: 'broadcast',
      id,
      origin: this.ctx.self,
      rangeStart: this.ctx.self,
      rangeEnd: this.ctx.self,
      hops: 0,
      channel,
      data,
    };
    this.receive(message);
    return hex(id);
  }

  receive(message: BroadcastMessage): void {
    const id = hex(message.id);
    if (this.seen.has(id)) {
      this.duplicates++;
      return;
    }
    this.remember(id);
    this.delivered++;
    this.handlers.get(message.channel)?.(message.origin, message.data, message.hops);
    this.forward(message);
  }

  private forward(message: BroadcastMessage): void {
    const { self } = this.ctx;
    const { rangeEnd } = message;
    // Connections strictly after us and before the range's end (end === self: the whole ring), clockwise.
    const inside = this.ctx.table
      .structured()
      .filter((c) => c !== self && inClockwiseRange(c, self, rangeEnd))
      .sort((a, b) => compare(clockwiseDistance(self, a), clockwiseDistance(self, b)));
    if (message.hops >= 255) return;
    for (let i = 0; i < inside.length; i++) {
      const start = inside[i] as Address;
      const end = i + 1 < inside.length ? (inside[i + 1] as Address) : rangeEnd;
      this.ctx.sendDirect(start, { ...message, rangeStart: start, rangeEnd: end, hops: message.hops + 1 });
    }
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > this.init.seenCapacity) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
  }
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
