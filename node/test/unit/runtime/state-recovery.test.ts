// Start-up reconciliation of the Raft storage with the state engine's applied index.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry, SnapshotMeta } from '../../../src/raft/types.js';
import { reconcile, StateRecoveryError } from '../../../src/runtime/state-recovery.js';
import { encodeDescriptor } from '../../../src/state/snapshot-stream.js';
import type { Recovered } from '../../../src/storage/types.js';

const conf = { voters: ['n1', 'n2', 'n3'], learners: [], addresses: { n1: 'a:1', n2: 'b:1', n3: 'c:1' } };
const descriptor = (index: number): Uint8Array => encodeDescriptor({ format: 2, index, stateBytes: 10, idemRows: 0 });
const entries = (from: number, to: number, term = 3): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, type: 'normal' as const, data: new Uint8Array(0) }));
const recovered = (o: Partial<Recovered>): Recovered => ({ hardState: { term: 3, vote: 'n1', commit: 0 }, snapshot: null, entries: [], tornRecordsDropped: 0, incarnation: 'i1', ...o });
const engine = (applied: number, snapshotMeta: SnapshotMeta | null = null) => ({ applied, snapshotMeta, descriptor: (index: number) => descriptor(index) });

test('the engine inside the log: replay starts after its index, the commit index is at least it', () => {
  const r = reconcile(recovered({ snapshot: { meta: { index: 10, term: 2, conf }, data: descriptor(10) }, entries: entries(11, 30), hardState: { term: 3, vote: 'n1', commit: 14 } }), engine(20));
  assert.equal(r.applied, 20);
  assert.equal(r.hardState.commit, 20);
  assert.equal(r.persistSnapshot, false);
  assert.equal(r.entries.length, 20);
  const ahead = reconcile(recovered({ entries: entries(1, 30), hardState: { term: 3, vote: 'n1', commit: 25 } }), engine(20));
  assert.equal(ahead.hardState.commit, 25);
});

test('the engine past the log (a snapshot swapped in, the log not yet told): its snapshot becomes the recovered one', () => {
  const meta: SnapshotMeta = { index: 500, term: 5, conf };
  const r = reconcile(recovered({ entries: entries(1, 30) }), engine(500, meta));
  assert.equal(r.persistSnapshot, true);
  assert.deepEqual(r.snapshot?.meta, meta);
  assert.deepEqual(r.entries, []);
  assert.deepEqual(r.hardState, { term: 5, vote: null, commit: 500 });
  assert.throws(() => reconcile(recovered({ entries: entries(1, 30) }), engine(500, null)), StateRecoveryError);
  assert.throws(() => reconcile(recovered({ entries: entries(1, 30) }), engine(500, { ...meta, index: 499 })), /without the snapshot/);
});

test('the engine behind the snapshot, or a snapshot from before the engine, is refused', () => {
  assert.throws(() => reconcile(recovered({ snapshot: { meta: { index: 10, term: 2, conf }, data: descriptor(10) } }), engine(5)), /behind the Raft snapshot at 10/);
  const v0 = Buffer.from(JSON.stringify({ format: 0, index: 10, modules: {} }));
  assert.throws(() => reconcile(recovered({ snapshot: { meta: { index: 10, term: 2, conf }, data: v0 } }), engine(10)), /before the state engine/);
});

test('a v1 snapshot image (imported into the engine already) is replaced by a descriptor at its index', () => {
  const v1 = Buffer.from(JSON.stringify({ format: 1, index: 10, idempotency: { clock: 0, keys: [] }, modules: {} }));
  const r = reconcile(recovered({ snapshot: { meta: { index: 10, term: 2, conf }, data: v1 }, entries: entries(11, 12) }), engine(12));
  assert.deepEqual(r.snapshot?.data, descriptor(10));
  assert.equal(r.applied, 12);
});
