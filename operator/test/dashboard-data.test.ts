// The chart's Grafana dashboard and alert rules against real data: the operator (a real process on
// a real control plane) runs a 3-node CatgaCluster whose pods are real `catga node` processes; a
// real Prometheus (Debian's `prometheus`) scrapes the pods and the operator with only the labels a
// PodMonitor or ServiceMonitor target carries (namespace, pod) while writes, batches and
// linearizable reads run, a follower pod is deleted and recreated, and a stranger is refused at a
// peer port. Every panel's queries, filled in as Grafana would, must return samples (targets that
// need an event this run cannot cause are listed with the reason); every alert rule must evaluate
// without error, and no node alert may be pending.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import WebSocket from 'ws';
import yaml from 'js-yaml';
import { CHART_DIR } from './repo-paths.js';
import { RELEASE_NAMESPACE, byKind, render } from './chart-render.js';
import { Writer, clientToken, clusterPods, startWorld, waitAvailable, type World } from './scenario.js';
import { eventually } from './support.js';

const NS = 'shop';
const CLUSTER = 'orders';
/** The operator runs in the chart's release namespace (what its alerts select). */
const OPERATOR_NAMESPACE = RELEASE_NAMESPACE;
const SCRAPE_SECONDS = 1;
/** What Grafana sends for $__rate_interval at this scrape interval: four scrapes and a margin. */
const RATE_INTERVAL = '5s';
const LOAD_LOOPS = 4;

/** Targets that stay empty in this run, and why. */
const EMPTY_HERE: Record<string, string> = {
  'catga_peer_messages_dropped_total': 'drops need a peer queue of 8,192 messages to fill',
  'catga_operator_reconcile_errors_total': 'no reconcile fails in this run',
};

interface Panel { type: string; title: string; targets?: { expr: string; refId: string }[] }
interface Sample { metric: Record<string, string>; value: [number, string] }

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    }).on('error', fail);
  });
}

function writeFileAtomic(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const fill = (expr: string): string => expr
  .replaceAll('$__rate_interval', RATE_INTERVAL).replaceAll('$operator_namespace', OPERATOR_NAMESPACE)
  .replaceAll('$namespace', NS).replaceAll('$cluster', CLUSTER);

const allowedEmpty = (expr: string): boolean => Object.keys(EMPTY_HERE).some((m) => expr.includes(m));

/** POSTs `body(n)` to the pods round robin until `stop()`: background read or batch load. */
class Loop {
  private stopped = false;
  private readonly done: Promise<void>;
  ok = 0;
  constructor(urls: () => string[], path: string, token: string, body: (n: number) => unknown) {
    this.done = (async () => {
      for (let n = 0; !this.stopped; n++) {
        const all = urls();
        try {
          const res = await fetch(`${all[n % all.length]}${path}`, {
            method: 'POST', body: JSON.stringify(body(n)), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(3_000),
          });
          await res.arrayBuffer();
          if (res.status === 200) this.ok++;
        } catch {
          await new Promise((r) => setTimeout(r, 100)); // a pod being recreated
        }
      }
    })();
  }
  async stop(): Promise<number> { this.stopped = true; await this.done; return this.ok; }
}

let w: World;
let prometheus: ChildProcess | null = null;
const dir = mkdtempSync(join(tmpdir(), 'catga-prom-'));
before(async () => { w = await startWorld(NS); });
after(async () => {
  prometheus?.kill('SIGKILL');
  await w?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('every dashboard panel returns data and every alert rule evaluates, on a real cluster under load', { timeout: 240_000 }, async () => {
  // Plain HTTP: this test is about the dashboards and alerts, and its Prometheus scrapes the pods by IP.
  await w.clusters.create(CLUSTER, { replicas: 3, tls: { enabled: false } });
  await waitAvailable(w, CLUSTER, 3, 90_000);
  const operatorPort = await w.operator.httpPort();
  let pods = await clusterPods(w, CLUSTER);
  const podUrls = (): string[] => pods.filter((p) => p.status?.podIP).map((p) => `http://${p.status!.podIP}:8080`);

  // Prometheus discovers nothing here: each target gets the labels its pod's monitor would give it.
  // file_sd lets the test move a recreated pod's target to its new IP.
  const targetsFile = join(dir, 'targets.json');
  // Written aside and renamed into place: Prometheus never reads a half-written file.
  const writeTargets = (): void => writeFileAtomic(targetsFile, JSON.stringify([
    ...pods.map((p) => ({ targets: [`${p.status!.podIP}:8080`], labels: { namespace: NS, pod: p.metadata!.name! } })),
    { targets: [`127.0.0.1:${operatorPort}`], labels: { namespace: OPERATOR_NAMESPACE, pod: 'catga-operator-7d9f-x2x4k' } },
  ]));
  writeTargets();
  const rule = byKind(render('prometheusRule.enabled=true'), 'PrometheusRule')[0] as unknown as { spec: { groups: unknown } };
  writeFileSync(join(dir, 'rules.yml'), yaml.dump({ groups: rule.spec.groups }));
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify({
    global: { scrape_interval: `${SCRAPE_SECONDS}s`, evaluation_interval: `${SCRAPE_SECONDS}s` },
    rule_files: [join(dir, 'rules.yml')],
    scrape_configs: [{ job_name: 'catga', file_sd_configs: [{ files: [targetsFile], refresh_interval: '1s' }] }],
  }));
  const port = await freePort();
  let promLog = '';
  prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  prometheus.stderr!.on('data', (d: Buffer) => { promLog = (promLog + d.toString()).slice(-4000); });
  const api = `http://127.0.0.1:${port}/api/v1`;
  const query = async (q: string): Promise<Sample[]> => {
    const body = await (await fetch(`${api}/query?query=${encodeURIComponent(q)}`)).json() as { status: string; error?: string; data: { result: Sample[] } };
    assert.equal(body.status, 'success', `${q}: ${body.error ?? ''}`);
    return body.data.result;
  };
  await eventually('Prometheus scraping the three pods and the operator', 30_000, async () => (await query('sum(up)'))[0]?.value[1] === '4');

  // Load on every pod (followers forward): writes, batches, linearizable reads.
  const writers = Array.from({ length: LOAD_LOOPS }, () => new Writer(w, CLUSTER, 5));
  // The pods accept no request without the client token the operator generated.
  const token = await clientToken(w, CLUSTER);
  const batches = new Loop(podUrls, '/v1/commands', token, (n) => ({ commands: Array.from({ length: 20 }, (_, i) => ({ type: 'kv.put', payload: { key: `b${(n * 20 + i) % 500}`, value: 'x' } })) }));
  const reads = new Loop(podUrls, '/v1/queries/kv.get?consistency=linearizable', token, (n) => ({ key: `w-${n % 100}` }));
  try {
    await new Promise((r) => setTimeout(r, 5_000));
    // A follower pod deleted: the StatefulSet recreates it, the leader reconnects to it.
    const leader = (await w.clusters.get(CLUSTER)).status!.leader!;
    const follower = pods.find((p) => p.metadata!.name !== leader)!.metadata!.name!;
    await w.kc.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: follower, namespace: NS, gracePeriodSeconds: 0 });
    await eventually(`${follower} recreated and ready`, 90_000, async () => {
      pods = await clusterPods(w, CLUSTER);
      const p = pods.find((x) => x.metadata!.name === follower);
      return p?.status?.podIP !== undefined && p.metadata!.deletionTimestamp === undefined
        && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
    });
    writeTargets();
    // A stranger at the leader's peer port is refused (counted on a pod that stays up).
    const leaderPod = pods.find((p) => p.metadata!.name === leader)!;
    const stranger = new WebSocket(`ws://${leaderPod.status!.podIP}:7080/catga/peer/v1`);
    stranger.on('open', () => stranger.send('not a handshake'));
    stranger.on('error', () => {});
    await new Promise((r) => setTimeout(r, 12_000));

    const panels = (JSON.parse(readFileSync(resolve(CHART_DIR, 'dashboards/catga.json'), 'utf8')) as { panels: Panel[] }).panels.filter((p) => p.type !== 'row');
    const emptyPanels: string[] = [];
    const emptyTargets: string[] = [];
    for (const panel of panels) {
      let hasData = false;
      for (const t of panel.targets ?? []) {
        if ((await query(fill(t.expr))).length > 0) hasData = true;
        else if (!allowedEmpty(t.expr)) emptyTargets.push(`${panel.title} [${t.refId}]: ${fill(t.expr)}`);
      }
      if (!hasData) emptyPanels.push(panel.title);
    }
    assert.deepEqual(emptyPanels, [], 'panels without data');
    assert.deepEqual(emptyTargets, [], 'queries without data');

    const rules = (await (await fetch(`${api}/rules`)).json() as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } })
      .data.groups.flatMap((g) => g.rules);
    assert.ok(rules.length > 10, `${rules.length} rules loaded`);
    assert.deepEqual(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`), [], 'rules that fail to evaluate');
    assert.equal((await query(`catga:raft_active_voters{namespace="${NS}"}`))[0]?.value[1], '3', 'the leader reaches all three voters');
    assert.equal((await query(`catga:raft_follower_lag_entries{namespace="${NS}"}`)).length, 2, 'the lag of both followers');
    // Pending or firing: nothing but the refusal the stranger above caused on purpose (every
    // refusal reason is a series from 0, so its rate rises at once: the alert is pending, its
    // `for` keeps it from firing).
    const alerts = (await query('ALERTS{alertname=~"Catga.*"}')).map((a) => `${a.metric['alertname']} ${a.metric['alertstate']}`);
    // The pods' volumes are directories on this machine's disk: when that disk really has less
    // than the chart's 10% available, the volume alert is right to be pending.
    const disk = statfsSync(tmpdir());
    const diskNearlyFull = Number(disk.bavail) / Number(disk.blocks) < 0.1;
    const expected = (a: string): boolean => a === 'CatgaPeerHandshakesRejected pending' || (diskNearlyFull && a === 'CatgaDataVolumeNearlyFull pending');
    assert.deepEqual(alerts.filter((a) => !expected(a)), [], 'no other alert on a healthy cluster with a healthy operator');
    assert.ok(alerts.includes('CatgaPeerHandshakesRejected pending'), `the stranger's refused handshake makes its alert pending: ${alerts.join(', ')}`);
  } finally {
    const acked = (await Promise.all(writers.map((x) => x.stop()))).flat();
    const [batched, read] = [await batches.stop(), await reads.stop()];
    assert.ok(acked.length > 0 && batched > 0 && read > 0, `the load ran: ${acked.length} writes, ${batched} batches, ${read} reads`);
  }
  assert.doesNotMatch(promLog, /level=error/, promLog);
});
