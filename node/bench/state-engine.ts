// Micro-benchmark (not a test): the apply hot path over the LMDB state engine (the in-memory one
// is a test double: its range reads sort every key). Entries of kv.put
// commands (64-byte values, keys spread over 200,000) are applied the way the driver does, one
// batch per Ready, and timed per command; then local kv.get queries, and a pinned view's chunk
// read. Run: node node/dist/bench/state-engine.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinModules, Mediator, silentLogger } from '../src/catga/index.js';
import type { Entry } from '../src/raft/types.js';
import type { StateEngine } from '../src/state/engine.js';
import { LmdbStateEngine } from '../src/state/lmdb-engine.js';
import { DEFAULT_CHUNK_BYTES, readChunk, type Cursor } from '../src/state/snapshot-stream.js';

const KEYS = 200_000;
const COMMANDS = 400_000;
const PER_ENTRY = 1;
const ENTRIES_PER_BATCH = 16;
const VALUE = 'v'.repeat(64);

async function run(name: string, engine: StateEngine): Promise<void> {
  const m = new Mediator({ modules: builtinModules, logger: silentLogger, engine });
  const entries: Entry[] = [];
  for (let i = 0; i < COMMANDS / PER_ENTRY; i++) {
    const commands = Array.from({ length: PER_ENTRY }, (_, j) => ({ type: 'kv.put', payload: { key: `key${((i * PER_ENTRY + j) * 7919) % KEYS}`, value: VALUE } }));
    const data = m.prepareCommands(commands, 1_700_000_000_000 + i);
    if (!data.ok) throw new Error(data.message);
    entries.push({ index: i + 1, term: 1, type: 'normal', data: data.value });
  }
  let t = performance.now();
  const cpu = process.cpuUsage();
  for (let i = 0; i < entries.length; i += ENTRIES_PER_BATCH) m.applyBatch(entries.slice(i, i + ENTRIES_PER_BATCH));
  const applyUs = ((performance.now() - t) * 1000) / COMMANDS;
  const used = process.cpuUsage(cpu);
  const applyCpuUs = (used.user + used.system) / COMMANDS;
  t = performance.now();
  for (let i = 0; i < KEYS; i++) await m.query('kv.get', { key: `key${(i * 31) % KEYS}` });
  const getUs = ((performance.now() - t) * 1000) / KEYS;
  t = performance.now();
  await engine.sync();
  const syncMs = performance.now() - t;
  const view = engine.pin();
  t = performance.now();
  let cursor: Cursor | null = null;
  let bytes = 0;
  let worstChunkMs = 0;
  do {
    const c0 = performance.now();
    const r = readChunk(view, cursor, DEFAULT_CHUNK_BYTES);
    worstChunkMs = Math.max(worstChunkMs, performance.now() - c0);
    bytes += r.chunk.byteLength;
    cursor = r.next;
  } while (cursor !== null);
  const streamMs = performance.now() - t;
  view.close();
  console.log(`${name.padEnd(7)} apply ${applyUs.toFixed(2)} µs/put (CPU ${applyCpuUs.toFixed(2)} µs; batches of ${ENTRIES_PER_BATCH} entries), query kv.get ${getUs.toFixed(2)} µs, sync ${syncMs.toFixed(1)} ms, ` +
    `snapshot read ${(bytes / 2 ** 20).toFixed(1)} MB in ${streamMs.toFixed(0)} ms (${((bytes / 2 ** 20) / (streamMs / 1000)).toFixed(0)} MB/s, worst chunk ${worstChunkMs.toFixed(1)} ms)`);
  await engine.close();
}

const dir = mkdtempSync(join(tmpdir(), 'catga-engine-bench-'));
try {
  await run('lmdb', new LmdbStateEngine(dir));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
