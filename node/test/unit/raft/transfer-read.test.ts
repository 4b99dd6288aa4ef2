// Leadership transfer (to an up-to-date node, to a lagging node, and abandoned after an election
// timeout) and ReadIndex on the leader, on a follower and on a single voter.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytes, Cluster } from './network.js';

test('transfer to a lagging node: proposals pause, the target catches up, then leads', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 30; i++) assert.ok(c.core('a').propose(bytes(`v${i}`)).ok);
  c.stabilize();
  const term = c.core('a').status().term;
  c.heal();
  assert.ok(c.core('a').transferLeadership('c').ok);
  const refused = c.core('a').propose(bytes('during-transfer'));
  assert.equal(!refused.ok && refused.code, 'TRANSFER_IN_PROGRESS');
  assert.equal(c.core('a').status().transferee, 'c');
  c.stabilize();
  c.tickAll(2);
  assert.deepEqual(c.leaders(), ['c']);
  assert.equal(c.core('c').status().term, term + 1);
  assert.equal(c.core('a').status().leader, 'c');
  assert.equal(c.node('c').applied.get(c.core('c').status().commit - 1), 'v29');
  c.checkSafety();
});

test('transfer to an unreachable node is abandoned after an election timeout', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('c');
  assert.ok(c.core('a').transferLeadership('c').ok);
  c.tick(['a', 'b'], 9);
  assert.equal(c.core('a').status().transferee, 'c');
  c.tick(['a', 'b'], 1);
  assert.equal(c.core('a').status().transferee, null);
  assert.equal(c.core('a').status().role, 'leader');
  assert.ok(c.core('a').propose(bytes('ok-again')).ok);
});

test('transfer targets must be voters, and only leaders transfer', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const bad = c.core('a').transferLeadership('nobody');
  assert.equal(!bad.ok && bad.code, 'INVALID_TRANSFER_TARGET');
  const notLeader = c.core('b').transferLeadership('c');
  assert.equal(!notLeader.ok && notLeader.code, 'NOT_LEADER');
});

test('ReadIndex on the leader is answered only after a heartbeat quorum confirms leadership', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const w = c.core('a').propose(bytes('w'));
  assert.ok(w.ok);
  c.stabilize();
  c.isolate('a');
  assert.ok(c.core('a').readIndex('r1').ok);
  c.stabilize();
  assert.deepEqual(c.node('a').readStates, [], 'an isolated leader cannot confirm a read');
  c.heal();
  assert.ok(c.core('a').readIndex('r2').ok);
  c.stabilize();
  // r2's round confirms r1 too (it was queued first).
  assert.deepEqual(c.node('a').readStates, [
    { index: w.index, context: 'r1' },
    { index: w.index, context: 'r2' },
  ]);
});

test('ReadIndex on a follower is forwarded to the leader and comes back as a ReadState', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const w = c.core('a').propose(bytes('w'));
  assert.ok(w.ok);
  c.stabilize();
  assert.ok(c.core('b').readIndex('fr').ok);
  c.stabilize();
  assert.deepEqual(c.node('b').readStates, [{ index: w.index, context: 'fr' }]);
  assert.ok(c.node('b').appliedIndex >= w.index);
  const lonely = new Cluster(['x', 'y', 'z']);
  const none = lonely.core('x').readIndex('nobody-leads');
  assert.equal(!none.ok && none.code, 'NO_LEADER');
});

test('a single voter answers ReadIndex at once; a new leader waits for its no-op first', () => {
  const solo = new Cluster(['s']);
  solo.elect('s');
  assert.ok(solo.core('s').readIndex('now').ok);
  solo.processAll();
  assert.deepEqual(solo.node('s').readStates, [{ index: solo.core('s').status().commit, context: 'now' }]);

  const c = new Cluster(['a', 'b', 'c']);
  c.core('a').campaign();
  c.drop = (m) => m.type === 'appendResp';
  c.stabilize();
  assert.equal(c.core('a').status().role, 'leader');
  assert.ok(c.core('a').readIndex('early').ok);
  c.stabilize();
  assert.deepEqual(c.node('a').readStates, [], 'no commit in its term yet: the read waits');
  c.heal();
  c.tickAll(2);
  const commit = c.core('a').status().commit;
  assert.deepEqual(c.node('a').readStates, [{ index: commit, context: 'early' }]);
});

test('a read whose heartbeat round was lost is confirmed by the next regular heartbeat', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.drop = (m) => m.type === 'heartbeat';
  assert.ok(c.core('a').readIndex('lost-round').ok);
  c.stabilize();
  assert.deepEqual(c.node('a').readStates, []);
  c.heal();
  c.tick(['a']);
  assert.deepEqual(c.node('a').readStates.map((r) => r.context), ['lost-round']);
});
