// The Ready contract: what to persist is the unstable suffix, hard and soft state appear only when
// they change, a leader's own entries count toward commit only once persisted, ready/advance pair up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft, defaultRaftConfig, type RaftCore } from '../../../src/raft/index.js';
import { bytes, Cluster, confOf, seeded } from './network.js';

function solo(): RaftCore {
  return createRaft(defaultRaftConfig('s', seeded(3)), {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: null,
    entries: [],
    bootstrap: confOf(['s']),
    applied: 0,
  });
}

test('the first Ready persists and applies the bootstrap entries; an idle core has nothing', () => {
  const core = solo();
  const rd = core.ready();
  assert.deepEqual(rd.entries.map((e) => [e.index, e.term, e.type]), [
    [1, 1, 'conf'],
    [2, 1, 'conf'],
  ]);
  assert.deepEqual(rd.hardState, { term: 1, vote: null, commit: 2 });
  assert.equal(rd.softState, null, 'still a follower of no one');
  assert.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2]);
  core.advance();
  assert.equal(core.hasReady(), false);
});

test('hard and soft state appear only when they change; entries are only the unstable suffix', () => {
  const core = solo();
  core.ready();
  core.advance();
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
  assert.equal(rd.softState?.role, 'leader');
  assert.deepEqual(rd.entries.map((e) => e.index), [3]);
  core.advance();
  assert.throws(() => core.advance(), (e: Error & { code?: string }) => e.code === 'RAFT_INVARIANT');
});

test('compact() refuses an index beyond what was applied, and returns the snapshot to persist', () => {
  const core = solo();
  core.ready();
  core.advance();
  core.campaign();
  assert.ok(core.propose(bytes('x')).ok);
  assert.throws(() => core.compact(4, bytes('sm'), 0), (e: Error & { code?: string }) => e.code === 'RAFT_INVARIANT');
  while (core.hasReady()) {
    core.ready();
    core.advance();
  }
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
