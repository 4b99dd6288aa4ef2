// Micro-benchmark (not a test): how much of the LMDB state engine's memory map becomes resident
// in the process when rows of 60 KB (event rows, as `kv.changed` carries a value) are written
// and those older than a window deleted, alone or interleaved with puts of new state. LMDB reads
// a row's pages as it frees them, so the map, not only the file, holds what was deleted.
// Run: node node/dist/bench/engine-map.js [rows] [window rows]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { residentOfMappings } from '../src/bench/state-bench.js';
import { LmdbStateEngine } from '../src/state/lmdb-engine.js';

const ROWS = Number(process.argv[2] ?? 17_000);
const WINDOW = Number(process.argv[3] ?? 546); // 32 MiB of 60 KB rows
const PER_TX = 15;
const VALUE = Buffer.alloc(60 * 1024, 7);

const key = (prefix: string, i: number): Buffer => Buffer.from(`${prefix}${String(i).padStart(8, '0')}`);

async function run(mode: 'state puts only' | 'event rows only' | 'both'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'catga-engine-map-'));
  const engine = new LmdbStateEngine(dir);
  try {
    for (let first = 0; first < ROWS; first += PER_TX) {
      engine.write((tx) => {
        for (let i = first; i < Math.min(first + PER_TX, ROWS); i++) {
          if (mode !== 'event rows only') tx.put('state', key('k', i), VALUE);
          if (mode === 'state puts only') continue;
          tx.put('meta', key('e', i), VALUE);
          if (i >= WINDOW) tx.delete('meta', key('e', i - WINDOW));
        }
      });
    }
    const windowMb = (WINDOW * VALUE.length) / 2 ** 20;
    console.log(`${mode}: ${ROWS} rows of 60 KB, window ${windowMb.toFixed(0)} MiB -> map resident ${(residentOfMappings(process.pid, '.mdb') / 1024).toFixed(0)} MiB`);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const mode of ['state puts only', 'event rows only', 'both'] as const) await run(mode);
