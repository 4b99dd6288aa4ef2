// Elections: basic leader election, pre-vote keeping a partitioned node from disrupting,
// check-quorum stepping a cut-off leader down, and a partitioned old leader rejoining.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytes, Cluster } from './network.js';

test('three nodes elect exactly one leader, which commits its no-op', () => {
  const c = new Cluster(['a', 'b', 'c'], { seed: 7 });
  c.tickAll(25);
  const leaders = c.leaders();
  assert.equal(leaders.length, 1);
  const leader = c.core(leaders[0]!).status();
  for (const id of ['a', 'b', 'c']) {
    const s = c.core(id).status();
    assert.equal(s.leader, leader.id);
    assert.equal(s.term, leader.term);
    // 6 bootstrap conf entries (3 addLearner + 3 promote) and the leader's no-op.
    assert.equal(s.commit, 7);
    assert.equal(c.node(id).applied.get(7), '');
  }
  assert.ok(leader.term >= 2);
  c.checkSafety();
});

test('a single voter elects itself at once and commits alone', () => {
  const c = new Cluster(['solo']);
  c.elect('solo');
  const r = c.core('solo').propose(bytes('x'));
  assert.ok(r.ok);
  c.stabilize();
  assert.equal(c.node('solo').applied.get(r.index), 'x');
});

test('pre-vote: a partitioned node does not raise its term or disrupt the leader when it returns', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const term = c.core('a').status().term;
  c.isolate('c');
  c.tick(['c'], 100);
  assert.equal(c.core('c').status().term, term, 'pre-votes never change the term');
  c.heal();
  c.tickAll(30);
  assert.equal(c.core('a').status().role, 'leader');
  assert.equal(c.core('a').status().term, term);
  assert.equal(c.core('c').status().leader, 'a');
});

test('without pre-vote and check-quorum the same partition does disrupt (the protection is real)', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { preVote: false, checkQuorum: false } });
  c.elect('a');
  const term = c.core('a').status().term;
  c.isolate('c');
  c.tick(['c'], 100);
  assert.ok(c.core('c').status().term > term + 1);
  c.heal();
  c.tickAll(25); // at least one heartbeat round or election timeout: either one exposes c's higher term
  assert.notEqual(c.core('a').status().term, term, 'the returning node forced a new term');
});

test('check-quorum: a leader cut off from the majority steps down within two election timeouts', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('a');
  c.tick(['a'], 20);
  assert.equal(c.core('a').status().role, 'follower');
  c.tick(['b', 'c'], 40);
  const leaders = c.leaders();
  assert.equal(leaders.length, 1);
  assert.notEqual(leaders[0], 'a');
});

test('a leader in a quorum does not step down', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('c');
  c.tickAll(50);
  assert.equal(c.core('a').status().role, 'leader');
});

test('a partitioned old leader rejoins: its uncommitted entries are replaced, nothing committed is lost', () => {
  const c = new Cluster(['a', 'b', 'c'], { config: { checkQuorum: false } });
  c.elect('a');
  const committed = c.core('a').propose(bytes('committed'));
  assert.ok(committed.ok);
  c.stabilize();
  c.isolate('a');
  const lost = c.core('a').propose(bytes('lost'));
  assert.ok(lost.ok, 'the old leader still accepts proposals: it cannot know yet');
  c.stabilize();
  c.elect('b');
  const kept = c.core('b').propose(bytes('kept'));
  assert.ok(kept.ok);
  c.stabilize();
  c.heal();
  c.tickAll(5);
  assert.equal(c.core('a').status().role, 'follower');
  assert.equal(c.core('a').status().leader, 'b');
  for (const id of ['a', 'b', 'c']) {
    const applied = [...c.node(id).applied.values()];
    assert.ok(applied.includes('committed'));
    assert.ok(applied.includes('kept'));
    assert.ok(!applied.includes('lost'));
  }
  c.checkSafety();
});

test('a node restarted from its persisted state keeps its term, vote and log', () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const r = c.core('a').propose(bytes('x'));
  assert.ok(r.ok);
  c.stabilize();
  const before = c.core('b').status();
  c.restart('b');
  const after = c.core('b').status();
  assert.equal(after.term, before.term);
  assert.equal(after.vote, before.vote);
  assert.equal(after.lastIndex, before.lastIndex);
  assert.equal(after.commit, before.commit);
  assert.deepEqual(after.conf, before.conf);
  c.tickAll(3);
  assert.equal(c.core('b').status().leader, 'a');
});
