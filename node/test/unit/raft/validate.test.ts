// step() refuses malformed and out-of-range messages with INVALID_MESSAGE, touching no state.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from '../../../src/raft/index.js';
import { bytes, Cluster } from './network.js';

const entry = (index: number, term: number, data = 'x') => ({ index, term, type: 'normal', data: bytes(data) });

/** Messages to `b` (term 2 cluster led by `a`) that must all be refused. */
function malformed(): unknown[] {
  const env = { from: 'a', to: 'b', term: 2 };
  const append = { ...env, type: 'append', prevIndex: 7, prevTerm: 2, entries: [entry(8, 2)], commit: 7 };
  return [
    null,
    42,
    'append',
    { ...env, type: 'bogus' },
    { ...append, to: 'c' },
    { ...append, from: 'b' },
    { ...append, from: '' },
    { ...append, term: -1 },
    { ...append, term: 2.5 },
    { ...append, term: Number.NaN },
    { ...append, prevIndex: -1 },
    { ...append, commit: '7' },
    { ...append, entries: 'nope' },
    { ...append, entries: [entry(9, 2)] },
    { ...append, entries: [entry(8, 2), entry(10, 2)] },
    { ...append, entries: [entry(8, 3)] },
    { ...append, entries: [entry(8, 1)] },
    { ...append, entries: [{ ...entry(8, 2), data: 'str' }] },
    { ...append, entries: [{ ...entry(8, 2), type: 'weird' }] },
    { ...append, entries: [{ ...entry(8, 2), type: 'conf', data: bytes('{"type":"explode"}') }] },
    { ...append, prevTerm: 3 },
    { ...append, prevIndex: 0, prevTerm: 2 },
    { ...env, type: 'vote', lastLogIndex: 7, lastLogTerm: 2, transfer: false },
    { ...env, type: 'vote', term: 3, lastLogIndex: 7, lastLogTerm: 2 },
    { ...env, type: 'preVote', term: 3, lastLogIndex: -7, lastLogTerm: 2, transfer: false },
    { ...env, type: 'voteResp' },
    { ...env, type: 'appendResp', index: 3, reject: true, hintIndex: 5, hintTerm: 1 },
    { ...env, type: 'appendResp', index: 3, reject: false, hintIndex: 0, hintTerm: 9 },
    { ...env, type: 'heartbeat', commit: 1 },
    { ...env, type: 'heartbeat', commit: 1, context: 'x'.repeat(5000) },
    { ...env, type: 'snapshot', snapshot: { meta: { index: 0, term: 1, conf: { voters: ['a'], learners: [], addresses: { a: 'a:1' } } }, data: bytes('') } },
    { ...env, type: 'snapshot', snapshot: { meta: { index: 20, term: 9, conf: { voters: ['a'], learners: [], addresses: { a: 'a:1' } } }, data: bytes('') } },
    { ...env, type: 'snapshot', snapshot: { meta: { index: 20, term: 2, conf: { voters: ['a'], learners: [], addresses: {} } }, data: bytes('') } },
    { ...env, type: 'snapshot', snapshot: { meta: { index: 20, term: 2, conf: { voters: [], learners: [], addresses: {} } }, data: bytes('') } },
    { ...env, type: 'readIndexResp', context: 'c', index: 4, reject: true },
    { ...env, type: 'timeoutNow', term: 0 },
  ];
}

test('every malformed message is refused with INVALID_MESSAGE and changes nothing', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.tickAll(2);
  const b = c.core('b');
  const before = JSON.stringify(b.status());
  assert.equal(b.hasReady(), false);
  for (const m of malformed()) {
    const r = b.step(m as Message);
    assert.equal(r.ok, false, `accepted ${JSON.stringify(m)}`);
    assert.equal(!r.ok && r.code, 'INVALID_MESSAGE');
    assert.equal(JSON.stringify(b.status()), before, `state changed by ${JSON.stringify(m)}`);
    assert.equal(b.hasReady(), false, `output produced by ${JSON.stringify(m)}`);
  }
});

test('the well-formed twin of a refused message is accepted (the checks are not blanket refusals)', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.tickAll(2);
  const last = c.core('a').status().lastIndex;
  const term = c.core('a').status().term;
  const ok = c.core('b').step({ from: 'a', to: 'b', term, type: 'append', prevIndex: last, prevTerm: term, entries: [{ index: last + 1, term, type: 'normal', data: bytes('x') }], commit: last });
  assert.ok(ok.ok);
  assert.equal(c.core('b').status().lastIndex, last + 1);
});

test('a leader refuses an acknowledgement of an index beyond its log', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const s = c.core('a').status();
  const before = JSON.stringify(s);
  const r = c.core('a').step({ from: 'b', to: 'a', term: s.term, type: 'appendResp', index: s.lastIndex + 5, reject: false, hintIndex: 0, hintTerm: 0 });
  assert.equal(!r.ok && r.code, 'INVALID_MESSAGE');
  assert.equal(JSON.stringify(c.core('a').status()), before);
});
