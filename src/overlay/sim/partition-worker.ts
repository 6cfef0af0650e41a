/**
 * Entry of a worker thread that holds one partition of a parallel simulation (parallel-world.ts).
 * It answers the coordinator's requests, one at a time, over a {@link SyncChannel}, until told to
 * stop. A failure is sent back as the reply's `error` rather than killing the thread silently.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PacketStream } from './packet-stream.js';
import { Partition, type PartitionInit, type PartitionReply, type PartitionRequest } from './partition.js';
import { PartitionClocks } from './partition-clocks.js';
import { SyncChannel } from './sync-channel.js';

export interface PartitionWorkerData {
  init: PartitionInit;
  port: MessagePort;
  flags: Int32Array;
  /** Counter the coordinator bumps when it sends to this worker. */
  toWorker: number;
  /** Counter this worker bumps when it replies. */
  toCoordinator: number;
  /** Polls before sleeping while waiting for a request (sync-channel.ts). */
  spins: number;
  /** Checks of the other partitions' clocks before sleeping while blocked (partition.ts). */
  streamSpins: number;
  clocks: SharedArrayBuffer;
  /** Packet streams from this partition to each other one, and from each to this one (null for itself). */
  outgoing: (SharedArrayBuffer | null)[];
  incoming: (SharedArrayBuffer | null)[];
}

const data = workerData as PartitionWorkerData;
const channel = new SyncChannel(data.port, data.flags, data.toWorker, data.toCoordinator, data.spins);
const partition = await Partition.create(data.init, {
  clocks: new PartitionClocks(data.clocks, data.init.count),
  outgoing: data.outgoing.map((b) => (b === null ? null : new PacketStream(b))),
  incoming: data.incoming.map((b) => (b === null ? null : new PacketStream(b))),
  spins: data.streamSpins,
});
parentPort!.postMessage('ready');

for (;;) {
  const request = channel.receive() as PartitionRequest;
  if (request.action.kind === 'stop') break;
  let reply: PartitionReply;
  try {
    reply = partition.handle(request);
  } catch (e) {
    const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    reply = { results: [], spawned: [], joined: [], processed: 0, sent: 0, error };
  }
  channel.send(reply);
}
channel.close();
