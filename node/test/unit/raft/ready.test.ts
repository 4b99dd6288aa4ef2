// The Ready contract: what to persist is the unstable suffix, hard and soft state appear only when
// they change, a leader's own entries count toward commit only once persisted, ready/advance pair up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft, defaultRaftConfig, type RaftCore } from '../../../src/raft/index.js';
import { bytes, Cluster, confOf, seeded } from './network.js';
import type { AppendRequest, Message } from '../../../src/raft/types.js';

/** A brand-new member `id` of a cluster of `voters`, over an empty log. */
function member(id: string, voters: string[], seed: number): RaftCore {
  return createRaft(defaultRaftConfig(id, seeded(seed)), {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: null,
    entries: [],
    bootstrap: confOf(voters),
    applied: 0,
  });
}

function solo(): RaftCore {
  return member('s', ['s'], 3);
}

/** Takes and acknowledges every pending Ready. */
function drain(core: RaftCore): void {
  while (core.hasReady()) {
    core.ready();
    core.advance();
  }
}

test('the first Ready persists the bootstrap entries, the next applies them; an idle core has nothing', () => {
  const core = solo();
  const rd = core.ready();
  assert.deepEqual(rd.entries.map((e) => [e.index, e.term, e.type]), [
    [1, 1, 'conf'],
    [2, 1, 'conf'],
  ]);
  assert.deepEqual(rd.hardState, { term: 1, vote: null, commit: 2 });
  assert.equal(rd.softState, null, 'still a follower of no one');
  assert.deepEqual(rd.committedEntries, [], 'committed, but not applied before they are durable');
  core.advance();
  assert.deepEqual(core.ready().committedEntries.map((e) => e.index), [1, 2]);
  core.advance();
  assert.equal(core.hasReady(), false);
});

test('hard and soft state appear only when they change; entries are only the unstable suffix', () => {
  const core = solo();
  drain(core);
  core.campaign();
  const elected = core.ready();
  assert.deepEqual(elected.softState, { role: 'leader', leader: 's', term: 2 });
  assert.deepEqual(elected.hardState, { term: 2, vote: 's', commit: 2 });
  assert.deepEqual(elected.entries.map((e) => e.index), [3]);
  assert.deepEqual(elected.committedEntries, [], 'the leader counts its no-op only once persisted');
  core.advance();
  const committed = core.ready();
  assert.equal(committed.softState, null);
  assert.deepEqual(committed.hardState, { term: 2, vote: 's', commit: 3 });
  assert.deepEqual(committed.entries, []);
  assert.deepEqual(committed.committedEntries.map((e) => e.index), [3]);
  core.advance();
  const r = core.propose(bytes('x'));
  assert.ok(r.ok);
  const next = core.ready();
  assert.equal(next.softState, null);
  assert.equal(next.hardState, null, 'nothing in the hard state changed yet');
  assert.deepEqual(next.entries.map((e) => e.index), [4], 'only the new entry, not the whole log');
  core.advance();
  assert.deepEqual(core.ready().committedEntries.map((e) => e.index), [4]);
  core.advance();
  core.tick();
  assert.equal(core.hasReady(), false, 'a single voter has nobody to heartbeat');
});

test('ready() twice without advance() is a contract violation; input between them is fine', () => {
  const core = solo();
  core.ready();
  assert.throws(() => core.ready(), (e: Error & { code?: string }) => e.code === 'RAFT_INVARIANT');
  core.campaign();
  core.advance();
  const rd = core.ready();
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2], 'applied once the first Ready made them durable');
  assert.equal(rd.softState?.role, 'leader');
  assert.deepEqual(rd.entries.map((e) => e.index), [3]);
  core.advance();
  assert.throws(() => core.advance(), (e: Error & { code?: string }) => e.code === 'RAFT_INVARIANT');
});

test('compact() refuses an index beyond what was applied, and returns the snapshot to persist', () => {
  const core = solo();
  drain(core);
  core.campaign();
  assert.ok(core.propose(bytes('x')).ok);
  assert.throws(() => core.compact(4, bytes('sm'), 0), (e: Error & { code?: string }) => e.code === 'RAFT_INVARIANT');
  drain(core);
  const snap = core.compact(4, bytes('sm'), 0);
  assert.deepEqual(snap.meta, { index: 4, term: 2, conf: confOf(['s']) });
  assert.equal(core.status().firstIndex, 5);
  assert.equal(core.compact(3, bytes('older'), 0), snap, 'an older index keeps the newer snapshot');
});

test("a follower's ack does not commit an entry the leader has not persisted yet", () => {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const a = c.core('a');
  const r = a.propose(bytes('x'));
  assert.ok(r.ok);
  // The driver sends the leader's messages before its own fsync completes (allowed).
  const rd = a.ready();
  assert.deepEqual(rd.entries.map((e) => e.index), [r.index]);
  for (const m of rd.messages) if (m.to === 'b') assert.ok(c.core('b').step(m).ok);
  c.process('b');
  for (const m of c.queue.splice(0)) if (m.to === 'a') assert.ok(a.step(m).ok);
  assert.ok(a.status().commit < r.index, 'a and b count only if a has x on disk');
  a.advance();
  assert.equal(a.status().commit, r.index, 'durable on a and b: committed');
});

/**
 * Leader a proposes x and hands its Ready off (its write of x runs on); b and c persist x and
 * acknowledge it, which commits x without a.
 */
function committedWhileLeaderWrites(): { a: RaftCore; x: { index: number; term: number } } {
  const c = new Cluster(['a', 'b', 'c']);
  c.elect('a');
  const a = c.core('a');
  const x = a.propose(bytes('x'));
  assert.ok(x.ok);
  const rd = a.ready();
  assert.deepEqual(rd.entries.map((e) => e.index), [x.index]);
  a.handOff();
  for (const id of ['b', 'c']) {
    for (const m of rd.messages) if (m.to === id) assert.ok(c.core(id).step(m).ok);
    c.process(id);
  }
  for (const m of c.queue.splice(0)) if (m.to === 'a') assert.ok(a.step(m).ok);
  assert.equal(a.status().commit, x.index, 'b and c hold x durably: committed without a');
  return { a, x };
}

test('a handed-off Ready: the next may be taken at once; its entries count and apply only once persisted() reports them', () => {
  const { a, x } = committedWhileLeaderWrites();
  const next = a.ready();
  assert.deepEqual(next.committedEntries, [], 'but a does not apply x before its own write of it ends');
  a.handOff();
  a.persisted(x.index, x.term);
  assert.deepEqual(a.ready().committedEntries.map((e) => e.index), [x.index]);
  a.advance();
});

test('persisted() of entries a later leader replaced since proves nothing: the replacements apply only once their own save reports', () => {
  const core = member('c', ['a', 'b', 'c'], 5);
  drain(core);
  const base = core.status().lastIndex;
  const at = base + 1;
  const append = (from: string, term: number, data: string, commit: number) => core.step({
    type: 'append', from, to: 'c', term, prevIndex: base, prevTerm: 1, commit,
    entries: [{ term, index: at, type: 'normal', data: bytes(data) }],
  });
  assert.ok(append('a', 2, 'x', base).ok);
  const rd = core.ready();
  assert.deepEqual(rd.entries.map((e) => e.term), [2]);
  core.handOff(); // the save of x runs on
  assert.ok(append('b', 3, 'y', at).ok, 'the leader of term 3 replaces x with y and commits it');
  core.persisted(at, 2); // the save of x ends
  const next = core.ready();
  assert.deepEqual(next.entries.map((e) => e.term), [3], 'y is to be saved');
  assert.deepEqual(next.committedEntries, [], 'y is committed but not durable here: x being saved says nothing of y');
  core.advance();
  assert.deepEqual(core.ready().committedEntries.map((e) => new TextDecoder().decode(e.data)), ['y']);
  core.advance();
});

test('a Ready with a snapshot is never handed off: the snapshot must be durable before anything counts it', () => {
  const core = member('c', ['a', 'b', 'c'], 5);
  drain(core);
  const snapshot = { meta: { index: 50, term: 2, conf: confOf(['a', 'b', 'c']) }, data: bytes('sm') };
  assert.ok(core.step({ type: 'snapshot', from: 'a', to: 'c', term: 2, snapshot }).ok);
  assert.equal(core.ready().snapshot, snapshot);
  assert.throws(() => core.handOff(), (e: Error & { code?: string }) => e.code === 'RAFT_INVARIANT');
});

test('a leader tells its followers a commit once, with the appends it sends when its own write ends, not per acknowledgement while the write runs', () => {
  const { a, x } = committedWhileLeaderWrites();
  const appends = (r: { messages: readonly Message[] }) => r.messages.filter((m): m is AppendRequest => m.type === 'append');
  if (a.hasReady()) {
    assert.deepEqual(appends(a.ready()), [], 'no commit-only append while a\'s write runs');
    a.handOff();
  }
  a.persisted(x.index, x.term);
  const y = a.propose(bytes('y'));
  assert.ok(y.ok);
  const next = appends(a.ready());
  assert.deepEqual(next.map((m) => [m.to, m.entries.map((e) => e.index), m.commit]), [['b', [y.index], x.index], ['c', [y.index], x.index]],
    'one append per follower carries both y and the commit of x');
  a.handOff();
  a.persisted(y.index, y.term);
  assert.equal(a.hasReady() && appends(a.ready()).length > 0, false, 'nothing more to tell until y commits');
});
