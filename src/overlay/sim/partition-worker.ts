/**
 * Entry of a worker thread that holds one partition of a parallel simulation (parallel-world.ts).
 * It answers the coordinator's requests, one at a time, over a {@link SyncChannel}, until told to
 * stop. A failure is sent back as the reply's `error` rather than killing the thread silently.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { Partition, type PartitionInit, type PartitionReply, type PartitionRequest, type SharedPartitionLinks } from './partition.js';
import { SyncChannel } from './sync-channel.js';

export interface PartitionWorkerData extends SharedPartitionLinks {
  init: PartitionInit;
  port: MessagePort;
  flags: Int32Array;
  /** Counter the coordinator bumps when it sends to this worker. */
  toWorker: number;
  /** Counter this worker bumps when it replies. */
  toCoordinator: number;
  /** Polls before sleeping while waiting for a request (sync-channel.ts). */
  spins: number;
}

const data = workerData as PartitionWorkerData;
const channel = new SyncChannel(data.port, data.flags, data.toWorker, data.toCoordinator, data.spins);
const partition = await Partition.create(data.init, data);
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
