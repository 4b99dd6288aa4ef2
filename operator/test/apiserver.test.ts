// The operator against a real kube-apiserver + kube-controller-manager, without pods running
// (no kubelet): the CRD's validation, the objects the operator creates and owns, the scale
// subresource, leader election between two replicas, metrics and a graceful stop. Garbage
// collection on delete is covered with real pods by operator-basic.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, BatchV1Api, CoordinationV1Api, CoreV1Api, PolicyV1Api, type KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from './harness/control-plane.js';
import { Clusters, OperatorProcess, eventReasons, eventually } from './support.js';
import { CRD_PATH } from './repo-paths.js';
import type { CatgaClusterSpec } from '../src/api/types.js';

const NS = 'apitest';
let cp: ControlPlane;
let kc: KubeConfig;
let clusters: Clusters;
let operator: OperatorProcess | undefined;

before(async () => {
  cp = await startControlPlane({ crdFiles: [CRD_PATH] });
  kc = cp.kubeConfig();
  await cp.createNamespace(NS);
  clusters = new Clusters(kc, NS);
});

after(async () => {
  await operator?.stop();
  await cp?.stop();
});

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return String((err as { body?: unknown }).body ?? (err as Error).message);
  }
  assert.fail('the API server accepted an invalid CatgaCluster');
}

test('invalid specs are rejected by the API server with the schema message', async () => {
  assert.match(await rejection(clusters.create('bad-0', { replicas: 0 })), /spec\.replicas.*should be greater than or equal to 1/);
  assert.match(await rejection(clusters.create('bad-10', { replicas: 10 })), /spec\.replicas.*should be less than or equal to 9/);
  assert.match(await rejection(clusters.create('bad-hb', { raft: { electionTicks: 5, heartbeatTicks: 5 } })), /heartbeatTicks must be smaller than spec\.raft\.electionTicks/);
  assert.match(await rejection(clusters.create('bad-env', { env: [{ name: 'CATGA_NODE_ID', value: 'x' }] })), /must not set the CATGA_\* variables/);
  assert.match(await rejection(clusters.create('bad-q', { resources: { requests: { cpu: 'lots' } } })), /spec\.resources\.requests\.cpu/);
  assert.match(await rejection(clusters.create('bad-size', { storage: { size: 'big' } })), /spec\.storage\.size/);
  await clusters.create('immut', { storage: { size: '1Gi', storageClassName: 'fast' } });
  assert.match(await rejection(clusters.patchSpec('immut', { storage: { size: '2Gi', storageClassName: 'fast' } })), /spec\.storage\.size is immutable/);
  assert.match(await rejection(clusters.patchSpec('immut', { storage: { size: '1Gi', storageClassName: 'slow' } })), /storageClassName is immutable/);
  const defaulted = await clusters.get('immut');
  assert.equal(defaulted.spec.replicas, 3);
  assert.equal(defaulted.spec.raft?.tickMs, 100);
  await clusters.delete('immut');
});

test('the operator creates and owns Services, StatefulSet, PDB and Secret, and reports status', async () => {
  operator = OperatorProcess.start({ kubeconfigPath: cp.kubeconfigPath, leaseNamespace: NS });
  const created = await clusters.create('demo', { replicas: 3 });
  const uid = created.metadata.uid!;
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const sts = await eventually('the StatefulSet', 30_000, () => apps.readNamespacedStatefulSet({ namespace: NS, name: 'demo' }));
  assert.equal(sts.spec!.replicas, 3);
  assert.equal(sts.spec!.podManagementPolicy, 'Parallel');
  assert.equal(sts.spec!.updateStrategy!.type, 'OnDelete');
  assert.equal(sts.spec!.serviceName, 'demo-hl');
  assert.deepEqual(sts.metadata!.ownerReferences!.map((o) => o.uid), [uid]);
  const env = sts.spec!.template.spec!.containers[0]!.env!;
  assert.equal(env.find((e) => e.name === 'CATGA_CLUSTER_ID')!.value, uid);
  assert.equal(env.find((e) => e.name === 'CATGA_BOOTSTRAP_EXPECT')!.value, '3');
  for (const name of ['demo', 'demo-hl', 'demo-leader']) {
    const svc = await core.readNamespacedService({ namespace: NS, name });
    assert.deepEqual(svc.metadata!.ownerReferences!.map((o) => o.uid), [uid], name);
  }
  assert.equal((await core.readNamespacedService({ namespace: NS, name: 'demo-hl' })).spec!.publishNotReadyAddresses, true);
  const pdb = await eventually('the PDB', 10_000, () => kc.makeApiClient(PolicyV1Api).readNamespacedPodDisruptionBudget({ namespace: NS, name: 'demo' }));
  assert.equal(pdb.spec!.maxUnavailable, 1);
  const secret = await core.readNamespacedSecret({ namespace: NS, name: 'demo-credentials' });
  assert.ok(secret.data!['cluster-secret'] && secret.data!['admin-token']);

  const status = await eventually('status with a selector', 20_000, async () => {
    const s = (await clusters.get('demo')).status;
    return s?.selector !== undefined && s.phase !== undefined ? s : undefined;
  });
  assert.equal(status.phase, 'Creating', 'no pods run without a kubelet, so no leader');
  assert.equal(status.bootstrapExpect, 3);
  assert.equal(status.observedGeneration, created.metadata.generation);
  assert.equal(status.conditions!.find((c) => c.type === 'Available')!.status, 'False');
  assert.equal(status.conditions!.find((c) => c.type === 'Progressing')!.reason, 'WaitingForLeader');
  const reasons = await eventReasons(kc, NS, 'demo');
  assert.ok(reasons.includes('Created') && reasons.includes('SecretGenerated'), reasons.join(','));

  const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: NS, name: 'catga-operator' });
  assert.ok(lease.spec!.holderIdentity);
  const port = await operator.httpPort();
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, /catga_operator_reconciles_total\{outcome="ok"\} [1-9]/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
});

test('spec.backup and spec.bootstrap.fromBackup: validation, the backup CronJob, the restore init container, status and Events', async () => {
  const objectStore = { endpoint: 'http://s3.apitest.svc:8333', bucket: 'backups', path: 'orders', credentialsSecretRef: { name: 's3-creds' } };
  const backupName = 'backup-20260101T030001Z-000000000042';
  assert.match(await rejection(clusters.create('bad-schedule', { backup: { schedule: 'every day', objectStore } })), /spec\.backup\.schedule/);
  assert.match(await rejection(clusters.create('bad-bucket', { backup: { schedule: '@daily', objectStore: { ...objectStore, bucket: 'Backups' } } })), /spec\.backup\.objectStore\.bucket/);
  assert.match(await rejection(clusters.create('bad-path', { backup: { schedule: '@daily', objectStore: { ...objectStore, path: 'a/../b' } } })), /spec\.backup\.objectStore\.path/);
  assert.match(await rejection(clusters.create('bad-keep', { backup: { schedule: '@daily', objectStore, retention: { keep: 0 } } })), /spec\.backup\.retention\.keep/);
  assert.match(await rejection(clusters.create('bad-name', { bootstrap: { fromBackup: { objectStore, backupName: 'latest' } } })), /spec\.bootstrap\.fromBackup\.backupName/);

  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedSecret({ namespace: NS, body: {
    metadata: { name: 's3-creds', labels: { 'catga.io/referable': 'true' } }, stringData: { 'access-key-id': 'a', 'secret-access-key': 's' },
  } });
  const backedUp = await clusters.create('bk', { replicas: 1, backup: { schedule: '0 3 * * *', objectStore } });
  const restored = await clusters.create('rs', { replicas: 1, bootstrap: { fromBackup: { objectStore, backupName } } });
  assert.equal(backedUp.spec.backup!.retention!.keep, 7, 'defaulted');
  // bootstrap is fixed at creation: neither changed nor added later.
  assert.match(await rejection(clusters.patchSpec('rs', { bootstrap: { fromBackup: { objectStore, backupName: 'backup-20260102T030001Z-000000000050' } } })), /spec\.bootstrap is immutable/);
  assert.match(await rejection(clusters.patchSpec('bk', { bootstrap: { fromBackup: { objectStore, backupName } } })), /spec\.bootstrap can only be set at creation/);

  const batch = kc.makeApiClient(BatchV1Api);
  const cronJob = await eventually('the backup CronJob', 30_000, () => batch.readNamespacedCronJob({ namespace: NS, name: 'bk-backup' }));
  assert.equal(cronJob.spec!.schedule, '0 3 * * *');
  assert.deepEqual(cronJob.metadata!.ownerReferences!.map((o) => o.uid), [backedUp.metadata.uid]);
  assert.deepEqual(cronJob.spec!.jobTemplate.spec!.template.spec!.containers[0]!.args!.slice(0, 3), ['backup', '--to', 's3://backups/orders']);
  const sts = await eventually('the restoring StatefulSet', 30_000, () => kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ namespace: NS, name: 'rs' }));
  const init = sts.spec!.template.spec!.initContainers![0]!;
  assert.equal(init.env!.find((e) => e.name === 'CATGA_CLUSTER_ID')!.value, restored.metadata.uid);
  assert.match(init.command![2]!, /restore --from s3:\/\/backups\/orders\/backup-20260101T030001Z-000000000042/);

  const bkStatus = await eventually('the BackupSucceeded condition', 20_000, async () => (await clusters.get('bk')).status?.conditions?.find((c) => c.type === 'BackupSucceeded'));
  assert.deepEqual([bkStatus.status, bkStatus.reason], ['Unknown', 'NoBackupYet']);
  const rsStatus = await eventually('status.restore', 20_000, async () => (await clusters.get('rs')).status?.restore);
  assert.deepEqual(rsStatus, { backup: `s3://backups/orders/${backupName}` }, 'no quorum without a kubelet: the restore is not complete');
  assert.ok((await eventReasons(kc, NS, 'bk')).includes('BackupScheduled'));
  assert.ok((await eventReasons(kc, NS, 'rs')).includes('RestoreStarted'));

  // Without spec.backup the CronJob goes (the backups taken stay in the bucket).
  await clusters.patchSpec('bk', { backup: null } as unknown as Partial<CatgaClusterSpec>);
  await eventually('the CronJob deleted', 30_000, async () => ((await batch.listNamespacedCronJob({ namespace: NS })).items.some((c) => c.metadata!.name === 'bk-backup') ? undefined : true));
  await clusters.delete('bk');
  await clusters.delete('rs');
});

test('scale subresource: growing scales the StatefulSet; shrinking waits for Raft, never shrinks blindly', async () => {
  const apps = kc.makeApiClient(AppsV1Api);
  await clusters.scale('demo', 5);
  await eventually('StatefulSet replicas 5', 20_000, async () => (await apps.readNamespacedStatefulSet({ namespace: NS, name: 'demo' })).spec!.replicas === 5);
  assert.ok((await eventReasons(kc, NS, 'demo')).includes('ScaleUp'));
  await clusters.scale('demo', 3);
  await new Promise((r) => setTimeout(r, 3_000));
  assert.equal((await apps.readNamespacedStatefulSet({ namespace: NS, name: 'demo' })).spec!.replicas, 5,
    'without a leader to remove members from Raft, the StatefulSet keeps its pods');
  assert.equal(env(await apps.readNamespacedStatefulSet({ namespace: NS, name: 'demo' }), 'CATGA_BOOTSTRAP_EXPECT'), '3', 'the initial size never changes');
});

function env(sts: Awaited<ReturnType<AppsV1Api['readNamespacedStatefulSet']>>, name: string): string | undefined {
  return sts.spec!.template.spec!.containers[0]!.env!.find((e) => e.name === name)?.value;
}

test('a second operator replica stands by until the leader stops, then takes over', async () => {
  const standby = OperatorProcess.start({ kubeconfigPath: cp.kubeconfigPath, leaseNamespace: NS, env: { CATGA_OPERATOR_IDENTITY: 'standby' } });
  try {
    const port = await standby.httpPort();
    const leaderGauge = async (): Promise<string | undefined> => /^catga_operator_leader (\d)/m.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1];
    await new Promise((r) => setTimeout(r, 2_000));
    assert.equal(await leaderGauge(), '0', 'the standby does not lead while the first operator holds the lease');
    const leases = kc.makeApiClient(CoordinationV1Api);
    assert.notEqual((await leases.readNamespacedLease({ namespace: NS, name: 'catga-operator' })).spec!.holderIdentity, 'standby');
    assert.equal(await operator!.stop(), 0);
    operator = undefined;
    await eventually('the standby to take the lease', 15_000, async () => (await leaseHolder()) === 'standby' && (await leaderGauge()) === '1');
  } finally {
    operator = standby;
  }
});

async function leaseHolder(): Promise<string | undefined> {
  return (await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: NS, name: 'catga-operator' })).spec!.holderIdentity;
}

test('the operator shuts down gracefully on SIGTERM and releases its lease', async () => {
  assert.ok(operator!.running);
  assert.equal(await operator!.stop(), 0);
  const lease = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: NS, name: 'catga-operator' });
  assert.equal(lease.spec!.holderIdentity ?? '', '');
  operator = undefined;
});
