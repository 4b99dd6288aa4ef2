import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdempotencyTable, ok } from '../../../src/catga/index.js';

test('eviction and expiry keep the oldest-first order across queue compactions', () => {
  const table = new IdempotencyTable({ windowMs: 10_000, maxKeys: 500 });
  for (let i = 0; i < 3_000; i++) {
    table.advance(i);
    table.record(`k${i}`, i + 1, ok(i), `fp${i}`);
  }
  assert.equal(table.size, 500);
  assert.equal(table.evictedEarly, 2_500);
  assert.equal(table.lookup('k2499'), undefined);
  assert.deepEqual(table.lookup('k2500'), { at: 2_500, index: 2_501, result: ok(2_500), fingerprint: 'fp2500' });
  // Expiry by the replicated clock: keys recorded at or before clock - window go.
  table.advance(12_750);
  assert.equal(table.size, 249);
  assert.equal(table.lookup('k2750'), undefined);
  assert.ok(table.lookup('k2751') !== undefined);
  const copy = new IdempotencyTable({ windowMs: 10_000, maxKeys: 500 });
  copy.restore(JSON.parse(JSON.stringify(table.snapshot())));
  assert.deepEqual(copy.snapshot(), table.snapshot());
  assert.equal(copy.clock, 12_750);
  copy.advance(12_800);
  assert.equal(copy.size, 199);
  assert.equal(copy.snapshot().keys[0]?.[0], 'k2801');
});
