// Scaling with real `catga node` pods: 3 -> 5 -> 3 while writes flow (none acknowledged is lost,
// removed members' volumes are deleted), and pods killed during a scale-down or while the size
// is steady never change the membership beyond what spec.replicas says.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { eventReasons, eventually } from './support.js';
import { Writer, clientToken, clusterCa, missingKeys, podEndpoint, startWorld, waitAvailable, type World } from './scenario.js';

let w: World;
before(async () => {
  w = await startWorld('scale');
  await w.clusters.create('c', { replicas: 3 });
  await waitAvailable(w, 'c', 3, 60_000);
});
after(async () => {
  await w?.stop();
});

async function pvcNames(): Promise<string[]> {
  return (await w.kc.makeApiClient(CoreV1Api).listNamespacedPersistentVolumeClaim({ namespace: w.ns })).items.map((c) => c.metadata!.name!).sort();
}

async function voterIds(): Promise<string[]> {
  return ((await w.clusters.get('c')).status?.members ?? []).filter((m) => m.voter).map((m) => m.id).sort();
}

test('scale 3 -> 5 -> 3 with writes flowing: none lost, removed volumes deleted', async () => {
  const writer = new Writer(w, 'c');
  await w.clusters.scale('c', 5);
  await waitAvailable(w, 'c', 5, 90_000);
  assert.deepEqual(await voterIds(), ['c-0', 'c-1', 'c-2', 'c-3', 'c-4']);
  await w.clusters.scale('c', 3);
  const c = await waitAvailable(w, 'c', 3, 90_000);
  const acked = await writer.stop();
  assert.deepEqual(await voterIds(), ['c-0', 'c-1', 'c-2']);
  const sts = await w.kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ namespace: w.ns, name: 'c' });
  assert.equal(sts.spec!.replicas, 3);
  await eventually('the removed members\' PVCs deleted', 30_000, async () => (await pvcNames()).join() === 'data-c-0,data-c-1,data-c-2');
  const reasons = await eventReasons(w.kc, w.ns, 'c');
  for (const r of ['ScaleUp', 'MemberRemoved', 'ScaleDown', 'VolumeDeleted']) assert.ok(reasons.includes(r), `event ${r} in ${reasons.join(',')}`);
  assert.ok(acked.length > 20, `writes flowed during the scaling (${acked.length})`);
  const leaderPod = await w.kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace: w.ns, name: c.status!.leader! });
  assert.deepEqual(await missingKeys(podEndpoint(leaderPod)!, await clientToken(w, 'c'), acked, await clusterCa(w, 'c')), []);
  process.stdout.write(`# ${acked.length} writes acknowledged during 3 -> 5 -> 3, none lost\n`);
});

test('a pod killed during scale-down: the cluster still ends with exactly spec.replicas voters', async () => {
  await w.clusters.scale('c', 5);
  await waitAvailable(w, 'c', 5, 90_000);
  await w.clusters.scale('c', 3);
  w.kubelet.kill('c-3', 'SIGKILL');
  w.kubelet.kill('c-4', 'SIGKILL');
  await waitAvailable(w, 'c', 3, 90_000);
  assert.deepEqual(await voterIds(), ['c-0', 'c-1', 'c-2']);
  await eventually('volumes of c-3 and c-4 deleted', 30_000, async () => (await pvcNames()).join() === 'data-c-0,data-c-1,data-c-2');
});

test('a crashed pod at a steady size is never taken for a scale-down', async () => {
  w.kubelet.kill('c-1', 'SIGKILL');
  await new Promise((r) => setTimeout(r, 3_000));
  assert.deepEqual(await voterIds(), ['c-0', 'c-1', 'c-2']);
  const sts = await w.kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ namespace: w.ns, name: 'c' });
  assert.equal(sts.spec!.replicas, 3);
  await waitAvailable(w, 'c', 3, 60_000);
});
