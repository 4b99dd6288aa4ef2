// The production example in examples/production: the real kube-apiserver (with the CatgaCluster
// CRD) accepts the CatgaCluster and the NetworkPolicy; the StatefulSet the operator builds from
// the example carries its resources, volume and spread; every selector in the example selects the
// pods the operator labels, on the ports the node listens on; the operator values pass the chart's
// schema and `helm lint --strict` and turn on the monitors, the rule and the dashboard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import yaml from 'js-yaml';
import { resolveSpec } from '../src/api/defaults.js';
import type { CatgaCluster } from '../src/api/types.js';
import { HTTP_PORT, HTTP_PORT_NAME, PEER_PORT, commonLabels } from '../src/specs/names.js';
import { statefulSet } from '../src/specs/statefulset.js';
import { caSecretName, CA_BUNDLE_KEY, memberDnsNames } from '../src/specs/tls.js';
import { startControlPlane, type ControlPlane } from './harness/control-plane.js';
import { CHART_DIR, CRD_PATH, REPO_ROOT } from './repo-paths.js';
import { KUBE_VERSION, byKind, helm, type Obj } from './chart-render.js';

const EXAMPLE_DIR = resolve(REPO_ROOT, 'examples/production');
const file = (name: string): string => resolve(EXAMPLE_DIR, name);
const load = <T>(name: string): T => yaml.load(readFileSync(file(name), 'utf8')) as T;

interface Selecting { spec: Record<string, unknown> }
const subsetOf = (labels: Record<string, string>, of: Record<string, string>): boolean => Object.entries(labels).every(([k, v]) => of[k] === v);

const cluster = load<CatgaCluster>('catgacluster.yaml');
const podLabels = commonLabels(cluster.metadata!.name!);

let cp: ControlPlane;
before(async () => {
  cp = await startControlPlane({ crdFiles: [CRD_PATH] });
  await cp.createNamespace(cluster.metadata!.namespace!);
});
after(async () => { await cp?.stop(); });

test('the API server accepts the CatgaCluster and the NetworkPolicy (server-side dry run)', () => {
  const out = execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, 'apply', '--dry-run=server', '-f', file('catgacluster.yaml'), '-f', file('networkpolicy.yaml')],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.match(out, /catgacluster\.catga\.io\/orders created \(server dry run\)/);
  assert.match(out, /networkpolicy\.networking\.k8s\.io\/orders-peers created \(server dry run\)/);
});

test('the StatefulSet built from the example carries its resources, volume and spread', () => {
  const spec = resolveSpec(cluster.spec!);
  const sts = statefulSet({ ref: { name: 'orders', namespace: 'shop', uid: 'u' }, spec, replicas: spec.replicas, bootstrapExpect: spec.replicas, restoring: false, tls: { kind: 'operator' } });
  const pod = sts.spec!.template.spec!;
  assert.equal(sts.spec!.replicas, 5);
  // No CPU limit: the limits are exactly the memory limit.
  assert.deepEqual(pod.containers[0]!.resources, { requests: { cpu: '1', memory: '768Mi' }, limits: { memory: '1Gi' } });
  assert.equal(sts.spec!.volumeClaimTemplates![0]!.spec!.storageClassName, 'fast-ssd');
  assert.deepEqual(pod.topologySpreadConstraints!.map((c) => c.topologyKey), ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
  for (const c of pod.topologySpreadConstraints!) assert.ok(subsetOf(c.labelSelector!.matchLabels!, podLabels), 'spread counts the cluster\'s pods');
  assert.ok(pod.containers[0]!.env!.some((e) => e.name === 'CATGA_API_TOKENS' && e.valueFrom?.secretKeyRef?.name === 'orders-api-tokens'));
});

test('the PodMonitor and NetworkPolicy select the operator\'s pods on the node\'s ports', () => {
  type TlsConfig = { ca: { secret: { name: string; key: string } }; serverName: string };
  const monitor = load<Selecting & { spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string; scheme: string; tlsConfig: TlsConfig }[] } }>('podmonitor.yaml');
  assert.ok(subsetOf(monitor.spec.selector.matchLabels, podLabels), 'PodMonitor selects the node pods');
  assert.deepEqual(monitor.spec.podMetricsEndpoints.map((e) => [e.port, e.path, e.scheme]), [[HTTP_PORT_NAME, '/metrics', 'https']]);
  // The cluster has TLS by default: the scrape trusts its CA bundle under a name every member's certificate carries.
  const tls = monitor.spec.podMetricsEndpoints[0]!.tlsConfig;
  const name = cluster.metadata!.name!;
  assert.deepEqual(tls.ca.secret, { name: caSecretName(name), key: CA_BUNDLE_KEY });
  for (let i = 0; i < cluster.spec.replicas!; i++) {
    assert.ok(memberDnsNames({ name, namespace: cluster.metadata!.namespace!, uid: 'u' }, i).includes(tls.serverName), `member ${i}'s certificate names ${tls.serverName}`);
  }

  const policy = load<{ spec: { podSelector: { matchLabels: Record<string, string> }; ingress: { from?: { podSelector: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[] } }>('networkpolicy.yaml');
  assert.ok(subsetOf(policy.spec.podSelector.matchLabels, podLabels));
  const peerRule = policy.spec.ingress.find((r) => r.ports.some((p) => p.port === PEER_PORT))!;
  assert.ok(peerRule.from!.every((f) => subsetOf(f.podSelector.matchLabels, podLabels)), 'peer port only from the cluster\'s pods');
  assert.ok(policy.spec.ingress.some((r) => r.from === undefined && r.ports.some((p) => p.port === HTTP_PORT)), 'HTTP port open');
});

test('the operator values pass the chart schema and helm lint --strict, and turn monitoring on', () => {
  const values = file('operator-values.yaml');
  assert.match(helm('lint', CHART_DIR, '--strict', '--kube-version', KUBE_VERSION, '-f', values), /1 chart\(s\) linted, 0 chart\(s\) failed/);
  const objs = yaml.loadAll(helm('template', 'catga-operator', CHART_DIR, '-n', 'catga-system', '--kube-version', KUBE_VERSION, '-f', values))
    .filter((d): d is Obj => d !== null && typeof d === 'object');
  assert.equal(byKind(objs, 'ServiceMonitor').length, 2);
  assert.equal(byKind(objs, 'PrometheusRule')[0]!.metadata.labels!['release'], 'kube-prometheus-stack');
  assert.equal(byKind(objs, 'ConfigMap').length, 1);
  assert.equal((byKind(objs, 'Deployment')[0] as Obj & { spec: { replicas: number } }).spec.replicas, 2);
});
