/**
 * Entry of a worker thread that holds one partition of a parallel simulation (parallel-world.ts).
 * It answers the coordinator's requests, one at a time, over a {@link SyncChannel}, until told to
 * stop. A failure is sent back as the reply's `error` rather than killing the thread silently.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { batchTransferables } from './packet-batch.js';
import { SharedPacketArea } from './shared-packets.js';
import { Partition, type PartitionInit, type PartitionReply, type PartitionRequest } from './partition.js';
import { SyncChannel } from './sync-channel.js';

export interface PartitionWorkerData {
  init: PartitionInit;
  port: MessagePort;
  flags: Int32Array;
  /** Counter the coordinator bumps when it sends to this worker. */
  toWorker: number;
  /** Counter this worker bumps when it replies. */
  toCoordinator: number;
  /** Polls before sleeping while waiting (sync-channel.ts). */
  spins: number;
  /** Packets from the coordinator (shared-packets.ts). */
  inboundArea: SharedArrayBuffer;
  /** Packets to the coordinator. */
  outboundArea: SharedArrayBuffer;
}

const data = workerData as PartitionWorkerData;
const channel = new SyncChannel(data.port, data.flags, data.toWorker, data.toCoordinator, data.spins);
const inbound = new SharedPacketArea(data.inboundArea);
const outbound = new SharedPacketArea(data.outboundArea);
const partition = await Partition.create(data.init);
parentPort!.postMessage('ready');

for (;;) {
  const request = channel.receive() as PartitionRequest;
  if (request.action.kind === 'stop') break;
  let reply: PartitionReply;
  try {
    if (request.sharedInbound === true) inbound.read((_, from, to, bytes, at) => partition.inject(from, to, bytes, at));
    reply = partition.handle(request);
    const batches = reply.outbound.flatMap((batch, dest) => (batch === null ? [] : [{ dest, batch }]));
    if (batches.length > 0 && outbound.write(batches)) {
      reply.outbound = [];
      reply.sharedOutbound = true;
    }
  } catch (e) {
    const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
    reply = { results: [], outbound: [], spawned: [], joined: [], nextTime: Infinity, processed: 0, sent: 0, error };
  }
  const transfer = reply.outbound.flatMap((b) => (b === null ? [] : batchTransferables(b)));
  channel.send(reply, transfer);
}
channel.close();
