// The Helm chart: lint, render, and check the rendered objects (RBAC covers exactly what the
// operator calls, the Deployment runs the operator, optional ServiceMonitor, dashboard JSON),
// and the chart's CRD is the same bytes as crds/ (a symlink Helm follows, or a copy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CHART_DIR, CRD_PATH } from './repo-paths.js';
import { KUBE_VERSION, byKind, helm, render, type Obj } from './chart-render.js';

test('the chart CRD is byte-equal to crds/catgaclusters.catga.io.yaml', () => {
  assert.deepEqual(readFileSync(resolve(CHART_DIR, 'crds/catgaclusters.catga.io.yaml')), readFileSync(CRD_PATH));
});

test('helm lint passes', () => {
  const out = helm('lint', CHART_DIR, '--kube-version', KUBE_VERSION, '--strict');
  assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('rendered defaults: CRD, RBAC, Deployment, metrics Service; no ServiceMonitor, rule or dashboard', () => {
  const objs = render();
  assert.deepEqual(objs.map((o) => o.kind).sort(), [
    'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'Deployment', 'NetworkPolicy', 'Role', 'RoleBinding', 'Service', 'ServiceAccount',
  ]);
  const crd = byKind(objs, 'CustomResourceDefinition')[0]!;
  assert.equal(crd.metadata.name, 'catgaclusters.catga.io');
  const deployment = byKind(objs, 'Deployment')[0]! as Obj & { spec: { template: { spec: { serviceAccountName: string; containers: { image: string; env: { name: string }[]; readinessProbe: { httpGet: { path: string } } }[] } } } };
  const pod = deployment.spec.template.spec;
  assert.equal(pod.serviceAccountName, byKind(objs, 'ServiceAccount')[0]!.metadata.name);
  assert.equal(pod.containers[0]!.image, 'catga/operator:0.1.0');
  assert.equal(pod.containers[0]!.readinessProbe.httpGet.path, '/readyz');
  assert.ok(pod.containers[0]!.env.some((e) => e.name === 'CATGA_OPERATOR_NAMESPACE'));
  assert.equal(deployment.metadata.namespace, 'ops');
});

test('RBAC is least privilege: exactly the verbs the operator uses, the Lease only in its namespace', () => {
  const objs = render();
  const rules = (byKind(objs, 'ClusterRole')[0]! as Obj & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] }).rules;
  const grants = new Map<string, string[]>();
  for (const r of rules) for (const g of r.apiGroups) for (const res of r.resources) grants.set(`${g}/${res}`, [...r.verbs].sort());
  assert.deepEqual(Object.fromEntries(grants), {
    'catga.io/catgaclusters': ['get', 'list', 'watch'],
    'catga.io/catgaclusters/status': ['get', 'patch'],
    'apps/statefulsets': ['create', 'get', 'list', 'patch', 'watch'],
    '/pods': ['delete', 'get', 'list', 'patch', 'watch'],
    '/services': ['create', 'get', 'patch'],
    '/secrets': ['create', 'get', 'update'],
    '/persistentvolumeclaims': ['delete', 'list'],
    '/events': ['create'],
    'policy/poddisruptionbudgets': ['create', 'get', 'patch'],
    'batch/cronjobs': ['create', 'delete', 'get', 'patch'],
    'batch/jobs': ['list'],
    'networking.k8s.io/networkpolicies': ['create', 'get', 'patch'],
  });
  for (const r of rules) assert.ok(!r.verbs.includes('*') && !r.resources.includes('*'), 'no wildcards');
  const role = byKind(objs, 'Role')[0]! as Obj & { rules: { resources: string[] }[] };
  assert.equal(role.metadata.namespace, 'ops');
  assert.deepEqual(role.rules.map((r) => r.resources), [['leases']]);
});

test('networkPolicy.enabled=false: no NetworkPolicy, no RBAC for them, and the operator is told', () => {
  const objs = render('networkPolicy.enabled=false');
  assert.equal(byKind(objs, 'NetworkPolicy').length, 0);
  const rules = (byKind(objs, 'ClusterRole')[0]! as Obj & { rules: { resources: string[] }[] }).rules;
  assert.ok(!rules.some((r) => r.resources.includes('networkpolicies')));
  const env = (byKind(objs, 'Deployment')[0]! as Obj & { spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } } }).spec.template.spec.containers[0]!.env;
  assert.equal(env.find((e) => e.name === 'CATGA_OPERATOR_NETWORK_POLICIES')?.value, 'false');
  const operatorPolicy = byKind(render(), 'NetworkPolicy')[0]! as Obj & { spec: { ingress: { ports: { port: number }[] }[] } };
  assert.deepEqual(operatorPolicy.spec.ingress.map((r) => r.ports.map((p) => p.port)), [[8081]]);
});

test('serviceMonitor.enabled adds monitors for the operator and for the nodes', () => {
  const monitors = byKind(render('serviceMonitor.enabled=true'), 'ServiceMonitor') as (Obj & { spec: { selector: { matchLabels: Record<string, string> } } })[];
  assert.equal(monitors.length, 2);
  assert.ok(monitors.some((m) => m.spec.selector.matchLabels['catga.io/service'] === 'headless'));
});

test('the nodes\' monitor scrapes TLS pods over HTTPS (their catga.io/scheme annotation), not verified unless told how', () => {
  type Endpoint = { tlsConfig: Record<string, unknown>; relabelings: { sourceLabels?: string[]; regex?: string; targetLabel?: string }[] };
  const nodes = (objs: Obj[]) => (byKind(objs, 'ServiceMonitor') as (Obj & { spec: { endpoints: Endpoint[] } })[]).find((m) => m.metadata.name.endsWith('-nodes'))!.spec.endpoints[0]!;
  const endpoint = nodes(render('serviceMonitor.enabled=true'));
  assert.deepEqual(endpoint.relabelings[0], { sourceLabels: ['__meta_kubernetes_pod_annotation_catga_io_scheme'], regex: '(https?)', targetLabel: '__scheme__' });
  assert.deepEqual(endpoint.tlsConfig, { insecureSkipVerify: true });
  const verified = nodes(render('serviceMonitor.enabled=true', 'serviceMonitor.nodeTlsConfig.insecureSkipVerify=null',
    'serviceMonitor.nodeTlsConfig.ca.secret.name=catga-ca', 'serviceMonitor.nodeTlsConfig.ca.secret.key=ca.crt', 'serviceMonitor.nodeTlsConfig.serverName=orders'));
  assert.deepEqual(verified.tlsConfig, { ca: { secret: { name: 'catga-ca', key: 'ca.crt' } }, serverName: 'orders' });
});

test('the Grafana dashboard is valid JSON covering the docs/api.md#metrics metrics', () => {
  const cm = byKind(render('grafanaDashboard.enabled=true'), 'ConfigMap')[0]! as Obj & { data: Record<string, string> };
  assert.equal(cm.metadata.labels!['grafana_dashboard'], '1');
  const dashboard = JSON.parse(cm.data['catga.json']!) as { panels: { targets?: { expr: string }[] }[] };
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
  for (const metric of ['catga_raft_term', 'catga_raft_role', 'catga_raft_commit_index', 'catga_raft_applied_index', 'catga_raft_leader_changes_total',
    'catga_raft_peer_match_index', 'catga_command_duration_seconds', 'catga_query_duration_seconds', 'catga_events_published_total',
    'catga_ws_clients', 'catga_wal_fsync_duration_seconds', 'catga_operator_reconciles_total', 'catga_operator_reconcile_errors_total']) {
    assert.ok(exprs.includes(metric), `dashboard uses ${metric}`);
  }
  assert.equal(render('grafanaDashboard.enabled=false').filter((o) => o.kind === 'ConfigMap').length, 0);
});

test('values.schema.json refuses bad values, naming the value', () => {
  const refused: [string, RegExp][] = [
    ['replicaCount=0', /\/replicaCount': minimum/],
    ['operator.logLevel=loud', /\/operator\/logLevel'/],
    ['operator.workers=17', /\/operator\/workers': maximum/],
    ['operator.peerAddressMode=ip', /\/operator\/peerAddressMode'/],
    ['image.pullPolicy=Sometimes', /\/image\/pullPolicy'/],
    ['serviceMonitor.interval=15', /\/serviceMonitor\/interval'/],
    ['grafanaDashboard.enabled=yes', /\/grafanaDashboard\/enabled'/],
    ['prometheusRule.runbookBaseUrl=https://wiki.example/runbooks#top', /\/prometheusRule\/runbookBaseUrl'/],
    ['prometheusRule.thresholds.followerLagEntries=0', /\/prometheusRule\/thresholds\/followerLagEntries': minimum/],
    ['resources.limits.memory=lots', /\/resources\/limits\/memory'/],
    ['serviceMonitr.enabled=true', /additional properties 'serviceMonitr' not allowed/],
    ['serviceMonitor.nodeTlsConfig.insecureSkipVerify=maybe', /\/serviceMonitor\/nodeTlsConfig\/insecureSkipVerify'/],
    ['serviceMonitor.nodeTlsConfig.caFile=/ca.crt', /additional properties 'caFile' not allowed/],
  ];
  for (const [set, message] of refused) {
    assert.throws(() => render(set), (err: { stderr?: string }) => message.test(err.stderr ?? ''), `--set ${set} is refused`);
  }
  // Fractions reach the chart as numbers from a values file or --set-json (--set passes them as strings).
  assert.throws(() => render('prometheusRule.thresholds.dataVolumeAvailableRatio=0.2'), /got string, want number/);
});

test('helm lint --strict passes with every optional object on', () => {
  const out = helm('lint', CHART_DIR, '--kube-version', KUBE_VERSION, '--strict',
    '--set', 'serviceMonitor.enabled=true,prometheusRule.enabled=true,grafanaDashboard.enabled=true,replicaCount=2',
    '--set-json', 'prometheusRule.thresholds.dataVolumeAvailableRatio=0.2');
  assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});
