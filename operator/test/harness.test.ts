// Smoke test of the operator test harness: a real control plane and the kubelet fixture run a
// StatefulSet of 2 trivial HTTP servers to Ready, serve their DNS names, bind their claims,
// replace a deleted pod, restart crashed and unhealthy processes; a CRD given at start is
// garbage-collected promptly; everything is cleaned up. Fails (does not skip) without `make tools`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as dns } from 'node:dns';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type V1Pod, type V1StatefulSet } from '@kubernetes/client-node';
import { Kubelet, startControlPlane, waitFor, type ControlPlane } from './harness/index.js';

const NAMESPACE = 'smoke';
const POD_PORT = 8080;
const WAIT_MS = 45_000;

// A pod's process: serves /readyz on its pod IP (from the downward API env), /healthz failing
// while a file "sick" is in its data volume (removed at start), and writes a file there; exits on
// SIGTERM.
const SERVER_SCRIPT = `
const fs = require('node:fs');
const http = require('node:http');
const sick = process.env.DATA_DIR + '/sick';
fs.rmSync(sick, { force: true });
fs.writeFileSync(process.env.DATA_DIR + '/hello', process.env.POD_NAME);
http.createServer((req, res) => {
  const status = req.url === '/readyz' ? 200 : req.url === '/healthz' ? (fs.existsSync(sick) ? 500 : 200) : 404;
  res.writeHead(status);
  res.end(process.env.POD_NAME);
}).listen(${POD_PORT}, process.env.POD_IP);
process.on('SIGTERM', () => process.exit(0));
`;

const statefulSet: V1StatefulSet = {
  metadata: { name: 'web', namespace: NAMESPACE },
  spec: {
    serviceName: 'web-hl',
    replicas: 2,
    podManagementPolicy: 'Parallel',
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        terminationGracePeriodSeconds: 5,
        containers: [
          {
            name: 'web',
            image: 'catga/harness-smoke:dev',
            ports: [{ name: 'http', containerPort: POD_PORT }],
            env: [
              { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            ],
            readinessProbe: { httpGet: { path: '/readyz', port: 'http' as never }, periodSeconds: 1 },
            livenessProbe: { httpGet: { path: '/healthz', port: POD_PORT as never }, failureThreshold: 2 },
            volumeMounts: [{ name: 'data', mountPath: '/var/lib/web' }],
          },
        ],
      },
    },
    volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }],
  },
};

let controlPlane: ControlPlane | undefined;
let kubelet: Kubelet | undefined;
const dataDirs = new Map<string, string>();

const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.test.catga.io}
spec:
  group: test.catga.io
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
`;

before(async () => {
  const crdDir = mkdtempSync(join(tmpdir(), 'catga-harness-test-'));
  const crdFile = join(crdDir, 'widgets.yaml');
  writeFileSync(crdFile, WIDGET_CRD);
  try {
    controlPlane = await startControlPlane({ crdFiles: [crdFile] });
  } finally {
    rmSync(crdDir, { recursive: true });
  }
  await controlPlane.createNamespace(NAMESPACE);
  kubelet = await Kubelet.start(controlPlane, {
    namespace: NAMESPACE,
    livenessPeriodMs: 250,
    spawn: (context) => {
      const dataDir = context.mounts.find((m) => m.mountPath === '/var/lib/web')!.hostPath;
      dataDirs.set(context.pod.metadata!.name!, dataDir);
      const log = openSync(context.logFile, 'a');
      try {
        return spawn(process.execPath, ['-e', SERVER_SCRIPT], { env: { ...context.env, DATA_DIR: dataDir }, stdio: ['ignore', log, log] });
      } finally {
        closeSync(log);
      }
    },
  });
});

after(async () => {
  await kubelet?.stop();
  await controlPlane?.stop();
});

async function readyPods(core: CoreV1Api): Promise<V1Pod[]> {
  const pods = (await core.listNamespacedPod({ namespace: NAMESPACE })).items;
  return pods.filter((pod) => !pod.metadata?.deletionTimestamp && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

test('a StatefulSet of 2 pods becomes Ready through the kubelet fixture', { timeout: 120_000 }, async () => {
  const kc = controlPlane!.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  await core.createNamespacedService({
    namespace: NAMESPACE,
    body: { metadata: { name: 'web-hl' }, spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { app: 'web' }, ports: [{ port: POD_PORT }] } },
  });
  await apps.createNamespacedStatefulSet({ namespace: NAMESPACE, body: statefulSet });

  await waitFor('2 Ready pods and readyReplicas 2', async () => {
    const sts = await apps.readNamespacedStatefulSet({ name: 'web', namespace: NAMESPACE });
    return (await readyPods(core)).length === 2 && sts.status?.readyReplicas === 2;
  }, { timeoutMs: WAIT_MS, intervalMs: 200 });

  const pods = await readyPods(core);
  const ips = pods.map((pod) => pod.status!.podIP!);
  assert.equal(new Set(ips).size, 2, 'each pod has its own address');
  const resolver = new dns.Resolver();
  resolver.setServers([kubelet!.dnsServer]);
  for (const pod of pods) {
    const name = pod.metadata!.name!;
    assert.match(pod.status!.podIP!, /^127\./);
    assert.deepEqual(await resolver.resolve4(`${name}.web-hl.${NAMESPACE}.svc.cluster.local`), [pod.status!.podIP]);
    const answer = await fetch(`http://${pod.status!.podIP}:${POD_PORT}/readyz`);
    assert.equal(await answer.text(), name, 'the process got its pod name from the downward API');
    assert.equal(readFileSync(`${dataDirs.get(name)}/hello`, 'utf8'), name, 'the claim is mounted');
  }
  const claims = (await core.listNamespacedPersistentVolumeClaim({ namespace: NAMESPACE })).items;
  assert.deepEqual(claims.map((c) => c.status?.phase), ['Bound', 'Bound']);

  // A deleted pod is terminated gracefully and replaced by the StatefulSet controller, same claim.
  const old = pods.find((pod) => pod.metadata!.name === 'web-1')!;
  const oldPid = kubelet!.pid('web-1')!;
  const oldDataDir = dataDirs.get('web-1');
  await core.deleteNamespacedPod({ name: 'web-1', namespace: NAMESPACE });
  await waitFor('web-1 replaced and Ready', async () => (await readyPods(core)).some((p) => p.metadata!.name === 'web-1' && p.metadata!.uid !== old.metadata!.uid), {
    timeoutMs: WAIT_MS,
    intervalMs: 200,
  });
  assert.throws(() => process.kill(oldPid, 0), /ESRCH/, 'the old process is gone');
  assert.equal(dataDirs.get('web-1'), oldDataDir, 'the new pod mounts the same volume');

  // A crashed process, then one failing its liveness probe, is restarted in place; the pod is
  // Ready again with each restart counted.
  const restartedReady = (restarts: number) => async () => {
    const pod = await core.readNamespacedPod({ name: 'web-0', namespace: NAMESPACE });
    const status = pod.status?.containerStatuses?.[0];
    return status?.restartCount === restarts && status.ready === true;
  };
  kubelet!.kill('web-0');
  await waitFor('web-0 restarted after a crash', restartedReady(1), { timeoutMs: WAIT_MS, intervalMs: 200 });
  writeFileSync(`${dataDirs.get('web-0')}/sick`, '');
  await waitFor('web-0 restarted after failing liveness', restartedReady(2), { timeoutMs: WAIT_MS, intervalMs: 200 });

});

test('a CRD given at start is garbage-collected at once (no 30 s discovery wait)', { timeout: 30_000 }, async () => {
  const kc = controlPlane!.kubeConfig();
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const widget = { group: 'test.catga.io', version: 'v1', namespace: NAMESPACE, plural: 'widgets' };
  const owner = await custom.createNamespacedCustomObject({ ...widget, body: { apiVersion: 'test.catga.io/v1', kind: 'Widget', metadata: { name: 'w' } } });
  await core.createNamespacedConfigMap({
    namespace: NAMESPACE,
    body: { metadata: { name: 'w-dependent', ownerReferences: [{ apiVersion: 'test.catga.io/v1', kind: 'Widget', name: 'w', uid: owner.metadata.uid }] } },
  });
  await custom.deleteNamespacedCustomObject({ ...widget, name: 'w' });
  await waitFor('the dependent ConfigMap collected', async () => {
    const left = await core.listNamespacedConfigMap({ namespace: NAMESPACE, fieldSelector: 'metadata.name=w-dependent' });
    return left.items.length === 0;
  }, { timeoutMs: 10_000, intervalMs: 100 });
});

test('stop() kills the pod processes and removes the temp dirs', async () => {
  const pids = ['web-0', 'web-1'].map((name) => kubelet!.pid(name)!);
  const dir = controlPlane!.dir;
  await kubelet!.stop();
  await controlPlane!.stop();
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
  assert.equal(existsSync(dir), false);
});
