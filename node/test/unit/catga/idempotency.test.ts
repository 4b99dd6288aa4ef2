import assert from 'node:assert/strict';
import { test } from 'node:test';
import { IdempotencyTable, ok } from '../../../src/catga/index.js';
import type { IdempotencyRecord } from '../../../src/catga/idempotency.js';

test('eviction and expiry keep the oldest-first order across queue compactions', () => {
  const table = new IdempotencyTable({ windowMs: 10_000, maxKeys: 500 });
  // What the journal holds is what a reload sees: the rows left, in recording order.
  const journal = new Map<string, { seq: Uint8Array; key: string; record: IdempotencyRecord }>();
  table.journal = {
    recorded: (seq, key, record) => journal.set(Buffer.from(seq).toString('hex'), { seq, key, record }),
    forgotten: (seq) => journal.delete(Buffer.from(seq).toString('hex')),
  };
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
  assert.equal(journal.size, 249);
  const copy = new IdempotencyTable({ windowMs: 10_000, maxKeys: 500 });
  copy.load(table.clock, [...journal.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row));
  assert.equal(copy.clock, 12_750);
  assert.equal(copy.size, 249);
  copy.advance(12_800);
  assert.equal(copy.size, 199);
  assert.equal(copy.lookup('k2800'), undefined);
  assert.deepEqual(copy.lookup('k2801'), { at: 2_801, index: 2_802, result: ok(2_801), fingerprint: 'fp2801' });
});
