// The virtual network between simulated nodes: per-message random delay (which reorders), loss,
// duplication, and directed link cuts that express every partition shape (symmetric, one-way,
// isolate-one, majority/minority). Deliveries go onto the simulator's event queue.
import type { Message, NodeId } from '../raft/types.js';
import type { Prng } from './prng.js';
import type { EventQueue } from './queue.js';

/** Bound on distinct node ids in one run (initial members plus every node ever added). */
export const MAX_SIM_NODES = 32;
/** Virtual time units per node tick. */
export const TICK_UNITS = 10;
const NORMAL_DELAY_MAX = 15;
const LONG_DELAY_MAX = 120;

export interface LinkFaults {
  /** Probability a message is lost. */
  readonly loss: number;
  /** Probability a message is delivered twice (each copy with its own delay). */
  readonly duplicate: number;
  /** Probability a message takes a long path (up to LONG_DELAY_MAX units): stale, far reordered. */
  readonly longDelay: number;
}

export const CLEAN_LINKS: LinkFaults = { loss: 0, duplicate: 0, longDelay: 0 };

export type SendOutcome = 'queued' | 'duplicated' | 'lost' | 'cut';

export class SimNetwork {
  private readonly slots = new Map<NodeId, number>();
  /** cut[from * MAX_SIM_NODES + to] = 1 when messages from → to are dropped. */
  private readonly cut = new Uint8Array(MAX_SIM_NODES * MAX_SIM_NODES);
  private cutCount = 0;
  faults: LinkFaults = CLEAN_LINKS;

  constructor(
    private readonly prng: Prng,
    private readonly queue: EventQueue,
  ) {}

  register(id: NodeId): void {
    if (this.slots.has(id)) return;
    if (this.slots.size >= MAX_SIM_NODES) {
      throw Object.assign(new Error(`more than ${MAX_SIM_NODES} simulated nodes`), { code: 'SIM_TOO_MANY_NODES' });
    }
    this.slots.set(id, this.slots.size);
  }

  isCut(from: NodeId, to: NodeId): boolean {
    if (this.cutCount === 0) return false;
    const f = this.slots.get(from);
    const t = this.slots.get(to);
    if (f === undefined || t === undefined) return true;
    return this.cut[f * MAX_SIM_NODES + t] === 1;
  }

  /** Drops every message from a node in `from` to a node in `to` (one direction only). */
  cutOneWay(from: readonly NodeId[], to: readonly NodeId[]): void {
    for (const f of from) {
      for (const t of to) {
        const fs = this.slots.get(f);
        const ts = this.slots.get(t);
        if (fs === undefined || ts === undefined || fs === ts) continue;
        const k = fs * MAX_SIM_NODES + ts;
        if (this.cut[k] === 0) {
          this.cut[k] = 1;
          this.cutCount++;
        }
      }
    }
  }

  /** Splits the nodes into groups that cannot talk to each other in either direction. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i !== j) this.cutOneWay(groups[i] as readonly NodeId[], groups[j] as readonly NodeId[]);
      }
    }
  }

  /**
   * Replaces the current cuts by a random shape over `ids`: isolate one node (often the leader),
   * a minority/majority split, a one-way cut, a "bridge" (two nodes that cannot talk but both
   * reach the rest), or no cut. Returns a description for the trace.
   */
  randomPartition(ids: readonly NodeId[], leader: NodeId | null, p: Prng): string {
    this.healLinks();
    const order = [...ids];
    p.shuffle(order);
    const n = order.length;
    switch (p.int(5)) {
      case 0: {
        const victim = leader !== null && p.chance(0.5) ? leader : (order[0] as NodeId);
        this.partition([[victim], order.filter((id) => id !== victim)]);
        return `isolate ${victim}`;
      }
      case 1: {
        const minority = order.slice(0, p.range(1, Math.max(1, Math.floor((n - 1) / 2))));
        const majority = order.filter((id) => !minority.includes(id));
        this.partition([minority, majority]);
        return `split [${minority.join(',')}] | [${majority.join(',')}]`;
      }
      case 2: {
        const from = order.slice(0, p.range(1, Math.max(1, n - 1)));
        const to = order.filter((id) => !from.includes(id));
        this.cutOneWay(from, to);
        return `one-way [${from.join(',')}] -> [${to.join(',')}] cut`;
      }
      case 3: {
        const a = order[0] as NodeId;
        const b = order[1] ?? a;
        this.partition([[a], [b]]);
        return `bridge: ${a} and ${b} cannot talk, both reach the rest`;
      }
      default:
        return 'healed';
    }
  }

  healLinks(): void {
    this.cut.fill(0);
    this.cutCount = 0;
  }

  get partitioned(): boolean {
    return this.cutCount > 0;
  }

  /** Schedules delivery of `msg` sent at `now`, subject to cuts, loss, duplication and delay. */
  send(msg: Message, now: number): SendOutcome {
    if (this.isCut(msg.from, msg.to)) return 'cut';
    const faults = this.faults;
    if (faults.loss > 0 && this.prng.chance(faults.loss)) return 'lost';
    this.queue.deliver(now + this.delay(), msg);
    if (faults.duplicate > 0 && this.prng.chance(faults.duplicate)) {
      this.queue.deliver(now + this.delay(), msg);
      return 'duplicated';
    }
    return 'queued';
  }

  private delay(): number {
    if (this.faults.longDelay > 0 && this.prng.chance(this.faults.longDelay)) {
      return this.prng.range(NORMAL_DELAY_MAX, LONG_DELAY_MAX);
    }
    return this.prng.range(1, NORMAL_DELAY_MAX);
  }
}
