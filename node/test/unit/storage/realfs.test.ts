// The storage on the real file system: a child process appending under load is killed with SIGKILL
// and every entry it reported as acknowledged must be there after reopening; a data directory held
// by a live process is refused, and taken over once that process is dead.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openFileStorage, type StorageError } from '../../../src/storage/index.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/appender.js', import.meta.url));
const LOAD_MS = 1500;

/** Spawns the fixture; calls `onLine` per stdout line; resolves when the child exits. */
function child(mode: 'append' | 'hold', dir: string, onLine: (line: string) => void): { proc: ChildProcess; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, [FIXTURE, mode, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  createInterface({ input: proc.stdout! }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  return { proc, exited };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'catga-storage-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('SIGKILL under load loses no acknowledged entry (real file system)', async () => {
  await withTempDir(async (dir) => {
    for (let round = 0; round < 2; round++) {
      let maxAcked = 0;
      const acked: number[] = [];
      const { proc, exited } = child('append', dir, (line) => {
        const i = Number(line.slice(4));
        acked.push(i);
        maxAcked = Math.max(maxAcked, i);
      });
      try {
        await new Promise((r) => setTimeout(r, LOAD_MS));
        assert.ok(acked.length > 50, `the child acknowledged only ${acked.length} entries`);
      } finally {
        proc.kill('SIGKILL');
        await exited;
      }
      const s = openFileStorage(dir, { maxSegmentBytes: 64 * 1024 });
      const r = await s.open();
      await s.close();
      const snapIndex = r.snapshot?.meta.index ?? 0;
      if (r.snapshot !== null) assert.equal(Buffer.from(r.snapshot.data).toString(), `snap-${snapIndex}`);
      r.entries.forEach((e, k) => {
        assert.equal(e.index, snapIndex + 1 + k, 'contiguous after the snapshot');
        assert.equal(Buffer.from(e.data).toString(), `entry-${e.index}`);
      });
      const last = r.entries.length > 0 ? r.entries[r.entries.length - 1]!.index : snapIndex;
      // Saves resolve in call order, so every index up to the highest acknowledged one is durable.
      assert.ok(last >= maxAcked, `round ${round}: acknowledged ${maxAcked}, recovered only up to ${last}`);
      assert.ok(r.hardState.commit >= maxAcked, `hard state commit ${r.hardState.commit} < acknowledged ${maxAcked}`);
    }
  });
});

test('a directory held by a live process is refused, and taken over after SIGKILL', async () => {
  await withTempDir(async (dir) => {
    let ready!: () => void;
    const isReady = new Promise<void>((r) => (ready = r));
    const { proc, exited } = child('hold', dir, (line) => line === 'ready' && ready());
    try {
      await isReady;
      await assert.rejects(openFileStorage(dir).open(), (e: StorageError) => {
        return e.code === 'STORAGE_LOCKED' && e.message.includes(`${proc.pid}-`);
      });
    } finally {
      proc.kill('SIGKILL');
      await exited;
    }
    const s = openFileStorage(dir);
    await s.open();
    await s.close();
  });
});
