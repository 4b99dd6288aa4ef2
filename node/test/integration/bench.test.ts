// The CI smoke run of the benchmark: `catga bench --quick --json` as a child process, checking that
// the harness works end to end (every workload answered without errors on Catga and etcd, events
// reached the subscribers, the put and fan-out rows have their TLS twins, nothing left behind).
// Never a speed threshold: speeds vary by machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdBinary } from '../../src/bench/etcd.js';

const CATGA_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** The quick run takes about two minutes (the large-state row with 64 MB included); beyond this the run is stuck. */
const BENCH_TIMEOUT_MS = 240_000;

interface LoadResult { requests: number; errors: number; perSecond: number; p50ms: number; p99ms: number; firstError: string | null }
interface BenchJson {
  quick: boolean;
  rows: Array<{ workload: string; connections: number; catga: LoadResult; etcd: LoadResult | null; catgaTls: LoadResult | null }>;
  fanouts: Array<{ tls: boolean; subscribers: number; deliveredPerSecond: number; perSubscriberPerSecond: number; closedEarly: number }>;
  rssMb: { catgaIdle: number[]; catgaPeak: number; etcdPeak: number };
  state: { stateMb: number; loadErrors: number; catchUpSeconds: number; restartSeconds: number; afterLoad: Array<{ rssMb: number }> } | null;
}

function etcdMissing(): string | false {
  try {
    etcdBinary();
    return false;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Runs the bench in its own process group (so a stuck run is killed with all its servers). */
function runBench(tmp: string, args: readonly string[] = ['--quick', '--json']): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CATGA_MAIN, 'bench', ...args], {
      env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString('utf8'); });
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString('utf8'); });
    const timer = setTimeout(() => {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
      reject(new Error(`catga bench ${args.join(' ')} did not finish within ${BENCH_TIMEOUT_MS} ms; stderr: ${stderr.slice(-2000)}`));
    }, BENCH_TIMEOUT_MS);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test('catga bench --quick --json runs Catga and etcd end to end', { skip: etcdMissing(), timeout: BENCH_TIMEOUT_MS + 10_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'catga-bench-test-'));
  try {
    const { code, stdout, stderr } = await runBench(tmp);
    assert.equal(code, 0, `bench exited with ${code}; stderr: ${stderr.slice(-2000)}`);
    const result = JSON.parse(stdout) as BenchJson;
    assert.equal(result.quick, true);

    const workloads = new Set(result.rows.map((r) => r.workload.split(' ')[0]));
    assert.deepEqual([...workloads].sort(), ['batch', 'get', 'put']);
    for (const r of result.rows) {
      const what = `${r.workload} c=${r.connections}`;
      assert.ok(r.catga.requests > 0, `${what}: Catga answered no request`);
      assert.equal(r.catga.errors, 0, `${what}: Catga errors, first: ${r.catga.firstError}`);
      if (r.workload === 'put') {
        assert.ok(r.catgaTls !== null && r.catgaTls.requests > 0, `${what}: no put on the TLS cluster`);
        assert.equal(r.catgaTls.errors, 0, `${what}: Catga TLS errors, first: ${r.catgaTls.firstError}`);
      } else {
        assert.equal(r.catgaTls, null, `${what}: only put rows run on TLS`);
      }
      if (r.workload.startsWith('batch')) {
        assert.equal(r.etcd, null, `${what}: batches have no etcd counterpart`);
        continue;
      }
      assert.ok(r.etcd !== null, `${what}: no etcd figure`);
      assert.ok(r.etcd.requests > 0, `${what}: etcd answered no request`);
      assert.equal(r.etcd.errors, 0, `${what}: etcd errors, first: ${r.etcd.firstError}`);
    }

    assert.ok(result.fanouts.length > 0, 'no fan-out run');
    for (const f of result.fanouts) assert.ok(f.deliveredPerSecond > 0, `fan-out to ${f.subscribers}${f.tls ? ' over wss' : ''}: nothing delivered`);
    const counts = (tls: boolean) => result.fanouts.filter((f) => f.tls === tls).map((f) => f.subscribers);
    assert.deepEqual(counts(true), counts(false), 'every fan-out row has its TLS twin');

    assert.ok(result.state !== null, 'no large-state run');
    assert.equal(result.state.stateMb, 64);
    assert.equal(result.state.loadErrors, 0);
    assert.ok(result.state.catchUpSeconds > 0 && result.state.restartSeconds > 0);
    assert.equal(result.state.afterLoad.length, 3);

    assert.equal(result.rssMb.catgaIdle.length, 3);
    for (const mb of result.rssMb.catgaIdle) assert.ok(mb > 0, `idle RSS not measured: ${mb}`);
    assert.deepEqual(readdirSync(tmp), [], 'the bench left files behind');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('catga bench --only=tls alone is refused: TLS repeats the put and fan-out rows', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'catga-bench-test-'));
  try {
    const { code, stderr } = await runBench(tmp, ['--only=tls']);
    assert.equal(code, 2, 'a usage error exits 2, as every catga verb does');
    assert.match(stderr, /--only=tls repeats the put and fan-out rows on TLS: add put or fanout/);
    assert.deepEqual(readdirSync(tmp), [], 'a refused run started something');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
