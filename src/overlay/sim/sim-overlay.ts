import type { AdmissionCheck } from '../admission.js';
import { cryptoReady } from '../crypto.js';
import { type Identity, generateIdentity } from '../identity.js';
import { type Logger, silentLogger } from '../log.js';
import { createSeededRandom, type Random } from '../random.js';
import { createNode, type OverlayNode, type OverlayNodeInit } from '../node/overlay-node.js';
import { EventQueue } from './event-queue.js';
import { createLatencyModel, type Coordinates } from './latency-model.js';
import { SimNetwork, type SimFirewall, type SimHost, type SimNat } from './sim-network.js';
import { SIM_EPOCH_MS, createVirtualClock, type VirtualClock } from './virtual-clock.js';

export interface SimNode {
  readonly node: OverlayNode;
  readonly host: SimHost;
  readonly clock: VirtualClock;
  readonly endpoint: string;
  readonly joinedAt: number;
  /** Reachable from anywhere (no NAT, no firewall): may serve as a bootstrap. */
  readonly open: boolean;
  alive: boolean;
}

export interface SpawnOptions {
  /** Put the node's host behind this NAT (at its coordinates). */
  behind?: SimNat;
  /** Put the node's host behind this firewall. */
  firewall?: SimFirewall;
  /** The node's logger (default silent): for following one node while debugging. */
  log?: Logger;
  /** The node's admission check, made for its identity (default: admit anyone, the public ring). */
  admission?: (identity: Identity) => AdmissionCheck;
}

export interface SimOverlayOptions {
  seed: number | string;
  /** Real ChaCha20-Poly1305 on every payload (default true). */
  encrypt?: boolean;
  lossRate?: number;
  nodeInit?: Partial<OverlayNodeInit>;
  /**
   * This overlay is partition `index` of `count` of a parallel simulation (parallel-world.ts):
   * its network and jitter draw from streams of their own, and nodes are added with
   * {@link SimOverlay.spawnAt}.
   */
  partition?: { index: number; count: number };
}

/** A node placed by the caller (the parallel simulator's coordinator): its number, place and bootstraps. */
export interface PlacedSpawn {
  /** Global node number: seeds the node's randomness and numbers its host's address. */
  index: number;
  coordinates: Coordinates;
  bootstraps: string[];
}

export const SIM_NETWORK_ID = new Uint8Array(16).fill(0x5a);

/**
 * A whole overlay in one process: real node code over the simulated network and a virtual clock.
 * `spawn` adds a node that joins through live nodes; `kill` crashes one without warning.
 */
export class SimOverlay {
  readonly queue: EventQueue;
  readonly network: SimNetwork;
  nodes: SimNode[] = [];
  private readonly random: Random;
  private spawned = 0;

  private constructor(private readonly options: SimOverlayOptions) {
    // A partition's own events and the packets other partitions send it are ranked apart (event-queue.ts).
    this.queue = new EventQueue({ startTime: SIM_EPOCH_MS, rankStride: options.partition?.count ?? 1, rankOffset: options.partition?.index ?? 0 });
    this.random = createSeededRandom(`${options.seed}:overlay`);
    const part = options.partition === undefined ? '' : `:partition:${options.partition.index}/${options.partition.count}`;
    const latency = createLatencyModel(createSeededRandom(`${options.seed}:latency${part}`));
    this.network = new SimNetwork({
      queue: this.queue,
      random: createSeededRandom(`${options.seed}:network${part}`),
      latency,
      lossRate: options.lossRate ?? 0,
    });
  }

  static async create(options: SimOverlayOptions): Promise<SimOverlay> {
    await cryptoReady();
    return new SimOverlay(options);
  }

  get now(): number {
    return this.queue.now;
  }

  live(): SimNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  /** Adds a node; it bootstraps from up to two random live nodes (none: it starts the ring). */
  spawn(options: SpawnOptions = {}): SimNode {
    const index = this.spawned++;
    const host = options.behind !== undefined ? this.network.createHost({ behind: options.behind }) : this.network.createHost();
    options.firewall?.attach(host);
    const open = options.behind === undefined && options.firewall === undefined;
    return this.startNode(index, host, open, options, () => {
      // Bootstraps are reachable nodes: a NATed node's own endpoint is private.
      const live = this.live().filter((n) => n.node.joined && n.open);
      const bootstraps: string[] = [];
      for (let i = 0; i < 2 && live.length > 0; i++) {
        const b = live[this.random.int(live.length)] as SimNode;
        if (!bootstraps.includes(b.endpoint)) bootstraps.push(b.endpoint);
      }
      return bootstraps;
    });
  }

  /** Adds an open node with the number, coordinates and bootstraps the caller chose. */
  spawnAt(placed: PlacedSpawn): SimNode {
    this.spawned = Math.max(this.spawned, placed.index + 1);
    const host = this.network.createHost({ coordinates: placed.coordinates, addressIndex: placed.index });
    return this.startNode(placed.index, host, true, {}, () => placed.bootstraps);
  }

  private startNode(index: number, host: SimHost, open: boolean, options: SpawnOptions, bootstrapsFor: () => string[]): SimNode {
    const nodeRandom = createSeededRandom(`${this.options.seed}:node:${index}`);
    const transport = host.bind();
    const clock = wholeMilliseconds(createVirtualClock(this.queue));
    const identity = generateIdentity(nodeRandom);
    const init: OverlayNodeInit = {
      networkId: SIM_NETWORK_ID,
      ...this.options.nodeInit,
      link: { ...this.options.nodeInit?.link, encryptPayloads: this.options.encrypt ?? true },
    };
    const node = createNode(init)({ clock, random: nodeRandom, transport, identity, log: options.log ?? silentLogger, admission: options.admission?.(identity) });
    const bootstraps = bootstrapsFor();
    const sim: SimNode = { node, host, clock, endpoint: transport.localEndpoint, joinedAt: this.queue.now, open, alive: true };
    this.nodes.push(sim);
    node.start(bootstraps);
    return sim;
  }

  /** Crash without warning: the host drops off the network and the node's timers stop. */
  kill(sim: SimNode): void {
    if (!sim.alive) return;
    sim.alive = false;
    sim.host.kill();
    sim.node.stop();
  }

  /** Leave gracefully (neighbours are told), then go away. */
  leave(sim: SimNode): void {
    if (!sim.alive) return;
    sim.alive = false;
    sim.node.leave();
    sim.host.kill();
  }

  pickLive(): SimNode | undefined {
    const live = this.live();
    return live.length === 0 ? undefined : live[this.random.int(live.length)];
  }

  randomFloat(): number {
    return this.random.float();
  }

  /** Forget dead nodes (keeps memory flat during long churn runs). */
  compact(): void {
    this.nodes = this.nodes.filter((n) => n.alive);
  }
}

/** Nodes see whole milliseconds, as from a real clock; the queue itself keeps fractional delays. */
function wholeMilliseconds(clock: VirtualClock): VirtualClock {
  return {
    now: () => Math.floor(clock.now()),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    setInterval: (fn, ms) => clock.setInterval(fn, ms),
    activeTimers: () => clock.activeTimers(),
  };
}
