// SimLog applies the Ready persistence rules: overwrite-and-truncate, snapshot replace, compaction.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry, Snapshot } from '../../../src/raft/types.js';
import { SimLog } from '../../../src/sim/log.js';

const e = (index: number, term: number): Entry => ({ index, term, type: 'normal', data: new Uint8Array() });
const snap = (index: number, term: number): Snapshot => ({
  meta: { index, term, conf: { voters: ['n1'], learners: [], addresses: { n1: 'sim:n1' } } },
  data: new Uint8Array(),
});

test('an entry at a held index replaces it and everything after it', () => {
  const log = SimLog.from(null, [e(1, 1), e(2, 1), e(3, 1), e(4, 1)]);
  assert.equal(log.append([e(2, 2)]), 2);
  assert.equal(log.lastIndex, 2);
  assert.equal(log.term(2), 2);
  assert.equal(log.term(3), undefined);
  assert.throws(() => log.append([e(4, 2)]), RangeError);
});

test('a received snapshot replaces the log; compaction keeps what follows', () => {
  const log = SimLog.from(null, [e(1, 1), e(2, 1), e(3, 1)]);
  log.installSnapshot(snap(5, 2));
  assert.equal(log.lastIndex, 5);
  assert.equal(log.term(5), 2);
  assert.equal(log.entry(3), undefined);
  log.append([e(6, 2), e(7, 2), e(8, 2)]);
  log.compact(snap(7, 2), 6);
  assert.equal(log.snapshotIndex, 7);
  assert.equal(log.entry(6), undefined);
  assert.equal(log.term(7), 2);
  assert.deepEqual(log.entriesAfterSnapshot().map((x) => x.index), [8]);
});
