// Micro-benchmark (not a test) of the Raft core alone: three in-memory nodes, no I/O, messages
// handed over synchronously. Prints entries committed per second for proposal batches of 1 and 64.
// Run: npx tsc -p node && node node/dist/bench/raft-core.js [seconds-per-case]

import { createRaft, defaultRaftConfig, type Message, type RaftCore } from '../src/raft/index.js';

const IDS = ['n1', 'n2', 'n3'];
const PAYLOAD_BYTES = 128;
/** Batches proposed before the network is drained: lets pipelining and batching work. */
const BATCHES_IN_FLIGHT = 8;
/** Compaction cadence: entries kept before compacting, and entries retained after it. */
const COMPACT_EVERY = 50_000;
const COMPACT_RETAIN = 1000;

function cluster(): Map<string, RaftCore> {
  let seed = 1;
  const random = (): number => {
    seed = (seed * 48271) % 2147483647;
    return seed / 2147483647;
  };
  const conf = { voters: IDS, learners: [], addresses: Object.fromEntries(IDS.map((id) => [id, `${id}:7000`])) };
  const nodes = new Map<string, RaftCore>();
  for (const id of IDS) {
    nodes.set(id, createRaft(defaultRaftConfig(id, random), { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], bootstrap: conf, applied: 0 }));
  }
  return nodes;
}

/** Drains every Ready and delivers every message until the cluster is quiet; returns entries applied on n1. */
function settle(nodes: Map<string, RaftCore>): number {
  let applied = 0;
  let queue: Message[] = [];
  for (;;) {
    for (const [id, core] of nodes) {
      while (core.hasReady()) {
        const rd = core.ready();
        for (const m of rd.messages) queue.push(m);
        if (id === 'n1') applied += rd.committedEntries.length;
        core.advance();
      }
    }
    if (queue.length === 0) return applied;
    const batch = queue;
    queue = [];
    for (const m of batch) nodes.get(m.to)!.step(m);
  }
}

function run(batchSize: number, seconds: number): number {
  const nodes = cluster();
  const leader = nodes.get('n1')!;
  leader.campaign();
  settle(nodes);
  const payload = new Uint8Array(PAYLOAD_BYTES);
  const batch = Array.from({ length: batchSize }, () => payload);
  let committed = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() < deadline) {
    for (let i = 0; i < BATCHES_IN_FLIGHT; i++) {
      const r = batchSize === 1 ? leader.propose(payload) : leader.proposeBatch(batch);
      if (!r.ok) throw new Error(`proposal refused: ${r.code}`);
    }
    committed += settle(nodes);
    // Keep memory flat, as a driver snapshotting periodically would.
    const { applied, firstIndex } = leader.status();
    if (applied - firstIndex > COMPACT_EVERY) for (const core of nodes.values()) core.compact(core.status().applied, payload, COMPACT_RETAIN);
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  return committed / elapsed;
}

const seconds = Number(process.argv[2] ?? 2);
for (const size of [1, 64]) {
  const rate = run(size, seconds);
  console.log(`raft core, 3 nodes in memory, batch ${String(size).padStart(2)}: ${Math.round(rate).toLocaleString('en-US')} entries committed/s`);
}
