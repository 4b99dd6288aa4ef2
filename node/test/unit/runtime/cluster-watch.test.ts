// The cluster watch: versions bump once per change of role, leader, term or membership (and not for
// repeats); listeners and long polls see each change; polls time out with the current version and
// are bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterWatch, MAX_CLUSTER_WATCHERS } from '../../../src/runtime/cluster-watch.js';

test('each change of role, leader, term or members is one version; repeats are none', () => {
  const w = new ClusterWatch({ role: 'follower', leader: null, term: 1 }, { voters: ['a', 'b'], learners: [] });
  const seen: string[][] = [];
  const off = w.on((c) => seen.push([String(c.version), ...c.changed]));
  w.softState({ role: 'follower', leader: null, term: 1 });
  w.softState({ role: 'leader', leader: 'a', term: 2 });
  w.softState({ role: 'leader', leader: 'a', term: 2 });
  w.conf({ voters: ['a', 'b'], learners: [] });
  w.conf({ voters: ['a', 'b', 'c'], learners: [] });
  off();
  w.softState({ role: 'follower', leader: 'b', term: 3 });
  assert.deepEqual(seen, [['1', 'role', 'leader', 'term'], ['2', 'members']]);
  assert.deepEqual(w.current.state, { role: 'follower', leader: 'b', term: 3, voters: ['a', 'b', 'c'], learners: [] });
  assert.equal(w.current.version, 3);
});

test('long polls: at once when behind, on the next change, or the current version at the timeout', async () => {
  const w = new ClusterWatch({ role: 'follower', leader: null, term: 1 }, { voters: ['a'], learners: [] });
  w.softState({ role: 'follower', leader: 'a', term: 1 });
  assert.equal((await w.next(0, 10_000)).version, 1);
  const waiting = w.next(1, 10_000);
  w.softState({ role: 'follower', leader: 'a', term: 2 });
  assert.deepEqual((await waiting).changed, ['term']);
  assert.equal((await w.next(2, 5)).version, 2);
  const controller = new AbortController();
  const aborted = w.next(2, 10_000, controller.signal);
  controller.abort();
  assert.equal((await aborted).version, 2);
});

test(`at most ${MAX_CLUSTER_WATCHERS} polls wait; beyond, a poll answers at once`, async () => {
  const w = new ClusterWatch({ role: 'follower', leader: null, term: 1 }, { voters: ['a'], learners: [] });
  const waiting = Array.from({ length: MAX_CLUSTER_WATCHERS }, () => w.next(0, 60_000));
  const started = Date.now();
  assert.equal((await w.next(0, 60_000)).version, 0);
  assert.ok(Date.now() - started < 60_000);
  w.softState({ role: 'candidate', leader: null, term: 2 });
  assert.ok((await Promise.all(waiting)).every((c) => c.version === 1));
  assert.equal((await w.next(0, 60_000)).version, 1);
});
