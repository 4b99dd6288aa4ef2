// The simulator finds deliberate bugs flipped into the core: a vote granted without the log check,
// entries of an earlier term committed by counting replicas (the Raft paper's figure 8), and a node
// whose disk was wiped voting and counted as the member it was (incarnations ignored); and bugs
// flipped into the production driver's persist/send policy: a follower answering before its fsync,
// a leader counting its own entries as persisted before the write finished.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Invariant } from '../../../src/sim/checker.js';
import { DEFAULT_STEPS } from '../../../src/sim/cli.js';
import { runSeed, type SeedResult, type SimFaults } from '../../../src/sim/simulator.js';

/** Seeds tried before giving up: the faults below are found far sooner (see each test). */
const SEED_BOUND = 1000;
const SAFETY: readonly Invariant[] = [
  'ELECTION_SAFETY', 'LOG_MATCHING', 'LEADER_COMPLETENESS', 'STATE_MACHINE_SAFETY', 'COMMITTED_ENTRY_LOST',
  'DUPLICATE_COMMIT', 'READ_LINEARIZABILITY', 'DURABLE_CONTRACT',
];

/**
 * The first seed whose run breaks a safety invariant. A lost write can also stall the cluster
 * first (a follower that acknowledged entries it then lost leaves its leader waiting for ever: a
 * LIVENESS violation); such seeds are passed over, since what is tested is the safety checker.
 */
async function firstViolation(faults: SimFaults): Promise<SeedResult | null> {
  for (let seed = 1; seed <= SEED_BOUND; seed++) {
    const r = await runSeed({ seed, nodes: 3, steps: DEFAULT_STEPS, traceCapacity: 50, traceSink: null, faults });
    if (r.violation !== null && SAFETY.includes(r.violation.invariant)) return r;
  }
  return null;
}

test('granting votes without the log check is caught as a safety violation', { timeout: 120_000 }, async () => {
  const r = await firstViolation({ grantVoteWithoutLogCheck: true });
  assert.ok(r !== null, `no safety violation in ${SEED_BOUND} seeds`);
  assert.ok(r.recent.length > 0 && r.recent.at(-1)!.includes(r.violation!.invariant));
});

test('committing an earlier term by counting replicas (figure 8) is caught', { timeout: 120_000 }, async () => {
  const r = await firstViolation({ commitPreviousTermByCount: true });
  assert.ok(r !== null, `no safety violation in ${SEED_BOUND} seeds`);
});

test('a wiped disk voting as the member it was (incarnations ignored) is caught', { timeout: 120_000 }, async () => {
  const r = await firstViolation({ ignoreIncarnations: true });
  assert.ok(r !== null, `no safety violation in ${SEED_BOUND} seeds`);
});

test('a follower that answers before its entries are durable (send before save) is caught', { timeout: 120_000 }, async () => {
  const r = await firstViolation({ sendBeforeSave: true });
  assert.ok(r !== null, `no safety violation in ${SEED_BOUND} seeds`);
});

test('a leader that commits without waiting for its own write is caught', { timeout: 120_000 }, async () => {
  const r = await firstViolation({ leaderSkipsSaveWait: true });
  assert.ok(r !== null, `no safety violation in ${SEED_BOUND} seeds`);
});
