// Log replication: the figure 8 commitment rule, fast back-off over a long conflicting log,
// batching and the in-flight window, and a lagging follower that needs a snapshot.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AppendRequest, Message } from '../../../src/raft/index.js';
import { bytes, Cluster } from './network.js';

/**
 * The Raft paper's figure 8 on five nodes (a..e = S1..S5), with one entry per append so the
 * test can stop the new leader after it re-replicated its old-term entry but before its own no-op.
 * Returns the cluster and the index of the old-term entry.
 */
function figure8(commitPreviousTermByCount: boolean): { c: Cluster; index: number; aCommitBeforeOverwrite: number } {
  const c = new Cluster(['a', 'b', 'c', 'd', 'e'], {
    config: { checkQuorum: false, maxEntriesPerMessage: 1 },
    configFor: (id) => (id === 'a' ? { faults: { commitPreviousTermByCount } } : {}),
  });
  // (a) a leads and replicates x (index 12) to b only.
  c.elect('a');
  c.partition(['a', 'b'], ['c', 'd', 'e']);
  const x = c.core('a').propose(bytes('x'));
  assert.ok(x.ok);
  c.stabilize();
  // (b) e is elected by c, d, e but its entry at index 12 (its no-op) reaches nobody.
  c.partition(['c', 'd', 'e']);
  const dropEAppends = c.drop;
  c.drop = (m) => dropEAppends(m) || (m.from === 'e' && m.type === 'append');
  c.elect('e');
  assert.equal(c.core('e').status().lastIndex, x.index);
  // (c) e is cut off; a restarts and is elected again (by a, b, c or d) and re-replicates x to c, but the
  //     append carrying its own no-op (index 13) to c is lost (b gets it), and d hears nothing.
  //     Now x (term 2) is on a, b, c: a majority by count, but not of a's term.
  c.restart('a');
  c.partition(['a', 'b', 'c', 'd']);
  const base = c.drop;
  const wouldAccept = (m: AppendRequest): boolean => c.core(m.to).status().lastIndex >= m.prevIndex;
  c.drop = (m) =>
    base(m) || m.to === 'd' || m.from === 'd' || (m.type === 'append' && m.to === 'c' && wouldAccept(m) && m.entries.some((en) => en.index > x.index));
  c.elect('a');
  c.stabilize();
  assert.equal(c.core('c').status().lastIndex, x.index, 'c holds x (term 2) at 12');
  const aCommitBeforeOverwrite = c.core('a').status().commit;
  // (d) e restarts and is elected by c, d (its last term, 3, beats their 2) and
  //     overwrites x. With the fault, a has already applied x: two nodes disagree at index 12.
  c.restart('e');
  c.partition(['c', 'd', 'e']);
  c.elect('e');
  c.stabilize();
  return { c, index: x.index, aCommitBeforeOverwrite };
}

test('figure 8: an old-term entry on a majority is not committed by counting', () => {
  const { c, index, aCommitBeforeOverwrite } = figure8(false);
  assert.ok(aCommitBeforeOverwrite < index, `a committed ${aCommitBeforeOverwrite} ≥ ${index} by count`);
  assert.equal(c.node('c').applied.get(index), '', "e's no-op of term 3 replaced x on c");
  c.heal();
  c.tickAll(3);
  assert.deepEqual(c.leaders(), ['e']);
  for (const id of ['a', 'b', 'c', 'd', 'e']) {
    assert.notEqual(c.node(id).applied.get(index), 'x');
    assert.equal(c.core(id).status().commit, c.core('e').status().commit);
  }
  c.checkSafety();
});

test('figure 8 with the commit-by-count fault: the bug becomes a state machine safety violation', () => {
  const { c, index, aCommitBeforeOverwrite } = figure8(true);
  assert.ok(aCommitBeforeOverwrite >= index);
  assert.equal(c.node('a').applied.get(index), 'x');
  assert.throws(() => c.checkSafety(), /index 12/);
});

function appendRejectsFrom(messages: Message[], from: string): number {
  return messages.filter((m) => m.type === 'appendResp' && m.from === from && m.reject).length;
}

test('fast back-off: a follower with 200 conflicting entries is repaired in a couple of round trips', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { checkQuorum: false } });
  c.elect('a');
  c.isolate('a');
  for (let i = 0; i < 200; i++) assert.ok(c.core('a').propose(bytes(`stale-${i}`)).ok);
  c.stabilize();
  c.elect('b');
  for (let i = 0; i < 50; i++) assert.ok(c.core('b').propose(bytes(`new-${i}`)).ok);
  c.stabilize();
  // A third leader starts probing a from the end of the 50 term-3 entries: a's log there is all
  // term 2, so without hints the leader would walk back one entry per round trip.
  c.elect('c');
  c.heal();
  c.delivered = [];
  c.tick(['c']);
  c.stabilize();
  const rejects = appendRejectsFrom(c.delivered, 'a');
  assert.ok(rejects >= 1 && rejects <= 2, `took ${rejects} rejections`);
  assert.equal(c.core('a').status().lastIndex, c.core('c').status().lastIndex);
  assert.equal(c.core('a').status().commit, c.core('c').status().commit);
  c.checkSafety();
});

test('batching: appends respect maxEntriesPerMessage and maxBytesPerMessage, at least one entry each', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { maxEntriesPerMessage: 8, maxBytesPerMessage: 200 } });
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 100; i++) assert.ok(c.core('a').propose(bytes(`v${i}`)).ok);
  c.stabilize();
  assert.ok(c.core('a').propose(bytes('x'.repeat(1000))).ok, 'a big entry still goes out alone');
  c.stabilize();
  c.heal();
  c.delivered = [];
  c.tickAll(5);
  const appends = c.delivered.filter((m): m is AppendRequest => m.type === 'append' && m.to === 'c' && m.entries.length > 0);
  assert.ok(appends.length > 0);
  for (const m of appends) {
    assert.ok(m.entries.length <= 8);
    const size = m.entries.reduce((n, e) => n + e.data.byteLength, 0);
    assert.ok(m.entries.length === 1 || size <= 200);
  }
  assert.equal(c.core('c').status().commit, c.core('a').status().commit);
});

test('pipelining: in replicate state appends go out without waiting, up to maxInflight', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { maxInflight: 4, maxEntriesPerMessage: 1 } });
  c.elect('a');
  c.queue = [];
  c.drop = (m) => m.type === 'appendResp';
  for (let i = 0; i < 10; i++) assert.ok(c.core('a').propose(bytes(`p${i}`)).ok);
  c.processAll();
  const toB = c.queue.filter((m) => m.type === 'append' && m.to === 'b');
  assert.equal(toB.length, 4, 'window of 4 unacknowledged appends');
  assert.equal(c.core('a').status().progress['b']!.inflight, 4);
  assert.equal(c.core('a').status().progress['b']!.state, 'replicate');
  c.heal();
  c.stabilize();
  c.tickAll(3);
  assert.equal(c.core('b').status().commit, c.core('a').status().commit);
  c.checkSafety();
});

test('a lagging follower behind the compaction point gets a snapshot and catches up', () => {
  const c = new Cluster(['a', 'b', 'c'], { keepReadies: true });
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 50; i++) assert.ok(c.core('a').propose(bytes(`v${i}`)).ok);
  c.stabilize();
  const applied = c.node('a').appliedIndex;
  const snap = c.core('a').compact(applied, c.snapshotData('a'), 5);
  assert.equal(snap.meta.index, applied);
  assert.deepEqual(snap.meta.conf.voters, ['a', 'b', 'c']);
  assert.equal(c.core('a').status().firstIndex, applied - 5 + 1);
  c.heal();
  c.tickAll(5);
  const node = c.node('c');
  assert.equal(node.snapshotsInstalled, 1);
  assert.ok(node.readies.some((rd) => rd.snapshot !== null && rd.snapshot.meta.index === applied));
  assert.equal(c.core('c').status().firstIndex, applied + 1);
  assert.equal(c.core('c').status().commit, c.core('a').status().commit);
  assert.equal(c.core('a').status().progress['c']!.state, 'replicate');
  assert.equal(node.applied.get(applied), 'v49');
  // New entries flow normally after the snapshot.
  const r = c.core('a').propose(bytes('after'));
  assert.ok(r.ok);
  c.stabilize();
  assert.equal(node.applied.get(r.index), 'after');
  c.checkSafety();
  // The leader restarts from its snapshot plus a disk that still holds entries the snapshot covers.
  c.node('a').disk.snapshot = snap;
  c.restart('a');
  assert.equal(c.core('a').status().firstIndex, applied + 1);
  assert.equal(c.core('a').status().lastIndex, r.index);
  c.tickAll(30);
  assert.equal(c.leaders().length, 1);
  c.checkSafety();
});

test('a snapshot lost in transit is sent again after an election timeout', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 20; i++) assert.ok(c.core('a').propose(bytes(`v${i}`)).ok);
  c.stabilize();
  c.core('a').compact(c.node('a').appliedIndex, c.snapshotData('a'), 0);
  c.drop = (m) => m.type === 'snapshot';
  c.tickAll(3);
  assert.equal(c.core('a').status().progress['c']!.state, 'snapshot');
  c.heal();
  c.tickAll(25);
  assert.equal(c.node('c').snapshotsInstalled, 1);
  assert.equal(c.core('c').status().commit, c.core('a').status().commit);
});

test('the uncommitted-bytes limit refuses proposals once exceeded', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { maxUncommittedBytes: 100 } });
  c.elect('a');
  c.isolate('a');
  assert.ok(c.core('a').propose(bytes('x'.repeat(80))).ok);
  const refused = c.core('a').propose(bytes('y'.repeat(40)));
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.code, 'UNCOMMITTED_LIMIT');
  c.heal();
  c.tickAll(2);
  assert.ok(c.core('a').propose(bytes('y'.repeat(40))).ok, 'room again once committed');
});

test('proposeBatch appends contiguous entries and answers with the index of the last one', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const last = c.core('a').status().lastIndex;
  const r = c.core('a').proposeBatch([bytes('b0'), bytes('b1'), bytes('b2')]);
  assert.ok(r.ok);
  assert.equal(r.index, last + 3);
  c.stabilize();
  assert.deepEqual([last + 1, last + 2, last + 3].map((i) => c.node('b').applied.get(i)), ['b0', 'b1', 'b2']);
  const empty = c.core('a').proposeBatch([]);
  assert.equal(!empty.ok && empty.code, 'INVALID_MESSAGE');
});
