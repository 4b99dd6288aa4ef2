// Scenarios with real `catga node` pods: a 3-node cluster becomes Available with the leader
// labelled, the label follows a killed leader within seconds, and deleting the CatgaCluster
// removes everything the operator created.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, PolicyV1Api } from '@kubernetes/client-node';
import { eventReasons, eventually } from './support.js';
import { labelledLeaders, startWorld, waitAvailable, type World } from './scenario.js';

let w: World;
before(async () => {
  w = await startWorld('basic');
});
after(async () => {
  await w?.stop();
});

test('a 3-node CatgaCluster becomes Available with exactly one pod labelled leader', async () => {
  await w.clusters.create('c', { replicas: 3 });
  const c = await waitAvailable(w, 'c', 3, 60_000);
  assert.ok(c.status!.leader);
  assert.ok(c.status!.term! >= 1);
  assert.deepEqual(c.status!.conditions!.map((x) => [x.type, x.status]), [['Available', 'True'], ['Progressing', 'False'], ['Degraded', 'False']]);
  const leaders = await eventually('the leader label', 10_000, async () => {
    const l = await labelledLeaders(w, 'c');
    return l.length === 1 && l[0] === c.status!.leader ? l : undefined;
  });
  assert.deepEqual(leaders, [c.status!.leader]);
  const pdb = await w.kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ namespace: w.ns, name: 'c' });
  assert.equal(pdb.spec!.maxUnavailable, 1);
});

test('the leader label follows a killed leader', async () => {
  const before = (await w.clusters.get('c')).status!.leader!;
  assert.ok(w.kubelet.kill(before, 'SIGKILL'));
  const started = Date.now();
  const next = await eventually('a new leader labelled', 30_000, async () => {
    const l = await labelledLeaders(w, 'c');
    return l.length === 1 && l[0] !== before ? l[0] : undefined;
  });
  const elapsed = Date.now() - started;
  assert.notEqual(next, before);
  assert.ok((await eventReasons(w.kc, w.ns, 'c')).includes('LeaderElected'));
  await waitAvailable(w, 'c', 3, 60_000);
  process.stdout.write(`# leader label moved ${before} -> ${next} in ${elapsed} ms after SIGKILL\n`);
});

test('deleting the CatgaCluster removes everything it created', async () => {
  await w.clusters.delete('c');
  const core = w.kc.makeApiClient(CoreV1Api);
  let left: string[] = [];
  const started = Date.now();
  try {
    // The CRD is installed before kube-controller-manager starts, so its garbage collector knows the kind.
    await eventually('every owned object gone', 30_000, async () => {
      const sts = await w.kc.makeApiClient(AppsV1Api).listNamespacedStatefulSet({ namespace: w.ns });
      const pods = await core.listNamespacedPod({ namespace: w.ns });
      const svcs = await core.listNamespacedService({ namespace: w.ns, labelSelector: 'catga.io/cluster=c' });
      const pvcs = await core.listNamespacedPersistentVolumeClaim({ namespace: w.ns });
      const secrets = await core.listNamespacedSecret({ namespace: w.ns, labelSelector: 'catga.io/cluster=c' });
      left = [
        ...sts.items.map((o) => `statefulset/${o.metadata!.name}`), ...pods.items.map((o) => `pod/${o.metadata!.name}`),
        ...svcs.items.map((o) => `service/${o.metadata!.name}`), ...pvcs.items.map((o) => `pvc/${o.metadata!.name}`),
        ...secrets.items.map((o) => `secret/${o.metadata!.name}`),
      ];
      return left.length === 0;
    });
  } catch (err) {
    assert.fail(`${(err as Error).message}; still there: ${left.join(', ')}`);
  }
  process.stdout.write(`# garbage collected in ${Date.now() - started} ms\n`);
});
