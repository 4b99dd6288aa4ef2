// The safety checker flags each broken invariant it is fed (so a quiet simulation means something).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry } from '../../../src/raft/types.js';
import { SafetyChecker } from '../../../src/sim/checker.js';
import { SimLog } from '../../../src/sim/log.js';
import { SimStateMachine } from '../../../src/sim/statemachine.js';

function entry(index: number, term: number, byte = index): Entry {
  return { index, term, type: 'normal', data: new Uint8Array([0, 0, 0, byte]) };
}

/** Read through a function so that an earlier `assert.equal(c.violation, null)` does not narrow it. */
function invariantOf(c: SafetyChecker): string | null {
  return c.violation === null ? null : c.violation.invariant;
}

function logOf(entries: Entry[]): SimLog {
  return SimLog.from(null, entries);
}

test('two leaders in one term break election safety', () => {
  const c = new SafetyChecker();
  c.onRole('n1', 'leader', 3, logOf([]));
  assert.equal(c.violation, null);
  c.onRole('n2', 'leader', 3, logOf([]));
  assert.equal(invariantOf(c), 'ELECTION_SAFETY');
});

test('one (index, term) with different data, or a different predecessor, breaks log matching', () => {
  const c = new SafetyChecker();
  c.onPersistEntries('n1', logOf([]), [entry(1, 1), entry(2, 1, 7)]);
  c.onPersistEntries('n2', logOf([]), [entry(1, 1), entry(2, 1, 7)]);
  assert.equal(c.violation, null);
  c.onPersistEntries('n3', logOf([entry(1, 1)]), [entry(2, 1, 8)]);
  assert.equal(invariantOf(c), 'LOG_MATCHING');

  const d = new SafetyChecker();
  d.onPersistEntries('n1', logOf([]), [entry(1, 1), entry(2, 2)]);
  d.onPersistEntries('n2', logOf([]), [entry(1, 2), entry(2, 2)]);
  assert.equal(invariantOf(d), 'LOG_MATCHING');
});

test('a later leader without a committed entry breaks leader completeness', () => {
  const c = new SafetyChecker();
  const log = logOf([entry(1, 1), entry(2, 1)]);
  c.onCommit('n1', 1, 0, 2, log);
  c.onRole('n2', 'leader', 2, logOf([entry(1, 1), entry(2, 2)]));
  assert.equal(invariantOf(c), 'LEADER_COMPLETENESS');
});

test('an entry committed after a later leader took over must be in that leader log', () => {
  const c = new SafetyChecker();
  c.onRole('n2', 'leader', 5, logOf([entry(1, 1), entry(2, 5)]));
  c.onCommit('n1', 1, 0, 2, logOf([entry(1, 1), entry(2, 4)]));
  assert.equal(invariantOf(c), 'LEADER_COMPLETENESS');
});

test('a deposed leader of an earlier term may lack an entry committed in a later term', () => {
  // Seen in a run: n1 led term 23 (isolated) with 2/23; n2 then led term 24 and committed 2/22.
  const c = new SafetyChecker();
  c.onRole('n1', 'leader', 23, logOf([entry(1, 1), entry(2, 23)]));
  c.onCommit('n2', 24, 0, 2, logOf([entry(1, 1), entry(2, 22)]));
  assert.equal(invariantOf(c), null);
  c.onRole('n3', 'leader', 25, logOf([entry(1, 1), entry(2, 23)]));
  assert.equal(invariantOf(c), 'LEADER_COMPLETENESS');
});

test('different entries committed or applied at one index break state machine safety', () => {
  const c = new SafetyChecker();
  c.onCommit('n1', 1, 0, 1, logOf([entry(1, 1)]));
  c.onCommit('n2', 1, 0, 1, logOf([entry(1, 2)]));
  assert.equal(invariantOf(c), 'STATE_MACHINE_SAFETY');

  const d = new SafetyChecker();
  d.onCommit('n1', 1, 0, 1, logOf([entry(1, 1)]));
  d.onApply('n2', entry(1, 2), 0, 1);
  assert.equal(invariantOf(d), 'STATE_MACHINE_SAFETY');
});

test('state machine images that differ at one index are caught by the hash chain', () => {
  const c = new SafetyChecker();
  const a = new SimStateMachine();
  const b = new SimStateMachine();
  a.apply(entry(1, 1, 1));
  b.apply(entry(1, 1, 2));
  c.onApplied('n1', a);
  assert.equal(c.violation, null);
  c.onApplied('n2', b);
  assert.equal(invariantOf(c), 'STATE_MACHINE_SAFETY');
});

test('apply must be sequential and within commit', () => {
  const c = new SafetyChecker();
  c.onApply('n1', entry(2, 1), 0, 5);
  assert.equal(invariantOf(c), 'APPLY_ORDER');
  const d = new SafetyChecker();
  d.onApply('n1', entry(1, 1), 0, 0);
  assert.equal(invariantOf(d), 'APPLIED_BEYOND_COMMIT');
});

test('commit going back, term going back and a changed vote are caught', () => {
  const c = new SafetyChecker();
  c.onHardState('n1', { term: 2, vote: 'n1', commit: 5 }, { term: 2, vote: 'n1', commit: 4 });
  assert.equal(invariantOf(c), 'COMMIT_MONOTONIC');
  const d = new SafetyChecker();
  d.onHardState('n1', { term: 2, vote: 'n1', commit: 5 }, { term: 2, vote: 'n2', commit: 5 });
  assert.equal(invariantOf(d), 'HARD_STATE_MONOTONIC');
});

test('a node replacing a committed entry it holds loses it; a stale leader appending elsewhere does not', () => {
  const c = new SafetyChecker();
  const held = logOf([entry(1, 1), entry(2, 1)]);
  c.onCommit('n1', 1, 0, 2, held);
  c.onPersistEntries('n3', logOf([entry(1, 1)]), [entry(2, 2, 9)]);
  assert.equal(c.violation, null, 'n3 never held the committed entry 2');
  c.onPersistEntries('n1', held, [entry(2, 3, 9)]);
  assert.equal(invariantOf(c), 'COMMITTED_ENTRY_LOST');
});

test('the same proposal committed twice is caught', () => {
  const c = new SafetyChecker();
  c.onCommit('n1', 1, 0, 2, logOf([entry(1, 1, 9), entry(2, 1, 9)]));
  assert.equal(invariantOf(c), 'DUPLICATE_COMMIT');
});

test('a read answered below the commit index known when it was issued is not linearizable', () => {
  const c = new SafetyChecker();
  c.onCommit('n1', 1, 0, 2, logOf([entry(1, 1), entry(2, 1)]));
  c.onReadIssued('r1');
  c.onReadState('n2', { context: 'r1', index: 2 });
  assert.equal(c.violation, null);
  c.onReadIssued('r2');
  c.onReadState('n2', { context: 'r2', index: 1 });
  assert.equal(invariantOf(c), 'READ_LINEARIZABILITY');
});
