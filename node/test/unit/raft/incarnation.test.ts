// Incarnations: a member whose disk was wiped is a new member. It neither votes nor campaigns nor
// counts toward a quorum until a `replace` conf change admits its new incarnation (as a learner,
// promoted once caught up); messages from a former incarnation are dropped. With the
// `ignoreIncarnations` fault the same script loses a committed entry, which proves the test bites.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyConfChange, confChangeProblem, decodeConfChange, encodeConfChange } from '../../../src/raft/confchange.js';
import type { ConfState, Message } from '../../../src/raft/index.js';
import { decodeMessage, encodeMessage } from '../../../src/transport/codec.js';
import { bytes, Cluster, confOf } from './network.js';

const INCARNATIONS = () => ({ a: 'a1', b: 'b1', c: 'c1' });

/** a leads; b is cut off; x commits on a and c; c loses its disk; a goes away; b and c are left. */
function wipeAfterCommit(faulty: boolean): { c: Cluster; x: number } {
  const c = new Cluster(['a', 'b', 'c'], { incarnations: INCARNATIONS(), config: faulty ? { faults: { ignoreIncarnations: true } } : {} });
  c.elect('a');
  c.isolate('b');
  const r = c.core('a').propose(bytes('x'));
  assert.ok(r.ok);
  c.stabilize();
  assert.ok(c.core('a').status().commit >= r.index, 'x committed on a and c');
  c.wipe('c', 'c2');
  c.partition(['a'], ['b', 'c']);
  for (let i = 0; i < 30 && c.leaders().filter((id) => id !== 'a').length === 0; i++) {
    c.tick(['b', 'c'], 25);
    c.stabilize();
  }
  return { c, x: r.index };
}

test('a wiped follower\'s vote does not count: the survivor cannot elect itself without the committed entry', () => {
  const { c, x } = wipeAfterCommit(false);
  assert.deepEqual(c.leaders().filter((id) => id !== 'a'), [], 'b and the wiped c elect nobody');
  assert.equal(c.core('c').status().conf.voters.length, 0, 'the wiped node has no configuration yet');

  // a comes back: the cluster recovers with x, and c is replaced, caught up and promoted.
  c.heal();
  c.tickAll(60);
  c.stabilize();
  const leader = c.leaders()[0]!;
  assert.ok(leader === 'a' || leader === 'b', `a leader among the old disks (got ${leader})`);
  assert.ok(c.core(leader).status().commit >= x);
  const replace = c.core(leader).proposeConfChange({ type: 'replace', node: 'c', address: 'c.test:7000', incarnation: 'c2' });
  assert.ok(replace.ok, JSON.stringify(replace));
  c.stabilize();
  c.tickAll(4);
  c.stabilize();
  const st = c.core(leader).status();
  assert.deepEqual(st.conf.learners, ['c']);
  assert.equal(st.conf.incarnations?.['c'], 'c2');
  assert.equal(st.progress['c']!.match, st.lastIndex, 'the new incarnation caught up from scratch');
  const promote = c.core(leader).proposeConfChange({ type: 'promote', node: 'c', incarnation: 'c2' });
  assert.ok(promote.ok, JSON.stringify(promote));
  c.stabilize();
  c.tickAll(4);
  c.stabilize();
  assert.ok(c.core(leader).status().conf.voters.includes('c'));
  assert.equal(c.node('c').applied.get(x), 'x', 'c applied x from the leader');
  c.checkSafety();
});

test('with incarnations ignored, the same script elects b without the committed entry', () => {
  const { c, x } = wipeAfterCommit(true);
  const leaders = c.leaders().filter((id) => id !== 'a');
  assert.deepEqual(leaders, ['b'], 'b won with the wiped c\'s vote');
  const r = c.core('b').propose(bytes('y'));
  assert.ok(r.ok);
  c.stabilize();
  assert.ok(c.core('b').status().commit >= x, 'b committed over index x');
  assert.throws(() => c.checkSafety(), /index \d+: /, 'a applied x where b applied something else');
});

test('answers from a former incarnation never count', () => {
  const c = new Cluster(['a', 'b', 'c'], { incarnations: INCARNATIONS() });
  c.elect('a');
  c.core('a').propose(bytes('x'));
  assert.ok(c.core('a').ready().messages.every((m) => m.inc === 'a1'), 'every message carries its sender\'s incarnation');
  const stale: Message = { type: 'appendResp', from: 'c', to: 'a', term: c.core('a').status().term, inc: 'c0', index: 1, reject: false, hintIndex: 0, hintTerm: 0 };
  const refused = c.core('a').step(stale);
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.code, 'STALE_INCARNATION');
  const granted: Message = { type: 'voteResp', from: 'c', to: 'b', term: 99, inc: 'c0', reject: false };
  const answer = c.core('b').step(granted);
  assert.equal(!answer.ok && answer.code, 'STALE_INCARNATION', 'a vote from a former incarnation never counts');
  assert.notEqual(c.core('b').status().term, 99);

  // A node whose configuration records it with another incarnation (it was replaced) never votes.
  const replaced = applyConfChange(confOf(['a', 'b', 'c'], [], INCARNATIONS()), { type: 'replace', node: 'b', address: 'b.test:7000', incarnation: 'b9' });
  assert.equal(replaced.incarnations?.['b'], 'b9');
  c.wipe('c', 'c2');
  const ask: Message = { type: 'vote', from: 'a', to: 'b', term: 50, inc: 'a1', lastLogIndex: 99, lastLogTerm: 49, transfer: true };
  assert.ok(c.core('b').step(ask).ok);
  const reply = c.core('b').ready().messages.find((m) => m.type === 'voteResp');
  assert.equal(reply?.type === 'voteResp' && reply.reject, false, 'b, recorded with its own incarnation, votes');
});

test('conf changes: replace and incarnation records', () => {
  const conf: ConfState = confOf(['a', 'b', 'c'], [], { a: 'a1', b: 'b1', c: 'c1' });
  const replaced = applyConfChange(conf, { type: 'replace', node: 'c', address: 'c2.test:7000', incarnation: 'c2' });
  assert.deepEqual(replaced.voters, ['a', 'b']);
  assert.deepEqual(replaced.learners, ['c']);
  assert.equal(replaced.addresses['c'], 'c2.test:7000');
  assert.deepEqual(replaced.incarnations, { a: 'a1', b: 'b1', c: 'c2' });
  assert.equal(confChangeProblem(conf, { type: 'replace', node: 'c', address: 'x:1', incarnation: 'c1' }), 'c already has incarnation c1');
  assert.equal(confChangeProblem(confOf(['a'], [], { a: 'a1' }), { type: 'replace', node: 'a', address: 'x:1', incarnation: 'a2' }), 'cannot replace the last voter');
  assert.match(confChangeProblem(replaced, { type: 'promote', node: 'c', incarnation: 'c9' }) ?? '', /added with incarnation c2/);
  const removed = applyConfChange(replaced, { type: 'remove', node: 'c' });
  assert.deepEqual(removed.incarnations, { a: 'a1', b: 'b1' });
  const learner = applyConfChange(confOf(['a']), { type: 'addLearner', node: 'd', address: 'd:1' });
  assert.equal(learner.incarnations, undefined, 'no empty record map');
  assert.deepEqual(applyConfChange(learner, { type: 'promote', node: 'd', incarnation: 'd1' }).incarnations, { d: 'd1' });
  for (const cc of [{ type: 'replace', node: 'c', address: 'c:1', incarnation: 'c2' }, { type: 'addLearner', node: 'd', address: 'd:1', incarnation: 'd1' }, { type: 'promote', node: 'd' }] as const) {
    assert.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
  }
  assert.throws(() => decodeConfChange(bytes('{"type":"replace","node":"c","address":"c:1"}')), /malformed/);
});

test('the peer codec carries incarnations in messages and in snapshot configurations', () => {
  const conf = confOf(['a', 'b'], ['c'], { a: 'a1', c: 'c7' });
  const msgs: Message[] = [
    { type: 'heartbeatResp', from: 'a', to: 'b', term: 3, inc: 'a1', context: '' },
    { type: 'heartbeatResp', from: 'a', to: 'b', term: 3, context: '' },
    { type: 'snapshot', from: 'a', to: 'b', term: 3, inc: 'a1', snapshot: { meta: { index: 5, term: 2, conf }, data: bytes('s') } },
  ];
  for (const m of msgs) {
    const back = decodeMessage(encodeMessage(m));
    assert.deepEqual(back.type === 'snapshot' ? { ...back, snapshot: { ...back.snapshot, data: Buffer.from(back.snapshot.data).toString() } } : back,
      m.type === 'snapshot' ? { ...m, snapshot: { ...m.snapshot, data: 's' } } : m);
  }
});
