// A tiny in-test cluster for the Raft core: every node's Ready is persisted into an in-memory
// "disk", applied to a list-of-strings state machine, and its messages queued on a network whose
// delivery and loss the test controls explicitly (drop filters, partitions, one round at a time).

import assert from 'node:assert/strict';
import { createRaft, defaultRaftConfig } from '../../../src/raft/index.js';
import type { ConfState, Entry, HardState, Message, NodeId, RaftConfig, RaftCore, ReadState, Ready, Snapshot } from '../../../src/raft/index.js';
import { seededRandom } from '../../../src/sim/prng.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Seeded uniform source: the project's PRNG (sim/prng.ts). */
export const seeded = seededRandom;

export function confOf(voters: NodeId[], learners: NodeId[] = [], incarnations?: Record<NodeId, string>): ConfState {
  const addresses: Record<NodeId, string> = {};
  for (const id of [...voters, ...learners]) addresses[id] = `${id}.test:7000`;
  return incarnations === undefined ? { voters, learners, addresses } : { voters, learners, addresses, incarnations: { ...incarnations } };
}

interface Disk {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

export interface NodeRecord {
  core: RaftCore;
  disk: Disk;
  /** The state machine: applied index → what was applied there ('' for no-ops, 'conf' for conf entries). */
  applied: Map<number, string>;
  appliedIndex: number;
  readStates: ReadState[];
  readies: Ready[];
  snapshotsInstalled: number;
}

export interface ClusterOptions {
  seed?: number;
  config?: Partial<Omit<RaftConfig, 'id' | 'random'>>;
  /** Per-node overrides (e.g. faults on one node). */
  configFor?: (id: NodeId) => Partial<Omit<RaftConfig, 'id' | 'random'>>;
  keepReadies?: boolean;
  /** Each node's storage incarnation (recorded in the bootstrap configuration); none when absent. */
  incarnations?: Record<NodeId, string>;
}

/** Bound on delivery rounds in stabilize(): a test that needs more has a livelock. */
export const MAX_STABILIZE_ROUNDS = 10_000;

export class Cluster {
  readonly nodes = new Map<NodeId, NodeRecord>();
  queue: Message[] = [];
  /** Messages for which this returns true are dropped at delivery time. */
  drop: (m: Message) => boolean = () => false;
  /** Every message delivered, in order (for counting round trips). */
  delivered: Message[] = [];
  private readonly random: () => number;

  constructor(
    voters: NodeId[],
    private readonly options: ClusterOptions = {},
  ) {
    this.random = seeded(options.seed ?? 1);
    const bootstrap = confOf(voters, [], options.incarnations);
    for (const id of voters) this.start(id, { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] }, bootstrap);
  }

  /** Starts a node from `disk` (a brand-new member has an empty disk and no bootstrap). */
  start(id: NodeId, disk: Disk = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] }, bootstrap: ConfState | null = null): RaftCore {
    const config: RaftConfig = {
      ...defaultRaftConfig(id, this.random),
      ...(this.options.incarnations?.[id] === undefined ? {} : { incarnation: this.options.incarnations[id] }),
      ...this.options.config,
      ...this.options.configFor?.(id),
    };
    const applied = disk.snapshot?.meta.index ?? 0;
    const core = createRaft(config, { hardState: disk.hardState, snapshot: disk.snapshot, entries: disk.entries, bootstrap, applied });
    const sm = new Map<number, string>();
    if (disk.snapshot !== null) for (const [i, v] of decodeSm(disk.snapshot.data)) sm.set(i, v);
    this.nodes.set(id, { core, disk, applied: sm, appliedIndex: applied, readStates: [], readies: [], snapshotsInstalled: 0 });
    return core;
  }

  /** Crash and restart `id` from what it persisted; its queued messages are lost. */
  restart(id: NodeId): RaftCore {
    const old = this.node(id);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    return this.start(id, { hardState: old.disk.hardState, snapshot: old.disk.snapshot, entries: [...old.disk.entries] });
  }

  /** `id` loses its disk and restarts empty with a new incarnation (needs `incarnations`). */
  wipe(id: NodeId, incarnation: string): RaftCore {
    assert.ok(this.options.incarnations !== undefined, 'wipe needs incarnations');
    this.options.incarnations[id] = incarnation;
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    return this.start(id);
  }

  node(id: NodeId): NodeRecord {
    const n = this.nodes.get(id);
    assert.ok(n, `no node ${id}`);
    return n;
  }

  core(id: NodeId): RaftCore {
    return this.node(id).core;
  }

  /** Handles every pending Ready of `id`: persist, queue messages, apply, advance. */
  process(id: NodeId): void {
    const n = this.node(id);
    while (n.core.hasReady()) {
      const rd = n.core.ready();
      if (this.options.keepReadies === true) n.readies.push(rd);
      if (rd.snapshot !== null) {
        n.disk.snapshot = rd.snapshot;
        n.disk.entries = [];
      }
      if (rd.entries.length > 0) {
        const first = rd.entries[0]!.index;
        n.disk.entries = n.disk.entries.filter((e) => e.index < first).concat(rd.entries);
      }
      if (rd.hardState !== null) n.disk.hardState = rd.hardState;
      this.queue.push(...rd.messages);
      if (rd.snapshot !== null) {
        n.applied.clear();
        for (const [i, v] of decodeSm(rd.snapshot.data)) n.applied.set(i, v);
        n.appliedIndex = rd.snapshot.meta.index;
        n.snapshotsInstalled++;
      }
      for (const e of rd.committedEntries) {
        assert.equal(e.index, n.appliedIndex + 1, `${id} applies ${e.index} after ${n.appliedIndex}`);
        n.applied.set(e.index, e.type === 'conf' ? 'conf' : decoder.decode(e.data));
        n.appliedIndex = e.index;
      }
      n.readStates.push(...rd.readStates);
      n.core.advance();
    }
  }

  processAll(): void {
    for (const id of this.nodes.keys()) this.process(id);
  }

  /** Delivers every queued message once (dropping those the filter rejects); returns how many. */
  deliverRound(): number {
    this.processAll();
    const batch = this.queue;
    this.queue = [];
    let count = 0;
    for (const m of batch) {
      const target = this.nodes.get(m.to);
      if (target === undefined || this.drop(m)) continue;
      const result = target.core.step(m);
      // A wiped node's messages are refused by design (incarnation.test.ts); nothing else may be.
      assert.ok(result.ok || result.code === 'STALE_INCARNATION', `step refused a message the core itself produced: ${JSON.stringify(result)}`);
      this.delivered.push(m);
      count++;
    }
    this.processAll();
    return count;
  }

  /** Delivers until the network is quiet; returns the number of rounds. */
  stabilize(): number {
    let rounds = 0;
    this.processAll();
    while (this.queue.length > 0) {
      assert.ok(rounds < MAX_STABILIZE_ROUNDS, 'cluster did not stabilize');
      this.deliverRound();
      rounds++;
    }
    return rounds;
  }

  tick(ids: Iterable<NodeId>, times = 1): void {
    for (let t = 0; t < times; t++) {
      for (const id of ids) this.core(id).tick();
      this.stabilize();
    }
  }

  tickAll(times = 1): void {
    this.tick([...this.nodes.keys()], times);
  }

  /** Drops every message between different groups (nodes in no group are cut off from all). */
  partition(...groups: NodeId[][]): void {
    const groupOf = new Map<NodeId, number>();
    groups.forEach((g, i) => {
      for (const id of g) groupOf.set(id, i);
    });
    this.drop = (m) => {
      const a = groupOf.get(m.from);
      const b = groupOf.get(m.to);
      return a === undefined || b === undefined || a !== b;
    };
  }

  isolate(id: NodeId): void {
    this.drop = (m) => m.from === id || m.to === id;
  }

  heal(): void {
    this.drop = () => false;
  }

  /** Campaigns `id` (repeating while pre-votes learn a newer term) until it leads. */
  elect(id: NodeId): void {
    for (let attempt = 0; attempt < 5 && this.core(id).status().role !== 'leader'; attempt++) {
      this.core(id).campaign();
      this.stabilize();
    }
    assert.equal(this.core(id).status().role, 'leader', `${id} failed to become leader`);
  }

  leaders(): NodeId[] {
    return [...this.nodes].filter(([, n]) => n.core.status().role === 'leader').map(([id]) => id);
  }

  /** Asserts no two nodes applied different things at one index (state machine safety). */
  checkSafety(): void {
    const byIndex = new Map<number, [NodeId, string]>();
    for (const [id, n] of this.nodes) {
      for (const [i, v] of n.applied) {
        const seen = byIndex.get(i);
        if (seen === undefined) byIndex.set(i, [id, v]);
        else assert.equal(v, seen[1], `index ${i}: ${id} applied ${JSON.stringify(v)}, ${seen[0]} applied ${JSON.stringify(seen[1])}`);
      }
    }
  }

  /** Snapshot data of `id`'s state machine (what the driver would hand to compact()). */
  snapshotData(id: NodeId): Uint8Array {
    return bytes(JSON.stringify([...this.node(id).applied]));
  }
}

function decodeSm(data: Uint8Array): [number, string][] {
  return JSON.parse(decoder.decode(data)) as [number, string][];
}
