// Determinism: the same seed and the same calls give the same Ready batches, byte for byte.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytes, Cluster, seeded } from './network.js';

/** A scripted run with seeded choices of ticks, proposals, partitions and drops; returns every Ready. */
function run(seed: number): string {
  const c = new Cluster(['a', 'b', 'c', 'd', 'e'], { seed, keepReadies: true });
  const choose = seeded(seed * 7919);
  const ids = ['a', 'b', 'c', 'd', 'e'];
  for (let step = 0; step < 300; step++) {
    const r = choose();
    if (r < 0.05) c.isolate(ids[Math.floor(choose() * ids.length)]!);
    else if (r < 0.1) c.heal();
    else if (r < 0.4) {
      for (const id of c.leaders()) c.core(id).propose(bytes(`s${step}`));
    } else if (r < 0.45) {
      for (const id of c.leaders()) c.core(id).readIndex(`r${step}`);
    }
    c.tickAll(1);
  }
  c.checkSafety();
  const readies = [...c.nodes].map(([id, n]) => [id, n.readies]);
  return JSON.stringify(readies, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}

test('same seed, same Ready sequence; another seed, another one', () => {
  const first = run(42);
  assert.equal(run(42), first);
  assert.notEqual(run(43), first);
  assert.ok(first.length > 10_000, 'the run did real work');
});
