// The operator killed mid-scale resumes correctly (crash points as in the etcd operator's tests):
// it exits right after removing a member from Raft, and right after adding one; a restarted
// operator finishes the scale from what it observes, without repeating or skipping a step.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { CRASH_EXIT_CODE } from '../src/machinery/crash.js';
import { eventually, loggedEvents } from './support.js';
import { startWorld, waitAvailable, type World } from './scenario.js';

/** How long the operator may take to reach a crash point. */
const CRASH_TIMEOUT_MS = 60_000;

let w: World;
before(async () => {
  w = await startWorld('crash');
  // Pods wait for the operator to add them (CATGA_AUTO_JOIN=false): the crash points sit on the
  // operator's own member changes, which a node that joins by itself would make unnecessary.
  await w.clusters.create('c', { replicas: 3, env: [{ name: 'CATGA_AUTO_JOIN', value: 'false' }] });
  await waitAvailable(w, 'c', 3, 60_000);
  await w.operator.stop();
});
after(async () => {
  await w?.stop();
});

async function voterIds(): Promise<string[]> {
  return ((await w.clusters.get('c')).status?.members ?? []).filter((m) => m.voter).map((m) => m.id).sort();
}

async function crashed(): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([w.operator.exited, new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), CRASH_TIMEOUT_MS); })]);
  clearTimeout(timer);
  assert.notEqual(code, 'timeout', 'the operator never reached its crash point');
  return code as number | null;
}

test('crash right after a member removal: the restarted operator shrinks the StatefulSet and cleans up', async () => {
  w.operator = w.startOperator({ CATGA_OPERATOR_CRASH_AT: 'after-member-remove' });
  await w.clusters.scale('c', 2);
  assert.equal(await crashed(), CRASH_EXIT_CODE);
  assert.deepEqual(loggedEvents(w.operator.log()).filter((e) => e.reason === 'MemberRemoved').length, 1);
  const sts = await w.kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ namespace: w.ns, name: 'c' });
  assert.equal(sts.spec!.replicas, 3, 'crashed before shrinking the StatefulSet');
  await w.operator.stop();

  w.operator = w.startOperator();
  await waitAvailable(w, 'c', 2, 60_000);
  assert.deepEqual(await voterIds(), ['c-0', 'c-1']);
  await eventually('data-c-2 deleted', 30_000, async () => {
    const pvcs = await w.kc.makeApiClient(CoreV1Api).listNamespacedPersistentVolumeClaim({ namespace: w.ns });
    return pvcs.items.every((c) => c.metadata!.name !== 'data-c-2');
  });
  const resumed = loggedEvents(w.operator.log()).map((e) => e.reason);
  assert.ok(!resumed.includes('MemberRemoved'), 'the removal is not repeated');
  assert.ok(resumed.includes('ScaleDown'));
  await w.operator.stop();
});

test('crash right after a member add: the restarted operator promotes it and the cluster reaches spec.replicas', async () => {
  w.operator = w.startOperator({ CATGA_OPERATOR_CRASH_AT: 'after-member-add' });
  await w.clusters.scale('c', 3);
  assert.equal(await crashed(), CRASH_EXIT_CODE);
  const added = loggedEvents(w.operator.log()).filter((e) => e.reason === 'MemberAdded' || e.reason === 'MemberPromoted');
  assert.equal(added.length, 1);
  await w.operator.stop();

  w.operator = w.startOperator();
  await waitAvailable(w, 'c', 3, 90_000);
  assert.deepEqual(await voterIds(), ['c-0', 'c-1', 'c-2']);
});
