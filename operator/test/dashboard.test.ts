// The Grafana dashboard: the chart's JSON is exactly what the SDK generator writes, and every
// panel query keeps to the rules an on-call engineer relies on: it parses (promtool), it selects
// by namespace and cluster (or the operator's namespace), every rate runs over $__rate_interval,
// and no figure is reduced across clusters with scalar().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { DASHBOARD_JSON_PATH, dashboardJson } from '../dashboards/generate.js';
import { NODES, OPERATOR, ROWS } from '../dashboards/catga-dashboard.js';

interface Dashboard { templating: { list: { name: string }[] }; panels: { type: string; title: string; targets?: { expr: string }[] }[] }

const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD_JSON_PATH, 'utf8')) as Dashboard;
const exprs = (): string[] => dashboard().panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

/** A panel query with Grafana's variables replaced by values, as Grafana sends it. */
const substituted = (expr: string): string => expr
  .replaceAll('$__rate_interval', '1m').replaceAll('$namespace', 'shop').replaceAll('$cluster', 'orders').replaceAll('$operator_namespace', 'ops');

test('the chart dashboard is the generator output (run `node operator/dist/dashboards/generate.js` after a change)', () => {
  assert.equal(readFileSync(DASHBOARD_JSON_PATH, 'utf8'), dashboardJson());
});

test('namespace, cluster and operator namespace variables; one panel per table row entry', () => {
  const d = dashboard();
  assert.deepEqual(d.templating.list.map((v) => v.name), ['datasource', 'namespace', 'cluster', 'operator_namespace']);
  assert.deepEqual(d.panels.filter((p) => p.type === 'timeseries').map((p) => p.title), ROWS.flatMap((r) => r.panels.map((p) => p.title)));
});

test('every query selects by namespace and cluster (or operator namespace), rates on $__rate_interval, no scalar()', () => {
  for (const expr of exprs()) {
    assert.ok(expr.includes(NODES) || expr.includes(OPERATOR), `selects its scope: ${expr}`);
    assert.ok(!expr.includes('scalar('), `no scalar(): ${expr}`);
    // Brackets other than the pod-ordinal class [0-9] are range windows.
    for (const m of expr.replaceAll('[0-9]', '').matchAll(/\[([^\]]+)\]/g)) assert.equal(m[1], '$__rate_interval', `window of ${expr}`);
    // Every selector of a node series carries the scope: count selectors and scoped selectors.
    const selectors = [...expr.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\{/g)].length;
    const scoped = expr.split(NODES).length - 1 + expr.split(OPERATOR).length - 1;
    assert.equal(scoped, selectors, `every series selector is scoped: ${expr}`);
  }
});

test('every panel query parses (promtool check rules)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-dashboard-'));
  try {
    const rules = exprs().map((expr, i) => ({ record: `dashboard:query_${i}`, expr: substituted(expr) }));
    writeFileSync(join(dir, 'queries.yaml'), yaml.dump({ groups: [{ name: 'dashboard', rules }] }, { lineWidth: -1 }));
    execFileSync('promtool', ['check', 'rules', join(dir, 'queries.yaml')], { stdio: 'pipe' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('panels for memory, event-loop lag, peers, handshakes, snapshots, slow subscribers, forwarding, torn records, operator leader', () => {
  const all = exprs().join('\n');
  for (const metric of ['process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'catga_peer_messages_dropped_total', 'catga_peer_reconnects_total',
    'catga_peer_handshakes_rejected_total', 'catga_snapshots_total', 'catga_ws_slow_consumers_closed_total', 'catga_forwarded_requests_total',
    'catga_wal_torn_records_total', 'catga_operator_leader', 'catga_raft_peer_active', 'catga_data_volume_available_bytes']) {
    assert.ok(all.includes(metric), `a panel shows ${metric}`);
  }
});
