// The simulator's disk store: recover, save, crash with saves in flight, recover again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SimulatedDiskStore } from '../../../src/storage/index.js';
import { entries, prng, snapshot } from './helpers.js';

test('the simulated disk keeps acknowledged saves across crashes; cut-off saves never settle', async () => {
  for (let seed = 1; seed <= 50; seed++) {
    const store = new SimulatedDiskStore(prng(seed));
    assert.equal((await store.recover()).entries.length, 0);
    await store.save(null, entries(1, 5, 1), { term: 1, vote: 'n1', commit: 3 });
    await store.saveSnapshot(snapshot(3, 1), 2);
    let settled = false;
    const inFlight = store.save(null, entries(6, 8, 1), null).then(
      () => (settled = true),
      () => (settled = true),
    );
    store.crash();
    const r = await store.recover();
    await Promise.race([inFlight, new Promise((resolve) => setImmediate(resolve))]);
    assert.equal(settled, false, `seed ${seed}: a save cut off by the crash settled`);
    assert.equal(r.snapshot?.meta.index, 3);
    assert.deepEqual(r.hardState, { term: 1, vote: 'n1', commit: 3 });
    const last = r.entries[r.entries.length - 1]!.index;
    assert.ok(last >= 5 && last <= 8, `seed ${seed}: last ${last}`);
    await store.save(null, entries(last + 1, last + 1, 2), null); // the new process goes on
  }
});
