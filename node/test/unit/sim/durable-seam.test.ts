// The DurableStore seam: a store whose saves complete asynchronously (as the real storage's do)
// runs under the production driver without a violation, persists every node through it, and
// replays the same run twice. (Its runs differ from the synchronous store's: the driver's
// continuations interleave with the writes' own, as they do on a real disk.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry, HardState, Index, Snapshot } from '../../../src/raft/types.js';
import type { Recovered } from '../../../src/storage/types.js';
import { MemoryDurableStore, type DurableStore } from '../../../src/sim/durable.js';
import { runSeed, type SimOptions } from '../../../src/sim/simulator.js';

/** Delegates to the in-memory store, but answers every call with a promise. */
class AsyncStore implements DurableStore {
  private readonly inner = new MemoryDurableStore();
  calls = 0;

  async save(snapshot: Snapshot | null, entries: readonly Entry[], hardState: HardState | null): Promise<void> {
    this.calls++;
    await Promise.resolve();
    this.inner.save(snapshot, entries, hardState);
  }

  async saveSnapshot(snapshot: Snapshot, compactTo: Index): Promise<void> {
    await Promise.resolve();
    this.inner.saveSnapshot(snapshot, compactTo);
  }

  crash(): void {
    this.inner.crash();
  }

  async recover(): Promise<Recovered> {
    await Promise.resolve();
    return this.inner.recover();
  }
}

test('an asynchronous store runs safely and deterministically under the driver', async () => {
  const base: SimOptions = { seed: 21, nodes: 3, steps: 1200, traceCapacity: 20, traceSink: null, faults: null };
  const stores: AsyncStore[] = [];
  const first = await runSeed({ ...base, store: () => { const s = new AsyncStore(); stores.push(s); return s; } });
  const again = await runSeed({ ...base, store: () => new AsyncStore() });
  assert.equal(first.violation, null);
  assert.equal(again.fingerprint, first.fingerprint);
  assert.ok(first.stats.maxCommit > 50, `only ${first.stats.maxCommit} entries committed`);
  assert.ok(stores.length >= 3 && stores.every((s) => s.calls > 0), 'every node persisted through the async store');
});
