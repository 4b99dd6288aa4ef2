// A pod template change (a new image) rolls the pods one at a time with real `catga node` pods:
// followers first, then a switchover, then the old leader; the cluster ends Available with every
// pod on the new revision and no acknowledged write lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { eventually, loggedEvents } from './support.js';
import { Writer, clientToken, clusterCa, clusterPods, missingKeys, podEndpoint, startWorld, waitAvailable, type World } from './scenario.js';

let w: World;
before(async () => {
  w = await startWorld('upgrade');
});
after(async () => {
  await w?.stop();
});

test('an image change rolls pods followers first and the leader last, after a switchover', async () => {
  await w.clusters.create('c', { replicas: 3, image: 'catga/node:v1' });
  const before = await waitAvailable(w, 'c', 3, 60_000);
  const oldLeader = before.status!.leader!;
  const apps = w.kc.makeApiClient(AppsV1Api);
  const oldRevision = (await apps.readNamespacedStatefulSet({ namespace: w.ns, name: 'c' })).status!.updateRevision;
  const writer = new Writer(w, 'c');
  await w.clusters.patchSpec('c', { image: 'catga/node:v2' });
  await eventually('every pod on the new revision and the cluster Available', 120_000, async () => {
    const sts = await apps.readNamespacedStatefulSet({ namespace: w.ns, name: 'c' });
    const revision = sts.status?.updateRevision;
    if (revision === oldRevision) return false;
    const pods = await clusterPods(w, 'c');
    const allNew = pods.length === 3 && pods.every((p) => p.metadata?.labels?.['controller-revision-hash'] === revision && p.metadata?.deletionTimestamp === undefined);
    const c = await w.clusters.get('c');
    return allNew && c.status?.phase === 'Available' && c.status.readyReplicas === 3;
  });
  const acked = await writer.stop();

  const events = loggedEvents(w.operator.log());
  const rolled = events.filter((e) => e.reason === 'RollingUpdate').map((e) => /restarting (\S+)/.exec(e.message)![1]!);
  assert.equal(rolled.length, 3, `one restart per pod: ${rolled.join(', ')}`);
  assert.equal(new Set(rolled).size, 3);
  assert.equal(rolled[2], oldLeader, 'the leader is restarted last');
  const switchover = events.findIndex((e) => e.reason === 'Switchover' && e.message.includes(`from ${oldLeader}`));
  const leaderRestart = events.findIndex((e) => e.reason === 'RollingUpdate' && e.message.includes(`restarting ${oldLeader} `));
  assert.ok(switchover >= 0 && switchover < leaderRestart, 'leadership moved before the leader was restarted');

  const after = await waitAvailable(w, 'c', 3, 30_000);
  assert.notEqual(after.status!.leader, oldLeader);
  const leaderPod = await w.kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace: w.ns, name: after.status!.leader! });
  assert.deepEqual(await missingKeys(podEndpoint(leaderPod)!, await clientToken(w, 'c'), acked, await clusterCa(w, 'c')), []);
  process.stdout.write(`# rolled ${rolled.join(' -> ')}; ${acked.length} writes acknowledged during the roll, none lost\n`);
});

test('a roll that would cost the quorum pauses with Degraded and resumes when the pod recovers', async () => {
  const apps = w.kc.makeApiClient(AppsV1Api);
  const c = await waitAvailable(w, 'c', 3, 30_000);
  const frozen = ['c-0', 'c-1', 'c-2'].find((n) => n !== c.status!.leader)!;
  const rollsBefore = loggedEvents(w.operator.log()).filter((e) => e.reason === 'RollingUpdate').length;
  assert.ok(w.kubelet.kill(frozen, 'SIGSTOP'));
  try {
    await eventually(`${frozen} not ready`, 20_000, async () => (await w.clusters.get('c')).status?.readyReplicas === 2);
    const oldRevision = (await apps.readNamespacedStatefulSet({ namespace: w.ns, name: 'c' })).status!.updateRevision;
    await w.clusters.patchSpec('c', { image: 'catga/node:v3' });
    await eventually('a new revision', 20_000, async () => (await apps.readNamespacedStatefulSet({ namespace: w.ns, name: 'c' })).status!.updateRevision !== oldRevision);
    const degraded = await eventually('Degraded QuorumAtRisk', 20_000, async () =>
      (await w.clusters.get('c')).status?.conditions?.find((x) => x.type === 'Degraded' && x.status === 'True' && x.reason === 'QuorumAtRisk'));
    assert.match(degraded.message, new RegExp(frozen));
    await new Promise((r) => setTimeout(r, 3_000));
    const events = loggedEvents(w.operator.log());
    assert.equal(events.filter((e) => e.reason === 'RollingUpdate').length, rollsBefore, 'no pod was restarted while the quorum was at risk');
    assert.ok(events.some((e) => e.reason === 'QuorumAtRisk'), 'a Warning event says why');
  } finally {
    w.kubelet.kill(frozen, 'SIGCONT');
  }
  await eventually('the roll to finish once the pod recovered', 120_000, async () => {
    const sts = await apps.readNamespacedStatefulSet({ namespace: w.ns, name: 'c' });
    const pods = await clusterPods(w, 'c');
    const allNew = pods.length === 3 && pods.every((p) => p.metadata?.labels?.['controller-revision-hash'] === sts.status?.updateRevision && !p.metadata?.deletionTimestamp);
    return allNew && (await w.clusters.get('c')).status?.phase === 'Available';
  });
  assert.ok(loggedEvents(w.operator.log()).some((e) => e.reason === 'Recovered'));
});
