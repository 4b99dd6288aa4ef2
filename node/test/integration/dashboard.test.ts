// The chart's Grafana dashboard against real data: a real Prometheus (Debian's `prometheus`)
// scrapes a real 3-node cluster under load, with only the labels a PodMonitor target carries
// (namespace, pod: no relabelling), and every panel's queries, with the dashboard's variables
// filled in as Grafana would, must return samples. Targets that need an event this run does not
// cause are listed with the reason. The same Prometheus evaluates the chart's alert rules on this
// real data: every rule must evaluate without error, and no node alert may be pending on a
// cluster that is healthy apart from one follower restart.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import yaml from 'js-yaml';
import { runLoad, type LoadResult } from '../../src/bench/load.js';
import { TestCluster, sleep, until } from './cluster.js';

const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');
const CHART = resolve(REPO, 'charts/catga-operator');
const DASHBOARD = resolve(CHART, 'dashboards/catga.json');
const HELM = resolve(REPO, 'bin/helm');
const NAMESPACE = 'shop';
const CLUSTER = 'orders';
const SCRAPE_SECONDS = 1;
/** What Grafana sends for $__rate_interval at this scrape interval: four scrapes and a margin. */
const RATE_INTERVAL = '5s';
const LOAD_SECONDS = 30;

/** Targets that stay empty on a healthy cluster without the operator, and why. */
const EMPTY_HERE: Record<string, string> = {
  'catga_peer_messages_dropped_total': 'drops need a peer queue of 8,192 messages to fill',
  'catga_operator_': 'no operator runs in this test (its panels are checked by the chart tests: the queries parse)',
};

interface Panel { type: string; title: string; targets?: { expr: string; refId: string }[] }

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    }).on('error', fail);
  });
}

/** The rule groups of the chart's PrometheusRule, rendered by the repository's helm. */
function chartRuleGroups(): unknown {
  assert.ok(existsSync(HELM), `${HELM} is missing: run \`make tools\` first`);
  const out = execFileSync(HELM, ['template', 'rel', CHART, '--kube-version', '1.31.0', '--set', 'prometheusRule.enabled=true',
    '--show-only', 'templates/prometheusrule.yaml'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return (yaml.load(out) as { spec: { groups: unknown } }).spec.groups;
}

const fill = (expr: string): string => expr
  .replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$operator_namespace', 'catga-system')
  .replaceAll('$namespace', NAMESPACE).replaceAll('$cluster', CLUSTER);

describe('the Grafana dashboard against Prometheus scraping a 3-node cluster under load', { timeout: 180_000 }, () => {
  let c: TestCluster | null = null;
  let prometheus: ChildProcess | null = null;
  const dir = mkdtempSync(join(tmpdir(), 'catga-prom-'));
  after(async () => {
    prometheus?.kill('SIGKILL');
    await c?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every panel returns data', async () => {
    c = await TestCluster.start({ nodes: 3 });
    await c.leader();
    const port = await freePort();
    // One static target per node, labelled as a PodMonitor would label pod orders-<i> in namespace shop.
    writeFileSync(join(dir, 'rules.yml'), yaml.dump({ groups: chartRuleGroups() }));
    const config = {
      rule_files: [join(dir, 'rules.yml')],
      global: { scrape_interval: `${SCRAPE_SECONDS}s`, evaluation_interval: `${SCRAPE_SECONDS}s` },
      scrape_configs: [{
        job_name: 'shop/catga', metrics_path: '/metrics',
        static_configs: c.nodes.map((n, i) => ({ targets: [new URL(n.url).host], labels: { namespace: NAMESPACE, pod: `${CLUSTER}-${i}` } })),
      }],
    };
    writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config));
    let promLog = '';
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    prometheus.stderr!.on('data', (d: Buffer) => { promLog = (promLog + d.toString()).slice(-4000); });
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const res = await fetch(`${api}/query?query=${encodeURIComponent(q)}`);
      const body = await res.json() as { status: string; error?: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      assert.equal(body.status, 'success', `${q}: ${body.error ?? ''}`);
      return body.data.result;
    };
    await until('Prometheus scrapes all three nodes', async () => (await query('sum(up)').catch(() => []))[0]?.value[1] === '3', 30_000, 500);

    // Load: puts and linearizable reads spread over all nodes (followers forward), batches, an
    // event subscriber, one refused peer handshake, and a follower killed and restarted.
    const urls = c.nodes.map((n) => n.url);
    const loads: Promise<LoadResult>[] = [
      runLoad({ urls, path: '/v1/commands/kv.put', body: (n) => JSON.stringify({ key: `k${n % 500}`, value: `v${n}` }) }, 8, LOAD_SECONDS),
      runLoad({ urls, path: '/v1/queries/kv.get?consistency=linearizable', body: (n) => JSON.stringify({ key: `k${n % 500}` }) }, 4, LOAD_SECONDS),
      runLoad({ urls, path: '/v1/commands', body: (n) => JSON.stringify({ commands: Array.from({ length: 20 }, (_, i) => ({ type: 'kv.put', payload: { key: `b${(n * 20 + i) % 500}`, value: 'x' } })) }) }, 2, LOAD_SECONDS),
    ];
    const subscriber = new WebSocket(`${urls[0]!.replace('http', 'ws')}/v1/events`);
    let events = 0;
    subscriber.on('message', () => { events++; });

    await sleep(5_000);
    const leader = await c.leader();
    const follower = (leader + 1) % 3;
    await c.kill(follower);
    await sleep(3_000);
    c.startNode(follower);
    // A stranger on the leader's peer port (the leader's counters survive the run).
    const stranger = new WebSocket(`ws://127.0.0.1:${c.nodes[leader]!.peerPort}/catga/peer/v1`);
    stranger.on('open', () => stranger.send('not a handshake'));
    stranger.on('error', () => {});
    await sleep(12_000);

    const panels = (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }).panels.filter((p) => p.type !== 'row');
    const emptyPanels: string[] = [];
    const emptyTargets: string[] = [];
    for (const panel of panels) {
      let panelHasData = false;
      for (const t of panel.targets ?? []) {
        const result = await query(fill(t.expr));
        if (result.length > 0) panelHasData = true;
        else if (!Object.keys(EMPTY_HERE).some((m) => t.expr.includes(m))) emptyTargets.push(`${panel.title} [${t.refId}]: ${fill(t.expr)}`);
      }
      if (!panelHasData && !(panel.targets ?? []).every((t) => Object.keys(EMPTY_HERE).some((m) => t.expr.includes(m)))) emptyPanels.push(panel.title);
    }
    const rules = (await (await fetch(`${api}/rules`)).json() as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } })
      .data.groups.flatMap((g) => g.rules);
    assert.ok(rules.length > 10, `${rules.length} rules loaded`);
    assert.deepEqual(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`), [], 'rules that fail to evaluate');
    assert.equal((await query(`catga:raft_active_voters{namespace="${NAMESPACE}"}`))[0]?.value[1], '3', 'the leader reaches all three voters');
    assert.equal((await query(`catga:raft_follower_lag_entries{namespace="${NAMESPACE}"}`)).length, 2, 'lag of both followers');
    const nodeAlerts = await query(`ALERTS{alertname=~"Catga.*", alertname!~"CatgaOperator.*"}`);
    assert.deepEqual(nodeAlerts.map((a) => a.metric['alertname']), [], 'no node alert on a healthy cluster');

    const results = await Promise.all(loads);
    subscriber.close();
    assert.deepEqual(emptyPanels, [], 'panels without data');
    assert.deepEqual(emptyTargets, [], 'queries without data');
    assert.ok(results.every((r) => r.requests > 0), 'the load ran');
    assert.ok(events > 0, 'the subscriber received events');
    assert.ok(promLog === '' || !/level=error/.test(promLog), promLog);
  });
});
