// The real Raft core under the simulator: N seeds (CATGA_SIM_SEEDS, default 200) of 3 nodes plus a
// quarter as many of 5 nodes must all pass every safety invariant and every post-heal liveness check,
// with disk faults (slow, full, failed fsync, crash mid-write, wiped) among the faults.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_DISK_EVERY, DEFAULT_STEPS, describeViolation, REPORT_EVENTS, usesDisk, type SimCliOptions } from '../../../src/sim/cli.js';
import { memoryStore, simulatedDiskStore } from '../../../src/sim/durable.js';
import { runSeed } from '../../../src/sim/simulator.js';

const SEEDS = Number(process.env['CATGA_SIM_SEEDS'] ?? 200);
/** 5-node seeds start far from the 3-node ones so that they explore other schedules. */
const FIVE_NODE_FIRST_SEED = 1_000_001;

/** What a run of seeds did, summed over its seeds. */
interface Totals { commits: number; heals: number; diskSeeds: number; diskFaults: number; wipes: number }

/** Runs like `catga sim` would: every DEFAULT_DISK_EVERY-th seed on the real storage code. */
async function runMany(first: number, count: number, nodes: number): Promise<Totals & { failures: string[] }> {
  const o: SimCliOptions = { seeds: count, firstSeed: first, nodes, steps: DEFAULT_STEPS, trace: false, diskEvery: DEFAULT_DISK_EVERY, faults: null };
  const failures: string[] = [];
  const totals: Totals = { commits: 0, heals: 0, diskSeeds: 0, diskFaults: 0, wipes: 0 };
  for (let seed = first; seed < first + count; seed++) {
    const disk = usesDisk(o, seed);
    const r = await runSeed({
      seed, nodes, steps: DEFAULT_STEPS, traceCapacity: REPORT_EVENTS, traceSink: null, faults: null,
      store: disk ? simulatedDiskStore : memoryStore,
    });
    totals.commits += r.stats.maxCommit;
    totals.heals += r.stats.heals;
    totals.diskSeeds += disk ? 1 : 0;
    totals.diskFaults += r.stats.diskFaults;
    totals.wipes += r.stats.wipes;
    if (r.violation !== null) failures.push(describeViolation(o, r).join('\n'));
  }
  return { failures, ...totals };
}

test(`${SEEDS} seeds with 3 nodes: no violations`, { timeout: 300_000 }, async () => {
  assert.ok(Number.isSafeInteger(SEEDS) && SEEDS > 0, 'CATGA_SIM_SEEDS must be a positive integer');
  const { failures, commits, heals, diskSeeds, diskFaults, wipes } = await runMany(1, SEEDS, 3);
  assert.deepEqual(failures, [], failures.slice(0, 3).join('\n\n'));
  assert.equal(diskSeeds, Math.floor(SEEDS / DEFAULT_DISK_EVERY));
  // The runs did real work: entries committed and fault phases healed in every seed.
  assert.ok(commits > SEEDS * 50, `only ${commits} entries committed`);
  assert.ok(heals >= SEEDS, `only ${heals} heals verified`);
  // The disk faults ran under the production driver: slow, full and failing disks, lost disks.
  assert.ok(diskFaults >= SEEDS / 4, `only ${diskFaults} disk faults in ${SEEDS} seeds`);
  assert.ok(wipes > 0, 'no disk was wiped');
});

test(`${Math.ceil(SEEDS / 4)} seeds with 5 nodes: no violations`, { timeout: 300_000 }, async () => {
  const { failures } = await runMany(FIVE_NODE_FIRST_SEED, Math.ceil(SEEDS / 4), 5);
  assert.deepEqual(failures, [], failures.slice(0, 3).join('\n\n'));
});
