// The large-state row of `catga bench`: a 3-node cluster loaded with N MB of kv values (60 KB
// each, batches of 15, four loaders), then: leader changes during the load, each node's RSS
// (resident total; its anonymous part, with V8's heap and Buffers in it; its file-backed part,
// with the engine's memory map in it, reclaimable page cache), a fourth member's catch-up time (it
// joins, receives the streamed snapshot, and serves a linearizable read of the last key), and a
// follower's restart time (SIGTERM, start, until /readyz answers 200). A benchmark: it reports,
// never asserts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster } from '../local/local-cluster.js';
import { REQUEST_TIMEOUT_MS, waitFor } from './load.js';

const VALUE_BYTES = 60 * 1024;
const PER_BATCH = 15;
const LOADERS = 4;
const LAST_KEY = 'state-bench-last';

export interface NodeMemory {
  readonly id: string;
  readonly rssMb: number;
  readonly anonMb: number;
  readonly fileMb: number;
  /** Of fileMb, the pages of the state engine's map (its `.mdb` files) resident in this process. */
  readonly engineMapMb: number;
  /** Of anonMb, V8's used heap and the memory outside it that JavaScript objects hold (Buffers). */
  readonly heapMb: number;
  readonly externalMb: number;
}

export interface StateBenchResult {
  readonly stateMb: number;
  readonly loadSeconds: number;
  readonly loadErrors: number;
  readonly leaderChanges: number;
  readonly afterLoad: readonly NodeMemory[];
  readonly catchUpSeconds: number;
  readonly snapshotBytesReceived: number;
  readonly newMember: NodeMemory;
  readonly restartSeconds: number;
  readonly restarted: NodeMemory;
}

/** Resident kB of the mappings in `/proc/<pid>/smaps` whose file name ends with `suffix`. */
export function residentOfMappings(pid: number, suffix: string): number {
  let kb = 0;
  let counting = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) counting = line.trimEnd().endsWith(suffix);
    else if (counting && line.startsWith('Rss:')) kb += Number(/(\d+) kB/.exec(line)?.[1] ?? 0);
  }
  return kb;
}

async function memory(m: { id: string; url: string; proc: { pid?: number } | null }): Promise<NodeMemory> {
  const pid = m.proc?.pid;
  if (pid === undefined) throw new Error(`state bench: ${m.id} is not running`);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  const metrics = await metricsText(m.url);
  const mb = (name: string): number => metricIn(metrics, name) / 2 ** 20;
  return {
    id: m.id, rssMb: kb('VmRSS'), anonMb: kb('RssAnon'), fileMb: kb('RssFile'), engineMapMb: residentOfMappings(pid, '.mdb') / 1024,
    heapMb: mb('nodejs_heap_size_used_bytes'), externalMb: mb('nodejs_external_memory_bytes'),
  };
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: { ok: boolean; value?: unknown } }> {
  const res = await fetch(url, { ...init, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: res.status, body: (await res.json()) as { ok: boolean; value?: unknown } };
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).text();
}

/** The value of the unlabelled series `name` in a scrape, 0 when absent. */
function metricIn(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

async function metric(url: string, name: string): Promise<number> {
  return metricIn(await metricsText(url), name);
}

async function until(what: string, f: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await f().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`state bench: timed out waiting for ${what}`);
}

async function leaderUrl(c: LocalCluster): Promise<string> {
  let url = '';
  await until('a leader', async () => {
    const view = await json(`${c.members[0]!.url}/v1/cluster`);
    const leader = (view.body.value as { leader: string | null }).leader;
    url = c.members.find((m) => m.id === leader)?.url ?? '';
    return url !== '';
  }, 30_000);
  return url;
}

export async function stateBench(dir: string, stateMb: number, log: (s: string) => void): Promise<StateBenchResult> {
  const c = await LocalCluster.create({
    dir: join(dir, 'catga-state'), members: 4, bootstrapExpect: 3, clusterId: 'bench-state', secret: 'bench-cluster-secret-000', adminToken: 'bench-admin-token',
    env: { CATGA_LOG_LEVEL: 'warn', CATGA_OPEN_ACCESS: 'true', CATGA_MAX_BODY_BYTES: String(2 * 1024 * 1024) },
  });
  for (let i = 0; i < 3; i++) c.start(i);
  try {
    await Promise.all(c.members.slice(0, 3).map((m) => waitFor(m.url, '/v1/commands/kv.put', '{"key":"warm","value":"up"}', 30_000)));
    const leader = await leaderUrl(c);
    const changesBefore = await Promise.all(c.members.slice(0, 3).map((m) => metric(m.url, 'catga_raft_leader_changes_total')));
    const puts = Math.ceil((stateMb * 1024 * 1024) / VALUE_BYTES);
    const value = 'v'.repeat(VALUE_BYTES - 16);
    let next = 0;
    let errors = 0;
    const started = performance.now();
    const loader = async (): Promise<void> => {
      while (next < puts) {
        const from = next;
        next = Math.min(puts, next + PER_BATCH);
        const commands = [];
        for (let k = from; k < next; k++) commands.push({ type: 'kv.put', payload: { key: `s${String(k).padStart(8, '0')}`, value: `${k}:${value}` } });
        const r = await json(`${leader}/v1/commands`, { method: 'POST', body: JSON.stringify({ commands }) }).catch(() => ({ status: 0 }));
        if (r.status !== 200) errors++;
      }
    };
    await Promise.all(Array.from({ length: LOADERS }, loader));
    await json(`${leader}/v1/commands/kv.put`, { method: 'POST', body: JSON.stringify({ key: LAST_KEY, value: 'written last' }) });
    const loadSeconds = (performance.now() - started) / 1000;
    const changesAfter = await Promise.all(c.members.slice(0, 3).map((m) => metric(m.url, 'catga_raft_leader_changes_total')));
    const leaderChanges = Math.max(...changesAfter.map((n, i) => n - changesBefore[i]!));
    const afterLoad = await Promise.all(c.members.slice(0, 3).map(memory));
    log(`  state ${stateMb} MB loaded in ${loadSeconds.toFixed(1)} s, ${errors} errors, ${leaderChanges} leader changes; RSS MB ${afterLoad.map((m) => m.rssMb.toFixed(0)).join('/')}`);

    const joinStarted = performance.now();
    const newcomer = c.start(3);
    await until('the new member to serve the last key', async () => {
      const r = await json(`${newcomer.url}/v1/queries/kv.get?consistency=linearizable`, { method: 'POST', body: JSON.stringify({ key: LAST_KEY }) });
      return r.status === 200 && (r.body.value as { value?: unknown } | null)?.value === 'written last';
    }, 600_000);
    const catchUpSeconds = (performance.now() - joinStarted) / 1000;
    const snapshotBytesReceived = await metric(newcomer.url, 'catga_snapshot_received_bytes_total');
    const newMember = await memory(newcomer);
    log(`  new member caught up in ${catchUpSeconds.toFixed(1)} s (${(snapshotBytesReceived / 2 ** 20).toFixed(0)} MB of snapshot), RSS ${newMember.rssMb.toFixed(0)} MB`);

    const leaderNow = await leaderUrl(c);
    const follower = c.members.findIndex((m, i) => i < 3 && m.url !== leaderNow);
    await c.stop(follower, 'SIGTERM');
    const restartStarted = performance.now();
    const back = c.start(follower);
    await until('the restarted follower to be ready', async () => (await fetch(`${back.url}/readyz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).status === 200, 120_000);
    const restartSeconds = (performance.now() - restartStarted) / 1000;
    const restarted = await memory(back);
    log(`  follower restarted and ready in ${restartSeconds.toFixed(2)} s`);
    return { stateMb, loadSeconds, loadErrors: errors, leaderChanges, afterLoad, catchUpSeconds, snapshotBytesReceived, newMember, restartSeconds, restarted };
  } finally {
    await c.stopAll('SIGTERM');
  }
}
