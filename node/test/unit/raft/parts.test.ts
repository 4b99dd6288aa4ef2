// The core's small parts on their own: quorum arithmetic, the in-flight window, conf change
// encoding and application, and the log's conflict search.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyConfChange, confChangeProblem } from '../../../src/raft/confchange.js';
import { Inflights } from '../../../src/raft/inflights.js';
import { RaftLog } from '../../../src/raft/log.js';
import { majority, quorumIndex, voteOutcome } from '../../../src/raft/quorum.js';
import { decodeConfChange, encodeConfChange } from '../../../src/raft/index.js';
import { confOf } from './network.js';

test('quorum: majority sizes, the index a majority reached, vote outcomes', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
  assert.equal(quorumIndex([5, 1, 3]), 3);
  assert.equal(quorumIndex([9, 9, 1, 1]), 1);
  assert.equal(quorumIndex([9, 9, 9, 1]), 9);
  assert.equal(quorumIndex([]), 0);
  const votes = new Map([['a', true], ['b', false]]);
  assert.equal(voteOutcome(['a', 'b', 'c'], votes), 'pending');
  votes.set('c', true);
  assert.equal(voteOutcome(['a', 'b', 'c'], votes), 'won');
  assert.equal(voteOutcome(['a', 'b', 'c'], new Map([['b', false], ['c', false]])), 'lost');
  assert.equal(voteOutcome(['a', 'b', 'c', 'd'], new Map([['a', true], ['b', true]])), 'pending');
});

test('inflights: bounded window, freed by acknowledgement', () => {
  const w = new Inflights(3);
  w.add(2);
  w.add(5);
  w.add(9);
  assert.ok(w.full());
  assert.throws(() => w.add(10), /overflow/);
  w.freeUpTo(5);
  assert.equal(w.size, 1);
  w.add(12);
  w.freeFirst();
  assert.equal(w.size, 1);
  assert.throws(() => w.add(11), /increase/);
});

test('conf changes: encode/decode round trip, validation, application', () => {
  const cc = { type: 'addLearner', node: 'd', address: 'd:1' } as const;
  assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  assert.throws(() => decodeConfChange(new Uint8Array([0xff])), (e: Error & { code?: string }) => e.code === 'INVALID_CONF_CHANGE');
  assert.throws(() => encodeConfChange({ type: 'promote', node: '' }));
  const conf = confOf(['a', 'b'], ['c']);
  assert.equal(confChangeProblem(conf, { type: 'promote', node: 'c' }), null);
  assert.notEqual(confChangeProblem(conf, { type: 'promote', node: 'a' }), null);
  const promoted = applyConfChange(conf, { type: 'promote', node: 'c' });
  assert.deepEqual(promoted.voters, ['a', 'b', 'c']);
  assert.deepEqual(promoted.learners, []);
  const removed = applyConfChange(promoted, { type: 'remove', node: 'a' });
  assert.deepEqual(removed.voters, ['b', 'c']);
  assert.equal(removed.addresses['a'], undefined);
  assert.deepEqual(conf.voters, ['a', 'b'], 'the input configuration is not mutated');
});

test('log: conflict search by term, truncation below commit is refused', () => {
  const data = new Uint8Array(0);
  const terms = [1, 1, 2, 2, 2, 5, 5];
  const log = new RaftLog(null, terms.map((term, i) => ({ term, index: i + 1, type: 'normal' as const, data })), 3, 0);
  assert.equal(log.findConflictByTerm(7, 4), 5);
  assert.equal(log.findConflictByTerm(7, 1), 2);
  assert.equal(log.findConflictByTerm(7, 0), 0);
  assert.equal(log.findConflictByTerm(100, 5), 7);
  assert.equal(log.maybeAppend(7, 4, []), -1, 'prev term mismatch');
  assert.equal(log.maybeAppend(5, 2, [{ term: 6, index: 6, type: 'normal', data }]), 6);
  assert.equal(log.lastIndex(), 6);
  assert.throws(() => log.maybeAppend(2, 1, [{ term: 7, index: 3, type: 'normal', data }]), /at or below commit/);
});
