// WAL benchmark (not a test): appends/s and fsyncs/s for 1, 16 and 256 concurrent appenders, beside
// a raw write + fdatasync loop on the same disk. Each append is one save() of one 100-byte entry
// plus a hard state, as a Ready would carry. Run: node node/dist/bench/wal.js
// Knobs: CATGA_BENCH_DIR (default: the OS temp dir), CATGA_BENCH_SECONDS per row (default 3).
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileStorage } from '../src/storage/index.js';

const SECONDS = Number(process.env.CATGA_BENCH_SECONDS ?? 3);
const BASE = process.env.CATGA_BENCH_DIR ?? tmpdir();
const PAYLOAD = Buffer.alloc(100, 0x61);
const CONCURRENCY = [1, 16, 256] as const;

interface Row {
  readonly mode: string;
  readonly appenders: number;
  readonly appends: number;
  readonly fsyncs: number;
  readonly fsyncSeconds: number;
  readonly elapsed: number;
}

async function rawFdatasync(dir: string, when: string): Promise<Row> {
  const fh = await open(join(dir, `raw-${when}`), 'w');
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  let n = 0;
  let syncSeconds = 0;
  while (performance.now() < deadline) {
    await fh.write(PAYLOAD, 0, PAYLOAD.length, n * PAYLOAD.length);
    const s = performance.now();
    await fh.datasync();
    syncSeconds += (performance.now() - s) / 1000;
    n++;
  }
  const elapsed = (performance.now() - t0) / 1000;
  await fh.close();
  return { mode: `raw write+fdatasync (${when})`, appenders: 1, appends: n, fsyncs: n, fsyncSeconds: syncSeconds, elapsed };
}

async function walRow(dir: string, appenders: number): Promise<Row> {
  let fsyncSeconds = 0;
  const storage = openFileStorage(join(dir, `wal-${appenders}`), { onFsync: (s) => (fsyncSeconds += s) });
  await storage.open();
  const fsyncsBefore = storage.stats().fsyncs;
  fsyncSeconds = 0;
  let next = 1;
  let appends = 0;
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  const appender = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const i = next++;
      await storage.save(null, [{ index: i, term: 1, type: 'normal', data: PAYLOAD }], { term: 1, vote: 'n1', commit: i - 1 });
      appends++;
    }
  };
  await Promise.all(Array.from({ length: appenders }, appender));
  const elapsed = (performance.now() - t0) / 1000;
  const fsyncs = storage.stats().fsyncs - fsyncsBefore;
  await storage.close();
  return { mode: 'WAL save()', appenders, appends, fsyncs, fsyncSeconds, elapsed };
}

function table(rows: readonly Row[]): string {
  const head = ['mode', 'appenders', 'appends/s', 'fsyncs/s', 'appends per fsync', 'mean fsync ms'];
  const body = rows.map((r) => [
    r.mode,
    String(r.appenders),
    (r.appends / r.elapsed).toFixed(0),
    (r.fsyncs / r.elapsed).toFixed(0),
    (r.appends / Math.max(1, r.fsyncs)).toFixed(1),
    ((r.fsyncSeconds / Math.max(1, r.fsyncs)) * 1000).toFixed(3),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(BASE, 'catga-walbench-'));
  try {
    // The raw loop runs before and after the WAL rows: the spread between the two shows the disk's own noise.
    const rows: Row[] = [await rawFdatasync(dir, 'before')];
    for (const c of CONCURRENCY) rows.push(await walRow(dir, c));
    rows.push(await rawFdatasync(dir, 'after'));
    process.stdout.write(`WAL benchmark in ${dir}, ${SECONDS}s per row, 100-byte entries + hard state per save\n${table(rows)}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
