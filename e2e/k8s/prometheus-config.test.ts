// The translations behind the Prometheus step of make e2e-k8s: ServiceMonitor -> scrape job,
// dashboard -> queries. Pure functions; the real chart's dashboard is read from the repository.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { metaLabelName, scrapeConfigs } from './scrape-config.js';
import { panelQueries, variableQuery } from './dashboard-check.js';

const API = { server: 'https://10.0.0.1:6443', ca: '/ca.crt', cert: '/admin.crt', key: '/admin.key' };

function monitor(spec: Record<string, unknown>): Parameters<typeof scrapeConfigs>[0][number] {
  return { kind: 'ServiceMonitor', metadata: { name: 'nodes', namespace: 'catga-system' }, spec } as Parameters<typeof scrapeConfigs>[0][number];
}

test('label names are spelled as Prometheus meta labels spell them', () => {
  assert.equal(metaLabelName('app.kubernetes.io/managed-by'), 'app_kubernetes_io_managed_by');
  assert.equal(metaLabelName('catga.io/service'), 'catga_io_service');
});

test('a ServiceMonitor becomes an endpoints job that keeps its services and port and applies its relabelings', () => {
  const [job, ...rest] = scrapeConfigs([monitor({
    namespaceSelector: { any: true },
    selector: { matchLabels: { 'catga.io/service': 'headless', 'app.kubernetes.io/managed-by': 'catga-operator' } },
    endpoints: [{ port: 'http', path: '/metrics', interval: '5s', relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_name'], targetLabel: 'pod' }] }],
  })], API);
  assert.equal(rest.length, 0);
  assert.ok(job);
  assert.equal(job.job_name, 'serviceMonitor/catga-system/nodes/0');
  assert.equal(job.scrape_interval, '5s');
  const sd = (job.kubernetes_sd_configs as Record<string, unknown>[])[0]!;
  assert.equal(sd.role, 'endpoints');
  assert.equal(sd.namespaces, undefined, 'namespaceSelector.any watches every namespace');
  const relabel = job.relabel_configs as Record<string, unknown>[];
  assert.deepEqual(relabel[0], { source_labels: ['__meta_kubernetes_service_label_catga_io_service'], regex: 'headless', action: 'keep' });
  assert.deepEqual(relabel[1], { source_labels: ['__meta_kubernetes_service_label_app_kubernetes_io_managed_by'], regex: 'catga-operator', action: 'keep' });
  assert.deepEqual(relabel[2], { source_labels: ['__meta_kubernetes_endpoint_port_name'], regex: 'http', action: 'keep' });
  assert.deepEqual(relabel.at(-1), { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod', action: 'replace' });
});

test('an endpoint\'s tlsConfig becomes the job\'s tls_config; one that needs a Secret is refused by name', () => {
  const [job] = scrapeConfigs([monitor({ selector: { matchLabels: {} }, endpoints: [{ port: 'http', tlsConfig: { insecureSkipVerify: true, serverName: 'orders' } }] })], API);
  assert.deepEqual(job!.tls_config, { insecure_skip_verify: true, server_name: 'orders' });
  const [plain] = scrapeConfigs([monitor({ selector: { matchLabels: {} }, endpoints: [{ port: 'http' }] })], API);
  assert.equal(plain!.tls_config, undefined);
  assert.throws(() => scrapeConfigs([monitor({ selector: { matchLabels: {} }, endpoints: [{ port: 'http', tlsConfig: { ca: { secret: { name: 'c', key: 'ca.crt' } } } }] })], API), /tlsConfig: fields this translation does not cover: ca/);
});

test('honorLabels keeps the scraped series\' own labels (honor_labels), as the operator\'s backup metric needs', () => {
  const [honoring] = scrapeConfigs([monitor({ selector: { matchLabels: {} }, endpoints: [{ port: 'http', honorLabels: true }] })], API);
  assert.equal(honoring!.honor_labels, true);
  const [plain] = scrapeConfigs([monitor({ selector: { matchLabels: {} }, endpoints: [{ port: 'http' }] })], API);
  assert.equal(plain!.honor_labels, undefined);
});

test('without namespaceSelector.any a job watches only the ServiceMonitor\'s namespace; label values are matched literally', () => {
  const [job] = scrapeConfigs([monitor({ selector: { matchLabels: { app: 'a.b' } }, endpoints: [{ port: 'm' }] })], API);
  assert.deepEqual((job!.kubernetes_sd_configs as Record<string, unknown>[])[0]!.namespaces, { names: ['catga-system'] });
  assert.equal((job!.relabel_configs as Record<string, unknown>[])[0]!.regex, 'a\\.b');
});

test('a ServiceMonitor field the translation does not cover is refused by name', () => {
  assert.throws(() => scrapeConfigs([monitor({ selector: { matchLabels: {} }, endpoints: [{ port: 'm', scheme: 'https' }] })], API), /scheme/);
  assert.throws(() => scrapeConfigs([monitor({ selector: { matchLabels: {} }, endpoints: [], jobLabel: 'x' })], API), /jobLabel/);
});

const SELECTION = { cluster: 'cg', namespace: 'e2e', operatorNamespace: 'catga-system' };

test('every query of the shipped dashboard is produced with its variables set', () => {
  const path = fileURLToPath(new URL('../../../charts/catga-operator/dashboards/catga.json', import.meta.url));
  const dashboard = JSON.parse(readFileSync(path, 'utf8')) as Parameters<typeof panelQueries>[0];
  const queries = panelQueries(dashboard, SELECTION);
  const expected = (dashboard.panels ?? []).flatMap((p) => p.targets ?? []).filter((t) => t.expr).length;
  assert.ok(expected > 10, `the dashboard has ${expected} queries`);
  assert.equal(queries.length, expected);
  for (const q of queries) assert.ok(!/\$[A-Za-z_]/.test(q.expr), q.expr);
  assert.ok(queries.some((q) => q.expr.includes('namespace="e2e", pod=~"cg-[0-9]+"')));
  assert.ok(queries.some((q) => q.expr.includes('[1m]')), 'rates get a window');
});

test('a panel that uses a variable the check does not set is refused', () => {
  assert.throws(() => panelQueries({ panels: [{ title: 'p', targets: [{ expr: 'up{job="$job"}' }] }] }, SELECTION), /\$job/);
});

test('label_values(selector, label) variables become a query and the label to look for', () => {
  assert.deepEqual(variableQuery('label_values(catga_raft_term, namespace)'), { expr: 'catga_raft_term', label: 'namespace' });
  assert.deepEqual(variableQuery('label_values(catga_raft_term{namespace="$namespace"}, pod)'), { expr: 'catga_raft_term{namespace="$namespace"}', label: 'pod' });
  assert.throws(() => variableQuery('query_result(up)'), /not understood/);
});
