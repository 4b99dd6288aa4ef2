// `catga bench`: Catga and etcd side by side on this machine, through the same HTTP load
// generator, the same payloads and the same connection counts; every Catga figure is printed with
// its ratio to etcd's. `--quick` is the CI smoke run (under two minutes); `--json` prints the
// results for scripts. The put and fan-out rows also run on a second Catga cluster with TLS (HTTPS
// clients, wss:// subscribers, mutual TLS between peers, certificates from a local openssl CA),
// each right after its plain twin, and a table gives TLS/plain. A benchmark, not a test: it never
// fails on a speed threshold.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FlagError, parseOrExplain, readFlags } from '../common/flags.js';
import { LocalCluster } from '../local/local-cluster.js';
import { LocalPki } from '../local/local-pki.js';
import { etcdBodies, startEtcd } from './etcd.js';
import { Connection, requestOnce, runLoad, waitFor, type LoadResult, type LoadTarget } from './load.js';
import { cpuPerOperation, type CpuMeasured } from './process-cpu.js';
import { stateBench, type NodeMemory, type StateBenchResult } from './state-bench.js';

/** The parts of a run, selectable with --only; `tls` repeats the put and fan-out rows selected on a TLS cluster. */
const SECTIONS = ['put', 'local', 'linearizable', 'batch', 'fanout', 'tls', 'state'] as const;
type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  quick: boolean;
  json: boolean;
  seconds: number;
  connections: number[];
  subscribers: number[];
  eventsPerSecond: number;
  only: ReadonlySet<Section>;
  /** Untimed load on each workload, for both systems, before its measured rows. */
  warmupSeconds: number;
  /**
   * Timed runs of each system per row, alternated (Catga, etcd, Catga, ...); the row shows each
   * system's median run. Two runs of the same build differ by up to 15% on a shared host.
   */
  rounds: number;
  /** Seconds of put load (64 connections) with Catga's RSS sampled every SOAK_SAMPLE_MS; 0 = none. */
  soakSeconds: number;
  /** MB of state the large-state row loads (its own cluster, after the other rows). */
  stateMb: number;
}

interface Row {
  readonly workload: string;
  readonly connections: number;
  readonly catga: LoadResult;
  readonly etcd: LoadResult | null;
  /** The same load on the TLS cluster (put rows of a run with the tls section). */
  readonly catgaTls: LoadResult | null;
  /** CPU microseconds the servers spent per operation, all nodes (process-cpu.ts); null: unknown. */
  readonly cpuUsPerOp: { readonly catga: number | null; readonly etcd: number | null };
}

interface FanoutRow {
  /** Subscribers on wss:// and peers on mutual TLS. */
  readonly tls: boolean;
  readonly subscribers: number;
  readonly targetEventsPerSecond: number;
  readonly publishedPerSecond: number;
  readonly deliveredPerSecond: number;
  readonly perSubscriberPerSecond: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly closedEarly: number;
}

export const USAGE = `catga bench [--quick] [--json] [--only=${SECTIONS.join(',')}] [--seconds=N] [--rounds=N] [--soak=SECONDS] [--state-mb=MB]`;

/** Most alternated runs per row: each is `--seconds` long for each system. */
const MAX_ROUNDS = 15;

/** The options of `argv`; FlagError naming the flag on an unknown flag or a malformed value. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  const f = readFlags(argv, {
    quick: { type: 'boolean' }, json: { type: 'boolean' }, only: { type: 'string' },
    seconds: { type: 'string' }, rounds: { type: 'string' }, soak: { type: 'string' }, 'state-mb': { type: 'string' },
  });
  const quick = f.quick === true;
  const number = (name: 'seconds' | 'soak' | 'state-mb', fallback: number): number => {
    const v = f[name];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new FlagError(`--${name} needs a positive number of seconds, got "${v}"`);
    return n;
  };
  const onlyFlag = f.only;
  const only = new Set<Section>();
  for (const part of onlyFlag === undefined ? SECTIONS : onlyFlag.split(',')) {
    if (!(SECTIONS as readonly string[]).includes(part)) throw new FlagError(`--only takes ${SECTIONS.join(',')}; got "${part}"`);
    only.add(part as Section);
  }
  if (only.has('tls') && !only.has('put') && !only.has('fanout')) throw new FlagError('--only=tls repeats the put and fan-out rows on TLS: add put or fanout');
  const rounds = f.rounds === undefined ? (quick ? 1 : 3) : Number(f.rounds);
  if (!Number.isSafeInteger(rounds) || rounds < 1 || rounds > MAX_ROUNDS) throw new FlagError(`--rounds needs a whole number from 1 to ${MAX_ROUNDS}, got "${f.rounds}"`);
  return {
    quick,
    json: f.json === true,
    seconds: number('seconds', quick ? 1.5 : 5),
    warmupSeconds: quick ? 1 : 3,
    rounds,
    connections: quick ? [1, 64] : [1, 16, 64, 256],
    subscribers: quick ? [1, 100] : [1, 100, 1000],
    eventsPerSecond: quick ? 2_000 : 10_000,
    only: f.soak !== undefined && onlyFlag === undefined ? new Set() : only,
    soakSeconds: f.soak !== undefined ? number('soak', 0) : 0,
    stateMb: number('state-mb', quick ? 64 : 1024),
  };
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** How often the soak samples each node's RSS. */
const SOAK_SAMPLE_MS = 10_000;

interface SoakResult {
  readonly seconds: number;
  readonly perSecond: number;
  readonly errors: number;
  /** RSS (MB) of each Catga node, one row per sample: [elapsed s, node 1, node 2, ...]. */
  readonly samples: number[][];
}

/** Put load at 64 connections for `seconds`, sampling every node's RSS: memory must stay flat. */
async function soak(target: LoadTarget, pids: readonly number[], seconds: number): Promise<SoakResult> {
  const started = performance.now();
  const samples: number[][] = [];
  const sample = () => samples.push([Math.round((performance.now() - started) / 1000), ...pids.map(rssMb)]);
  sample();
  const timer = setInterval(sample, SOAK_SAMPLE_MS);
  try {
    const r = await runLoad(target, 64, seconds);
    sample();
    return { seconds, perSecond: r.perSecond, errors: r.errors, samples };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Each workload first runs untimed, on both systems alike: V8 compiles a Node process's hot paths
 * in its first seconds of load (a put at one connection took 1.7 ms at p50 in the first 3 s and
 * 1.0 ms after), and the benchmark compares servers in their steady state.
 */
const WARMUP_CONNECTIONS = 16;

const VALUE = 'v'.repeat(64);
const KEYS = 10_000;

/** Longest the subscriber process may take to open all its WebSockets. */
const SUBSCRIBERS_READY_MS = 60_000;

interface ClusterView { readonly leader: string | null; readonly commitIndex: number }

async function clusterView(url: string, ca: string | undefined): Promise<ClusterView> {
  const answer = await requestOnce(url, '/v1/cluster', null, ca);
  return (JSON.parse(answer.body.toString('utf8')) as { value: ClusterView }).value;
}

/** A 3-node Catga cluster the bench drives, plain or with TLS on both ports. */
interface BenchCatga {
  readonly cluster: LocalCluster;
  /** Client API URLs, https:// with TLS. */
  readonly urls: readonly string[];
  /** The CA the clients trust (TLS only). */
  readonly ca: string | undefined;
  readonly pki: LocalPki | null;
}

async function startCatga(dir: string, tls: boolean): Promise<BenchCatga> {
  const cluster = await LocalCluster.create({
    dir, members: 3, clusterId: 'bench', secret: 'bench-cluster-secret-000', adminToken: 'bench-admin-token',
    env: { CATGA_LOG_LEVEL: 'warn', CATGA_OPEN_ACCESS: 'true' },
  });
  const pki = tls ? new LocalPki() : null;
  cluster.startAll(pki);
  const urls = cluster.members.map((m) => (tls ? m.url.replace(/^http:/, 'https:') : m.url));
  return { cluster, urls, ca: pki?.ca, pki };
}

async function stopCatga(c: BenchCatga): Promise<void> {
  await c.cluster.stopAll('SIGTERM');
  c.pki?.remove();
}

/** The client URL of the current leader (the first node's when there is none). */
async function leaderUrl(c: BenchCatga): Promise<string> {
  const leader = (await clusterView(c.urls[0]!, c.ca)).leader;
  return c.urls[c.cluster.members.findIndex((m) => m.id === leader)] ?? c.urls[0]!;
}

/** Keep-alive connections the fan-out publisher sends its batches on. */
const PUBLISHER_CONNECTIONS = 8;

async function fanout(c: BenchCatga, subscribers: number, rate: number, seconds: number): Promise<FanoutRow> {
  const { urls, ca } = c;
  const leaderAt = await leaderUrl(c);
  // Subscribe after the current commit index: without ?from a subscription first replays every
  // retained event (the put and batch runs leave tens of thousands), which is not live fan-out.
  const from = (await clusterView(leaderAt, ca)).commitIndex;
  const script = fileURLToPath(new URL('./subscribers.js', import.meta.url));
  const child = spawn(process.execPath, [script, JSON.stringify({ urls, count: subscribers, from, ca })], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString('utf8'); });
  const deadline = Date.now() + SUBSCRIBERS_READY_MS;
  while (!out.includes('ready\n')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('subscribers did not connect');
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // Publish `rate` events/s as batches of 100 kv.put commands (one kv.changed event each).
  const perBatch = 100;
  const interval = (1000 * perBatch) / rate;
  const commands = Array.from({ length: perBatch }, (_, i) => ({ type: 'kv.put', payload: { key: `fan${i}`, value: VALUE } }));
  const body = JSON.stringify({ commands });
  const leader = new URL(leaderAt);
  const request = `POST /v1/commands HTTP/1.1\r\nHost: ${leader.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const connections = Array.from({ length: PUBLISHER_CONNECTIONS }, () => new Connection(leader, ca));
  // Each connection carries one request at a time: a batch waits behind the previous one on its connection.
  const chains: Promise<void>[] = connections.map(() => Promise.resolve());
  let published = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const inflight: Promise<void>[] = [];
  for (let next = started; performance.now() < end; next += interval) {
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const k = inflight.length % PUBLISHER_CONNECTIONS;
    const sent = chains[k]!.then(() => connections[k]!.request(request)).then((a) => { if (a.status === 200) published += perBatch; }, () => {});
    chains[k] = sent;
    inflight.push(sent);
    if (inflight.length > 64) await inflight.shift();
  }
  await Promise.all(inflight);
  for (const c of connections) c.close();
  const elapsed = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 500));
  const done = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await done;
  const res = JSON.parse(out.split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}') as { events: number; p50ms: number; p99ms: number; closedEarly: number; anomalies: number };
  if (res.anomalies !== 0) throw new Error(`subscribers got ${res.anomalies} frames that were not one event per text message`);
  return {
    tls: c.pki !== null, subscribers, targetEventsPerSecond: rate,
    publishedPerSecond: published / elapsed,
    deliveredPerSecond: res.events / elapsed,
    perSubscriberPerSecond: res.events / elapsed / subscribers,
    p50ms: res.p50ms, p99ms: res.p99ms, closedEarly: res.closedEarly,
  };
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** The run with the median throughput (the upper one of an even count), with its latencies and CPU. */
export function medianRun<T extends { readonly result: { readonly perSecond: number } }>(runs: readonly T[]): T {
  if (runs.length === 0) throw new Error('medianRun: no runs');
  return [...runs].sort((a, b) => a.result.perSecond - b.result.perSecond)[Math.floor(runs.length / 2)]!;
}

function cpuCell(us: number | null): string {
  return us === null ? '?' : fmt(us);
}

/** The cost of TLS: each put and fan-out row beside its TLS twin, measured right after it. */
function tlsCostLines(rows: readonly Row[], fanouts: readonly FanoutRow[]): string[] {
  const pairs: string[] = [];
  for (const r of rows) {
    if (r.catgaTls === null) continue;
    pairs.push(`| ${r.workload} c=${r.connections} (ops/s) | ${fmt(r.catga.perSecond)} | ${fmt(r.catgaTls.perSecond)} | ${fmt(r.catgaTls.perSecond / r.catga.perSecond, 2)} | ${fmt(r.catga.p99ms, 2)} | ${fmt(r.catgaTls.p99ms, 2)} |`);
  }
  for (const t of fanouts.filter((f) => f.tls)) {
    const p = fanouts.find((f) => !f.tls && f.subscribers === t.subscribers);
    if (p === undefined) continue;
    pairs.push(`| fan-out to ${t.subscribers} (deliveries/s) | ${fmt(p.deliveredPerSecond)} | ${fmt(t.deliveredPerSecond)} | ${fmt(t.deliveredPerSecond / p.deliveredPerSecond, 2)} | ${fmt(p.p99ms, 1)} | ${fmt(t.p99ms, 1)} |`);
  }
  if (pairs.length === 0) return [];
  return ['| with TLS | plain | TLS | TLS/plain | p99 ms plain | p99 ms TLS |', '|---|---|---|---|---|---|', ...pairs];
}

export async function runBenchCli(argv: string[]): Promise<number> {
  const o = parseOrExplain('bench', `usage: ${USAGE}`, argv, parseBenchArgs);
  if (o === null) return 2;
  const dir = mkdtempSync(join(tmpdir(), 'catga-bench-'));
  const log = (s: string) => { if (!o.json) process.stderr.write(s + '\n'); };
  const catga = await startCatga(join(dir, 'catga'), false);
  const etcd = await startEtcd(join(dir, 'etcd'));
  let tls: BenchCatga | null = null;
  const rows: Row[] = [];
  const fanouts: FanoutRow[] = [];
  let idleRss: number[] = [];
  let soaked: SoakResult | null = null;
  let state: StateBenchResult | null = null;
  const peakRss = { catga: 0, etcd: 0 };
  const sampleRss = () => {
    for (const m of catga.cluster.members) peakRss.catga = Math.max(peakRss.catga, rssMb(m.proc!.pid!));
    for (const pid of etcd.pids) peakRss.etcd = Math.max(peakRss.etcd, rssMb(pid));
  };
  try {
    // Inside the try: a failure to start it (no openssl) still stops the others.
    if (o.only.has('tls')) tls = await startCatga(join(dir, 'catga-tls'), true);
    log(`catga bench: 3 Catga nodes${tls ? ', 3 more with TLS for the put and fan-out rows,' : ''} and 3 etcd ${etcd.version} members (plain) on loopback, ${o.seconds}s per run`);
    for (const c of tls ? [catga, tls] : [catga]) await Promise.all(c.urls.map((u) => waitFor(u, '/v1/commands/kv.put', '{"key":"warm","value":"up"}', 30_000, c.ca)));
    await Promise.all(etcd.urls.map((u) => waitFor(u, '/v3/kv/put', etcdBodies.put('warm', 'up'), 30_000)));
    idleRss = catga.cluster.members.map((m) => rssMb(m.proc!.pid!));
    const catgaPids = catga.cluster.members.map((m) => m.proc!.pid!);

    const key = (n: number) => `key${n % KEYS}`;
    const put = (c: BenchCatga): LoadTarget => ({ urls: c.urls, ca: c.ca, path: '/v1/commands/kv.put', body: (n) => `{"key":"${key(n)}","value":"${VALUE}"}` });
    const workloads: Array<{ section: Section; name: string; catga: LoadTarget; etcd: LoadTarget | null; tls: LoadTarget | null }> = [
      { section: 'put', name: 'put', catga: put(catga), tls: tls && put(tls),
        etcd: { urls: etcd.urls, path: '/v3/kv/put', body: (n) => etcdBodies.put(key(n), VALUE) } },
      { section: 'local', name: 'get local/serializable', catga: { urls: catga.urls, path: '/v1/queries/kv.get?consistency=local', body: (n) => `{"key":"${key(n)}"}` }, tls: null,
        etcd: { urls: etcd.urls, path: '/v3/kv/range', body: (n) => etcdBodies.range(key(n), true) } },
      { section: 'linearizable', name: 'get linearizable', catga: { urls: catga.urls, path: '/v1/queries/kv.get?consistency=linearizable', body: (n) => `{"key":"${key(n)}"}` }, tls: null,
        etcd: { urls: etcd.urls, path: '/v3/kv/range', body: (n) => etcdBodies.range(key(n), false) } },
    ];
    for (const w of workloads.filter((x) => o.only.has(x.section))) {
      for (const t of [w.catga, w.etcd, w.tls]) if (t) await runLoad(t, WARMUP_CONNECTIONS, o.warmupSeconds);
      for (const c of o.connections) {
        const catgaRuns: CpuMeasured<LoadResult>[] = [];
        const etcdRuns: CpuMeasured<LoadResult>[] = [];
        const etcdTarget = w.etcd;
        for (let round = 1; round <= o.rounds; round++) {
          catgaRuns.push(await cpuPerOperation(catgaPids, () => runLoad(w.catga, c, o.seconds)));
          sampleRss();
          if (etcdTarget !== null) etcdRuns.push(await cpuPerOperation(etcd.pids, () => runLoad(etcdTarget, c, o.seconds)));
          sampleRss();
          if (o.rounds > 1) log(`    ${w.name} c=${c} round ${round}: catga ${fmt(catgaRuns[round - 1]!.result.perSecond)}/s${etcdTarget !== null ? `, etcd ${fmt(etcdRuns[round - 1]!.result.perSecond)}/s` : ''}`);
        }
        const cm = medianRun(catgaRuns);
        const em = etcdRuns.length > 0 ? medianRun(etcdRuns) : null;
        const [cr, er] = [cm.result, em?.result ?? null];
        const tr = w.tls ? await runLoad(w.tls, c, o.seconds) : null;
        rows.push({ workload: w.name, connections: c, catga: cr, etcd: er, catgaTls: tr, cpuUsPerOp: { catga: cm.cpuUsPerOp, etcd: em?.cpuUsPerOp ?? null } });
        log(`  ${w.name} c=${c}${o.rounds > 1 ? ' (medians)' : ''}: catga ${fmt(cr.perSecond)}/s${er ? `, etcd ${fmt(er.perSecond)}/s, ratio ${fmt(cr.perSecond / er.perSecond, 2)}` : ''}${tr ? `, catga TLS ${fmt(tr.perSecond)}/s` : ''}`);
      }
    }
    const batchCommands = JSON.stringify({ commands: Array.from({ length: 100 }, (_, i) => ({ type: 'kv.put', payload: { key: key(i), value: VALUE } })) });
    const batchTarget: LoadTarget = { urls: catga.urls, path: '/v1/commands', body: () => batchCommands };
    if (o.only.has('batch')) await runLoad(batchTarget, WARMUP_CONNECTIONS, o.warmupSeconds);
    for (const c of !o.only.has('batch') ? [] : o.quick ? [16] : [16, 64]) {
      const { result: r, cpuUsPerOp } = await cpuPerOperation(catgaPids, () => runLoad(batchTarget, c, o.seconds));
      sampleRss();
      rows.push({ workload: 'batch x100 (commands/s = 100 x req/s)', connections: c, catga: r, etcd: null, catgaTls: null, cpuUsPerOp: { catga: cpuUsPerOp, etcd: null } });
      log(`  batch c=${c}: ${fmt(r.perSecond * 100)} commands/s`);
    }

    for (const s of o.only.has('fanout') ? o.subscribers : []) {
      for (const c of tls ? [catga, tls] : [catga]) {
        const f = await fanout(c, s, o.eventsPerSecond, o.seconds * 2);
        if (!f.tls) sampleRss();
        fanouts.push(f);
        log(`  fan-out ${s} subscribers${f.tls ? ' (TLS)' : ''}: ${fmt(f.deliveredPerSecond)} deliveries/s, p99 ${fmt(f.p99ms, 1)} ms`);
      }
    }
    if (o.soakSeconds > 0) {
      log(`  soak: put at 64 connections for ${o.soakSeconds}s, RSS sampled every ${SOAK_SAMPLE_MS / 1000}s`);
      soaked = await soak(workloads[0]!.catga, catga.cluster.members.map((m) => m.proc!.pid!), o.soakSeconds);
    }
  } finally {
    await stopCatga(catga);
    if (tls) await stopCatga(tls);
    await etcd.stop();
  }
  try {
    if (o.only.has('state')) {
      log(`  large state: ${o.stateMb} MB of kv values on a fresh 3-node cluster, then a 4th member joins`);
      state = await stateBench(dir, o.stateMb, log);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const result = { machine: { cores: (await import('node:os')).availableParallelism(), node: process.version, etcd: etcd.version }, quick: o.quick, rounds: o.rounds, rows, fanouts, rssMb: { catgaIdle: idleRss, catgaPeak: peakRss.catga, etcdPeak: peakRss.etcd }, soak: soaked, state };
  if (o.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    const lines: string[] = [];
    if (rows.length > 0) {
      lines.push(
        '| workload | conns | catga ops/s | p50 ms | p99 ms | CPU µs/op | etcd ops/s | p50 ms | p99 ms | CPU µs/op | catga/etcd |',
        '|---|---|---|---|---|---|---|---|---|---|---|',
        ...rows.map((r) => `| ${r.workload} | ${r.connections} | ${fmt(r.catga.perSecond)} | ${fmt(r.catga.p50ms, 2)} | ${fmt(r.catga.p99ms, 2)} | ${cpuCell(r.cpuUsPerOp.catga)} | ${r.etcd ? fmt(r.etcd.perSecond) : '-'} | ${r.etcd ? fmt(r.etcd.p50ms, 2) : '-'} | ${r.etcd ? fmt(r.etcd.p99ms, 2) : '-'} | ${r.etcd ? cpuCell(r.cpuUsPerOp.etcd) : '-'} | ${r.etcd ? fmt(r.catga.perSecond / r.etcd.perSecond, 2) + 'x' : '-'} |`),
        `${o.rounds > 1 ? `Each system's figures are its median of ${o.rounds} runs of ${o.seconds} s, the two systems alternated. ` : ''}CPU µs/op: user and system time of the servers (all three nodes) per operation, from /proc; the load generator's own is left out.`,
        '');
    }
    if (fanouts.length > 0) {
      lines.push(
        '| subscribers | events/s published | deliveries/s | per subscriber/s | delay p50 ms | delay p99 ms | closed early |',
        '|---|---|---|---|---|---|---|',
        ...fanouts.filter((f) => !f.tls).map((f) => `| ${f.subscribers} | ${fmt(f.publishedPerSecond)} | ${fmt(f.deliveredPerSecond)} | ${fmt(f.perSubscriberPerSecond)} | ${fmt(f.p50ms, 1)} | ${fmt(f.p99ms, 1)} | ${f.closedEarly} |`),
        '');
    }
    const tlsLines = tlsCostLines(rows, fanouts);
    if (tlsLines.length > 0) lines.push(...tlsLines, '');
    lines.push(`RSS MB: catga idle ${idleRss.map((x) => fmt(x)).join('/')}` +
      (rows.length + fanouts.length > 0 ? `, catga peak ${fmt(peakRss.catga)}, etcd peak ${fmt(peakRss.etcd)}` : ''));
    if (soaked !== null) {
      lines.push('', `soak: ${fmt(soaked.perSecond)} puts/s for ${soaked.seconds}s, ${soaked.errors} errors; RSS MB per node:`, '',
        `| s | ${catga.cluster.members.map((m) => m.id).join(' | ')} |`, `|---|${catga.cluster.members.map(() => '---|').join('')}`,
        ...soaked.samples.map(([t, ...mb]) => `| ${t} | ${mb.map((x) => fmt(x)).join(' | ')} |`));
    }
    if (state !== null) {
      const mem = (m: NodeMemory) => `${m.id} ${fmt(m.rssMb)} (anon ${fmt(m.anonMb)}: heap ${fmt(m.heapMb)}, buffers ${fmt(m.externalMb)}; file ${fmt(m.fileMb)}: engine map ${fmt(m.engineMapMb)})`;
      lines.push('', '| large state | figure |', '|---|---|',
        `| state loaded | ${state.stateMb} MB in ${fmt(state.loadSeconds, 1)} s, ${state.loadErrors} errors |`,
        `| leader changes during the load | ${state.leaderChanges} |`,
        `| RSS MB after the load | ${state.afterLoad.map(mem).join('; ')} |`,
        `| new member catch-up (join, streamed snapshot, linearizable read of the last key) | ${fmt(state.catchUpSeconds, 1)} s, ${fmt(state.snapshotBytesReceived / 2 ** 20)} MB of snapshot, RSS ${mem(state.newMember)} |`,
        `| follower restart to ready | ${fmt(state.restartSeconds, 2)} s, RSS ${mem(state.restarted)} |`);
    }
    const errors = rows.filter((r) => r.catga.errors > 0 || (r.etcd?.errors ?? 0) > 0);
    for (const r of errors) lines.push(`errors in ${r.workload} c=${r.connections}: catga ${r.catga.errors} (${r.catga.firstError ?? ''}), etcd ${r.etcd?.errors ?? 0} (${r.etcd?.firstError ?? ''})`);
    process.stdout.write(lines.join('\n') + '\n');
  }
  return 0;
}
