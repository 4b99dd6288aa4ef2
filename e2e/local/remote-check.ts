// The reduced scenario against a cluster the harness does not run itself (Kubernetes, reached
// through `kubectl port-forward`): the same clients, subscribers and checks as the local scenarios,
// with one kind of fault: every --kill-every seconds --kill-cmd is run on the current leader's pod.
//   node e2e/dist/local/remote-check.js --nodes cg-0=http://127.0.0.1:18080,... --seconds 30 \
//     --out DIR [--seed N] [--kill-every 10] [--kill-cmd 'kubectl -n e2e delete pod {pod} --wait=false']
// With https:// URLs --ca names the cluster's CA file; each node's certificate must name its id.
import { execFile } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { seededRandom, type ClusterView } from './cluster.js';
import { Workload } from './client.js';
import { EventSubscribers } from './events.js';
import { History } from './history.js';
import { getValue, type Endpoint } from './http.js';
import { LeaderMonitor } from './monitor.js';
import { evaluateRun, formatTable, runPassed, type FaultMark } from './report.js';
import { CLIENTS_PER_NODE, EVENT_CUT_EVERY_MS, MAX_OPS_PER_CLIENT, REQUEST_TIMEOUT_MS, SETTLE_TIMEOUT_MS, SHARED_KEYS, THINK_MS } from './scenario.js';

const KILL_TIMEOUT_MS = 60_000;

function parseEndpoints(spec: string, ca: string | undefined): Endpoint[] {
  return spec.split(',').map((item) => {
    const m = /^([A-Za-z0-9._-]+)=(https?:\/\/[^\s,]+)$/.exec(item.trim());
    if (m === null) throw Object.assign(new Error(`--nodes: expected id=url, got "${item}"`), { code: 'BAD_ARGUMENT' });
    const [id, url] = [m[1]!, m[2]!.replace(/\/$/, '')];
    if (!url.startsWith('https:')) return { id, url };
    if (ca === undefined) throw Object.assign(new Error(`--nodes: ${id} is https: give the cluster's CA with --ca FILE`), { code: 'BAD_ARGUMENT' });
    return { id, url, tls: { ca, servername: id } };
  });
}

async function leaderOf(endpoints: readonly Endpoint[]): Promise<string | null> {
  const views = await Promise.all(endpoints.map((e) => getValue<ClusterView>(`${e.url}/v1/cluster`, 2_000, undefined, e.tls)));
  return views.find((v) => v !== null && v.role === 'leader')?.id ?? null;
}

function runCommand(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { timeout: KILL_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err) reject(Object.assign(new Error(`${command}: ${stderr || err.message}`), { code: 'KILL_FAILED' }));
      else resolve();
    });
  });
}

/** Waits until every endpoint answers GET /v1/cluster with a leader (pods and port-forwards up). */
async function waitAllAnswer(endpoints: readonly Endpoint[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const views = await Promise.all(endpoints.map((e) => getValue<ClusterView>(`${e.url}/v1/cluster`, 2_000, undefined, e.tls)));
    if (views.every((v) => v !== null && v.leader !== null)) return;
    await sleep(500);
  }
  throw Object.assign(new Error(`not every node answered within ${timeoutMs} ms`), { code: 'NOT_SETTLED' });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string' },
      seconds: { type: 'string', default: '30' },
      out: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'kill-every': { type: 'string', default: '10' },
      'kill-cmd': { type: 'string' },
      name: { type: 'string', default: 'leader pod faults' },
      ca: { type: 'string' },
    },
  });
  if (values.nodes === undefined || values.out === undefined) {
    console.error('usage: remote-check --nodes id=url,... --out DIR [--ca FILE] [--seconds 30] [--seed 1] [--kill-every 10] [--kill-cmd CMD with {pod}] [--name NAME]');
    return 2;
  }
  const endpoints = parseEndpoints(values.nodes, values.ca === undefined ? undefined : readFileSync(values.ca, 'utf8'));
  const seconds = Number(values.seconds);
  const killEveryMs = Number(values['kill-every']) * 1000;
  mkdirSync(values.out, { recursive: true });
  const random = seededRandom(Number(values.seed));
  const history = new History();
  const trace = createWriteStream(`${values.out}/requests.log`);
  const subscribers = new EventSubscribers(endpoints, random, EVENT_CUT_EVERY_MS);
  const monitor = new LeaderMonitor(() => endpoints);
  const marks: FaultMark[] = [];
  await waitAllAnswer(endpoints, SETTLE_TIMEOUT_MS * 4);
  subscribers.start();
  monitor.start();
  const workload = new Workload(history, {
    maxDurationMs: seconds * 1000,
    clients: CLIENTS_PER_NODE * endpoints.length,
    keys: SHARED_KEYS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    thinkMs: THINK_MS,
    maxOpsPerClient: MAX_OPS_PER_CLIENT,
    random,
    targets: () => endpoints,
    trace,
  });
  const traffic = workload.run();
  const killCmd = values['kill-cmd'];
  if (killCmd !== undefined) {
    const faultEnd = Date.now() + seconds * 750;
    for (await sleep(killEveryMs); Date.now() < faultEnd; await sleep(killEveryMs)) {
      const leader = await leaderOf(endpoints);
      if (leader === null) continue;
      await runCommand(killCmd.replaceAll('{pod}', leader));
      marks.push({ label: `fault on pod ${leader}`, atNs: history.now() });
    }
  }
  marks.push({ label: 'heal', atNs: history.now() });
  await traffic;
  await waitAllAnswer(endpoints, SETTLE_TIMEOUT_MS * 4);
  monitor.stop();
  await new Promise((resolve) => trace.end(resolve));
  const result = await evaluateRun({
    name: values.name,
    nodes: endpoints.length,
    seconds,
    endpoints,
    history,
    marks,
    leaderChanges: monitor.leaderChanges,
    subscribers,
    historyPath: `${values.out}/history.jsonl`,
    settleTimeoutMs: SETTLE_TIMEOUT_MS,
  });
  console.log(formatTable([result]));
  for (const d of result.details) console.log(`  ${d}`);
  return runPassed(result) ? 0 : 1;
}

process.exitCode = await main();
