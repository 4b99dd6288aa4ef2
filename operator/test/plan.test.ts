// The reconciler's pure decisions: scale up/down one member at a time, leadership moved before a
// leader is removed or restarted, quorum never put at risk, missing pods never taken for a scale-down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RECONCILE_LIMITS } from '../src/controller/limits.js';
import { planReconcile, type Observed, type PodView } from '../src/controller/plan.js';
import type { ClusterMember } from '../src/controller/admin-client.js';

const NOW = 1_000_000;
const COMMIT = 1000;

interface Setup {
  readonly desired: number;
  readonly sts?: number;
  readonly leader?: number | null;
  readonly voters: readonly number[];
  readonly learners?: readonly number[];
  readonly pods?: readonly number[];
  readonly unready?: readonly number[];
  readonly unhealthy?: readonly number[];
  readonly lagging?: readonly number[];
  readonly outdated?: readonly number[];
  readonly pvcs?: readonly number[];
  readonly runningSinceMs?: number;
  /** Ordinals whose pod came back on an empty volume (runs as a new incarnation). */
  readonly wiped?: readonly number[];
}

function observed(x: Setup): Observed {
  const leader = x.leader === undefined ? 0 : x.leader;
  const members: ClusterMember[] = [
    ...x.voters.map((n) => ({ n, voter: true })),
    ...(x.learners ?? []).map((n) => ({ n, voter: false })),
  ].map(({ n, voter }) => ({
    id: `c-${n}`, address: `10.0.0.${n}:7080`, voter,
    matchIndex: (x.lagging ?? []).includes(n) ? COMMIT - RECONCILE_LIMITS.caughtUpLag - 1 : COMMIT,
    healthy: !(x.unhealthy ?? []).includes(n),
    incarnation: `disk-${n}`,
  }));
  const podOrdinals = x.pods ?? [...x.voters, ...(x.learners ?? [])];
  const pods: PodView[] = podOrdinals.map((n) => ({
    name: `c-${n}`, ordinal: n,
    ready: !(x.unready ?? []).includes(n),
    terminating: false, crashLooping: false,
    revision: (x.outdated ?? []).includes(n) ? 'old' : 'new',
    endpoint: `http://10.0.0.${n}:8080`, peerAddress: `10.0.0.${n}:7080`,
    runningSinceMs: x.runningSinceMs ?? NOW - 60_000,
    view: {
      id: `c-${n}`, role: n === leader ? 'leader' : 'follower', term: 3, leader: leader === null ? null : `c-${leader}`,
      commitIndex: COMMIT, appliedIndex: COMMIT, lastLogIndex: COMMIT, members,
      incarnation: (x.wiped ?? []).includes(n) ? `disk-${n}-new` : `disk-${n}`,
    },
  }));
  return {
    clusterName: 'c', desiredReplicas: x.desired, statefulSetReplicas: x.sts ?? x.desired, updateRevision: 'new',
    pods, pvcOrdinals: x.pvcs ?? podOrdinals, everAvailable: true, nowMs: NOW,
  };
}

test('a steady cluster is Available and needs nothing', () => {
  const p = planReconcile(observed({ desired: 3, voters: [0, 1, 2] }));
  assert.deepEqual(p.action, { kind: 'none' });
  assert.equal(p.phase, 'Available');
  assert.equal(p.leader!.pod.name, 'c-0');
  assert.equal(p.degraded, null);
});

test('scale up grows the StatefulSet to spec.replicas', () => {
  const p = planReconcile(observed({ desired: 5, sts: 3, voters: [0, 1, 2] }));
  assert.deepEqual(p.action, { kind: 'scaleStatefulSet', replicas: 5, reason: 'ScaleUp' });
  assert.equal(p.phase, 'Scaling');
});

test('a caught-up ready learner is promoted; a lagging one is waited for', () => {
  const promote = planReconcile(observed({ desired: 5, voters: [0, 1, 2], learners: [3, 4] }));
  assert.deepEqual(promote.action, { kind: 'promote', endpoint: 'http://10.0.0.0:8080', id: 'c-3', address: '10.0.0.3:7080' });
  const wait = planReconcile(observed({ desired: 4, voters: [0, 1, 2], learners: [3], lagging: [3] }));
  assert.deepEqual(wait.action, { kind: 'none' });
  assert.equal(wait.progressing!.reason, 'ScaleUp');
});

test('a running pod that never joined is added as a learner, after a grace period', () => {
  const base = { desired: 4, voters: [0, 1, 2], pods: [0, 1, 2, 3] } as const;
  const early = planReconcile(observed({ ...base, runningSinceMs: NOW - RECONCILE_LIMITS.joinGraceMs + 1 }));
  assert.deepEqual(early.action, { kind: 'none' });
  const late = planReconcile(observed({ ...base, runningSinceMs: NOW - RECONCILE_LIMITS.joinGraceMs }));
  assert.deepEqual(late.action, { kind: 'addLearner', endpoint: 'http://10.0.0.0:8080', id: 'c-3', address: '10.0.0.3:7080' });
});

test('scale down: remove the highest member, then shrink, then delete its volume, one at a time', () => {
  const step1 = planReconcile(observed({ desired: 3, sts: 5, voters: [0, 1, 2, 3, 4] }));
  assert.deepEqual(step1.action, { kind: 'removeMember', endpoint: 'http://10.0.0.0:8080', id: 'c-4' });
  const step2 = planReconcile(observed({ desired: 3, sts: 5, voters: [0, 1, 2, 3], pods: [0, 1, 2, 3, 4] }));
  assert.deepEqual(step2.action, { kind: 'scaleStatefulSet', replicas: 4, reason: 'ScaleDown' });
  const step3 = planReconcile(observed({ desired: 3, sts: 4, voters: [0, 1, 2, 3], pods: [0, 1, 2, 3], pvcs: [0, 1, 2, 3, 4] }));
  assert.deepEqual(step3.action, { kind: 'deletePvc', ordinal: 4 });
  const step4 = planReconcile(observed({ desired: 3, sts: 4, voters: [0, 1, 2, 3], pods: [0, 1, 2, 3] }));
  assert.deepEqual(step4.action, { kind: 'removeMember', endpoint: 'http://10.0.0.0:8080', id: 'c-3' });
});

test('the volume of a pod still terminating is kept until the pod is gone', () => {
  const p = planReconcile(observed({ desired: 3, sts: 4, voters: [0, 1, 2, 3], pods: [0, 1, 2, 3, 4], pvcs: [0, 1, 2, 3, 4] }));
  assert.notEqual(p.action.kind, 'deletePvc');
});

test('scale down of the leader moves leadership first', () => {
  const p = planReconcile(observed({ desired: 2, sts: 3, leader: 2, voters: [0, 1, 2] }));
  assert.deepEqual(p.action, { kind: 'transferLeadership', endpoint: 'http://10.0.0.2:8080', from: 'c-2', to: 'c-0' });
});

test('a removal that would leave no healthy majority is paused with Degraded', () => {
  const p = planReconcile(observed({ desired: 3, sts: 5, voters: [0, 1, 2, 3, 4], unready: [1, 2] }));
  assert.deepEqual(p.action, { kind: 'none' });
  assert.equal(p.phase, 'Degraded');
  assert.equal(p.degraded!.reason, 'QuorumAtRisk');
});

test('a dead member being scaled away is still removed (it does not count toward quorum)', () => {
  const p = planReconcile(observed({ desired: 3, sts: 5, voters: [0, 1, 2, 3, 4], pods: [0, 1, 2, 3], unhealthy: [4] }));
  assert.deepEqual(p.action, { kind: 'removeMember', endpoint: 'http://10.0.0.0:8080', id: 'c-4' });
});

test('a missing or crash-looping pod is never taken for a scale-down', () => {
  const missing = planReconcile(observed({ desired: 3, voters: [0, 1, 2], pods: [0, 1] }));
  assert.deepEqual(missing.action, { kind: 'none' });
  assert.equal(missing.degraded!.reason, 'MembersUnavailable');
  const o = observed({ desired: 3, voters: [0, 1, 2], unready: [2], unhealthy: [2] });
  const crashing = planReconcile({ ...o, pods: o.pods.map((p) => (p.ordinal === 2 ? { ...p, crashLooping: true, view: null } : p)) });
  assert.deepEqual(crashing.action, { kind: 'none' });
});

test('members left beyond spec.replicas by an interrupted scale-down are removed', () => {
  const p = planReconcile(observed({ desired: 3, sts: 3, voters: [0, 1, 2, 3], pods: [0, 1, 2] }));
  assert.deepEqual(p.action, { kind: 'removeMember', endpoint: 'http://10.0.0.0:8080', id: 'c-3' });
});

test('no leader: wait, Creating before the first Available', () => {
  const o = observed({ desired: 3, leader: null, voters: [0, 1, 2] });
  const p = planReconcile({ ...o, everAvailable: false });
  assert.deepEqual(p.action, { kind: 'none' });
  assert.equal(p.phase, 'Creating');
  assert.equal(planReconcile(o).degraded!.reason, 'NoLeader');
});

test('rolling update: followers highest first, then a switchover, then the old leader', () => {
  const all = planReconcile(observed({ desired: 3, voters: [0, 1, 2], outdated: [0, 1, 2] }));
  assert.deepEqual(all.action, { kind: 'deletePod', name: 'c-2', revision: 'old' });
  assert.equal(all.phase, 'Upgrading');
  const next = planReconcile(observed({ desired: 3, voters: [0, 1, 2], outdated: [0, 1] }));
  assert.deepEqual(next.action, { kind: 'deletePod', name: 'c-1', revision: 'old' });
  const leaderOnly = planReconcile(observed({ desired: 3, voters: [0, 1, 2], outdated: [0] }));
  assert.deepEqual(leaderOnly.action, { kind: 'transferLeadership', endpoint: 'http://10.0.0.0:8080', from: 'c-0', to: 'c-1' });
  const moved = planReconcile(observed({ desired: 3, leader: 1, voters: [0, 1, 2], outdated: [0] }));
  assert.deepEqual(moved.action, { kind: 'deletePod', name: 'c-0', revision: 'old' });
});

test('rolling update waits for the restarted pod to be ready and caught up', () => {
  const unready = planReconcile(observed({ desired: 3, voters: [0, 1, 2], outdated: [0, 1], unready: [2] }));
  assert.deepEqual(unready.action, { kind: 'none' });
  assert.match(unready.progressing!.message, /c-2/);
  const lagging = planReconcile(observed({ desired: 3, voters: [0, 1, 2], outdated: [0, 1], lagging: [2] }));
  assert.deepEqual(lagging.action, { kind: 'none' });
});

test('rolling update pauses with Degraded when a restart would cost the quorum', () => {
  const p = planReconcile(observed({ desired: 3, voters: [0, 1, 2], outdated: [0, 2], unhealthy: [1] }));
  assert.deepEqual(p.action, { kind: 'none' });
  assert.equal(p.degraded!.reason, 'QuorumAtRisk');
});

test('rolling update: an unready pod it did not restart pauses the roll with Degraded; its own restarted pod does not', () => {
  const stuck = planReconcile(observed({ desired: 3, voters: [0, 1, 2], outdated: [0, 1, 2], unready: [1], unhealthy: [1] }));
  assert.deepEqual(stuck.action, { kind: 'none' });
  assert.equal(stuck.degraded!.reason, 'QuorumAtRisk');
  const restarting = planReconcile(observed({ desired: 3, voters: [0, 1, 2], outdated: [0, 1], unready: [2], unhealthy: [2] }));
  assert.deepEqual(restarting.action, { kind: 'none' });
  assert.equal(restarting.degraded, null);
  assert.equal(restarting.phase, 'Upgrading');
  const five = planReconcile(observed({ desired: 5, voters: [0, 1, 2, 3, 4], outdated: [0, 1, 2, 3, 4], unready: [1], unhealthy: [1] }));
  assert.equal(five.degraded, null, 'five voters tolerate one more restart, so this is only a wait');
});

test('a pod back on an empty volume is replaced (new incarnation as a learner), then promoted once caught up', () => {
  const p = planReconcile(observed({ desired: 3, voters: [0, 1, 2], wiped: [2] }));
  assert.deepEqual(p.action, { kind: 'replaceMember', endpoint: 'http://10.0.0.0:8080', id: 'c-2', address: '10.0.0.2:7080', incarnation: 'disk-2-new', former: 'disk-2' });
  assert.equal(p.progressing?.reason, 'VolumeReplaced');
  // Once the leader records the new incarnation the pod is an ordinary learner: promoted when caught up.
  const after = observed({ desired: 3, voters: [0, 1], learners: [2] });
  const q = planReconcile(after);
  assert.equal(q.action.kind, 'promote');
});

test('at rest with pods not ready: Degraded names the missing ones, then the unready ones', () => {
  const p = planReconcile(observed({ desired: 4, voters: [0, 1, 2, 3], pods: [0, 1, 2], unready: [1] }));
  assert.deepEqual(p.action, { kind: 'none' });
  assert.equal(p.phase, 'Degraded');
  assert.deepEqual(p.degraded, { reason: 'MembersUnavailable', message: 'not ready: c-3, c-1' });
});

test('the plan is level-triggered: the same observation gives the same plan and is left unchanged', () => {
  const o = observed({ desired: 3, voters: [0, 1, 2], outdated: [1, 2] });
  const before = structuredClone(o);
  const first = planReconcile(o);
  assert.deepEqual(planReconcile(o), first);
  assert.deepEqual(o, before);
  assert.deepEqual(first.action, { kind: 'deletePod', name: 'c-2', revision: 'old' });
});
