// Status: counts, leader fields and conditions with stable lastTransitionTime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildStatus } from '../src/controller/status.js';
import { planReconcile, type Observed, type PodView } from '../src/controller/plan.js';

function observed(ready: boolean[]): Observed {
  const members = ready.map((_, n) => ({ id: `c-${n}`, address: `a${n}`, voter: true, matchIndex: 10, healthy: true, incarnation: `i${n}` }));
  const pods: PodView[] = ready.map((r, n) => ({
    name: `c-${n}`, ordinal: n, ready: r, terminating: false, crashLooping: false, revision: 'r',
    endpoint: `http://h${n}:8080`, peerAddress: `h${n}:7080`, runningSinceMs: 0,
    view: { id: `c-${n}`, role: n === 0 ? 'leader' : 'follower', term: 7, leader: 'c-0', commitIndex: 10, appliedIndex: 10, lastLogIndex: 10, incarnation: `i${n}`, members },
  }));
  return { clusterName: 'c', desiredReplicas: ready.length, statefulSetReplicas: ready.length, updateRevision: 'r', pods, pvcOrdinals: [], everAvailable: true, nowMs: 0 };
}

function status(o: Observed, previous?: ReturnType<typeof buildStatus>, nowIso = '2026-01-01T00:00:00Z') {
  return buildStatus({ previous, observed: o, plan: planReconcile(o), generation: 4, selector: 's', bootstrapExpect: 3, nowIso, restoreFrom: null, backup: null });
}

test('a healthy cluster reports Available with the leader fields', () => {
  const s = status(observed([true, true, true]));
  assert.equal(s.phase, 'Available');
  assert.equal(s.observedGeneration, 4);
  assert.equal(s.replicas, 3);
  assert.equal(s.readyReplicas, 3);
  assert.equal(s.leader, 'c-0');
  assert.equal(s.term, 7);
  assert.equal(s.commitIndex, 10);
  assert.equal(s.members!.length, 3);
  assert.deepEqual(s.conditions!.map((c) => [c.type, c.status, c.reason]), [
    ['Available', 'True', 'QuorumReady'], ['Progressing', 'False', 'Reconciled'], ['Degraded', 'False', 'AsExpected'],
  ]);
});

test('lost quorum turns Available false; one unready pod only Degraded', () => {
  const minority = status(observed([true, false, false]));
  assert.deepEqual(minority.conditions!.find((c) => c.type === 'Available')!.status, 'False');
  const one = status(observed([true, true, false]));
  assert.equal(one.conditions!.find((c) => c.type === 'Available')!.status, 'True');
  assert.equal(one.conditions!.find((c) => c.type === 'Degraded')!.status, 'True');
  assert.equal(one.readyReplicas, 2);
});

test('lastTransitionTime changes only when a condition changes status', () => {
  const first = status(observed([true, true, true]), undefined, '2026-01-01T00:00:00Z');
  const same = status(observed([true, true, true]), first, '2026-01-01T00:05:00Z');
  assert.equal(same.conditions![0]!.lastTransitionTime, '2026-01-01T00:00:00Z');
  const changed = status(observed([true, false, false]), first, '2026-01-01T00:06:00Z');
  assert.equal(changed.conditions![0]!.lastTransitionTime, '2026-01-01T00:06:00Z');
});
