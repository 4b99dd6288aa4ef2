// The mediator over a state engine: the quota (decided in apply, from the entry, alike on every
// node), bounded scans merged with a command's own writes, orders listed in creation order past
// index 9 → 10, and crash recovery: a crash at any point of apply batches or of a snapshot
// install recovers exactly the state of the applied index the engine records; the import of a
// snapshot image written before the state engine.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { command, defineModule, ErrorCodes, httpStatusFor, ok, t } from '../../../src/catga/index.js';
import { MAX_SCAN_LIMIT } from '../../../src/catga/store.js';
import { MemoryStateEngine } from '../../../src/state/memory-engine.js';
import { TABLES } from '../../../src/state/engine.js';
import { decodeChunk, readChunk, type Cursor } from '../../../src/state/snapshot-stream.js';
import { dumpState, entry, newMediator, only, TestLog } from './helpers.js';
import { importImageV1, parseImageV1 } from '../../../src/catga/image-v1.js';
import { encodeDescriptor } from '../../../src/state/snapshot-stream.js';
import { EventStore } from '../../../src/state/event-store.js';
import { MemorySegmentFiles } from '../../../src/state/memory-event-files.js';
import { encodeRecord, eventRows } from '../../../src/catga/persisted-events.js';
import type { Mediator, MediatorOptions } from '../../../src/catga/mediator.js';
import type { EventLogOptions, WireEvent } from '../../../src/catga/events.js';

const scanner = defineModule({
  name: 'scan',
  commands: {
    'scan.write': command({
      schema: t.object({ set: t.array(t.string()), del: t.array(t.string()), prefix: t.string(), after: t.optional(t.string()), limit: t.integer() }),
      handle(ctx, p) {
        for (const k of p.set) ctx.store.set(k, k.toUpperCase());
        for (const k of p.del) ctx.store.delete(k);
        return ok(ctx.store.scan(p.prefix, { after: p.after, limit: p.limit }).map(([k]) => k));
      },
    }),
  },
});

test('quota: growing commands fail with 507 STATE_QUOTA_EXCEEDED alike on every node; deletes, shrinking writes and queries still work', async () => {
  const proposer = newMediator([], { quotaBytes: 300 });
  const log = new TestLog(proposer);
  assert.equal(only(log.send('kv.put', { key: 'a', value: 'x'.repeat(100) })).result.ok, true);
  assert.equal(only(log.send('kv.put', { key: 'b', value: 'x'.repeat(100) })).result.ok, true);
  const used = proposer.state.stateBytes;
  assert.ok(used > 200 && used < 300, `state bytes ${used}`);
  const refused = only(log.send('kv.put', { key: 'c', value: 'x'.repeat(100) })).result;
  assert.equal(!refused.ok && refused.code, ErrorCodes.STATE_QUOTA_EXCEEDED);
  assert.equal(httpStatusFor(ErrorCodes.STATE_QUOTA_EXCEEDED), 507);
  assert.equal(proposer.state.stateBytes, used, 'a refused command changes nothing');
  assert.deepEqual(await proposer.query('kv.get', { key: 'c' }), { ok: true, value: null });
  assert.equal(only(log.send('kv.put', { key: 'a', value: 'short' })).result.ok, true, 'a write that shrinks the state is allowed');
  assert.equal(only(log.send('kv.delete', { key: 'b' })).result.ok, true);
  assert.equal(only(log.send('kv.put', { key: 'c', value: 'x'.repeat(100) })).result.ok, true, 'room again after a delete');
  assert.equal(proposer.quotaRefused, 1);
  // Another node with a different (or no) quota setting applies the same entries alike: the quota is the entry's.
  const other = newMediator([], { quotaBytes: null });
  const replayed = log.entries.map((e) => other.apply(e));
  assert.deepEqual(replayed.map((r) => r.results), log.entries.map((_, i) => log.results[i]!.results));
  assert.deepEqual(dumpState(other), dumpState(proposer));
  // Entries without a quota (proposed by a node with none) are never refused.
  const unlimited = new TestLog(newMediator());
  for (let i = 0; i < 10; i++) assert.equal(only(unlimited.send('kv.put', { key: `k${i}`, value: 'x'.repeat(100) })).result.ok, true);
});

test('scan: byte-ordered, bounded, and a command sees its own writes and deletes merged in', () => {
  const log = new TestLog(newMediator([scanner]));
  const base = Array.from({ length: 30 }, (_, i) => `p/${String(i).padStart(2, '0')}`);
  log.send('scan.write', { set: [...base, 'q/1', 'o/9'], del: [], prefix: 'p/', limit: 1 });
  const keys = (r: ReturnType<TestLog['send']>): unknown => { const res = only(r).result; assert.ok(res.ok, JSON.stringify(res)); return res.value; };
  assert.deepEqual(keys(log.send('scan.write', { set: [], del: [], prefix: 'p/', after: 'p/27', limit: 10 })), ['p/28', 'p/29']);
  // Deletes of the first rows and an insert in between: still the first five live keys.
  assert.deepEqual(keys(log.send('scan.write', { set: ['p/00a'], del: ['p/00', 'p/01', 'p/02'], prefix: 'p/', limit: 5 })), ['p/00a', 'p/03', 'p/04', 'p/05', 'p/06']);
  // Committed: the next command sees it without a write of its own.
  assert.deepEqual(keys(log.send('scan.write', { set: [], del: [], prefix: 'p/0', limit: 3 })), ['p/00a', 'p/03', 'p/04']);
  const bad = only(log.send('scan.write', { set: [], del: [], prefix: 'p/', limit: MAX_SCAN_LIMIT + 1 })).result;
  assert.equal(!bad.ok && bad.code, ErrorCodes.HANDLER_ERROR);
  assert.match(!bad.ok ? bad.message : '', /limit must be an integer from 1 to 1000/);
});

test('orders.list pages in creation order across index 9 → 10 and 99 → 100', async () => {
  const log = new TestLog(newMediator());
  for (let i = 0; i < 120; i++) log.send('orders.create', { productId: `p${i}`, quantity: 1 });
  const ids: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await log.mediator.query('orders.list', after === undefined ? { limit: 7 } : { after, limit: 7 });
    assert.ok(page.ok);
    const { orders, next } = page.value as { orders: { id: string }[]; next: string | null };
    ids.push(...orders.map((o) => o.id));
    if (next === null) break;
    after = next;
  }
  assert.deepEqual(ids, Array.from({ length: 120 }, (_, i) => `ord-${i + 1}-0`));
  const bad = await log.mediator.query('orders.list', { after: 'nope' });
  assert.equal(!bad.ok && bad.code, ErrorCodes.INVALID_PAYLOAD);
});

test('crash at any point of apply batches recovers exactly the state of the recorded applied index', async () => {
  const engine = new MemoryStateEngine();
  const mediator = newMediator([], { engine, idempotency: { windowMs: 50, maxKeys: 5 } });
  const log = new TestLog(mediator);
  await engine.sync();
  // Reference images: the state after each batch, from a node that never crashed.
  const reference = new Map<number, string[]>([[0, dumpState(newMediator())]]);
  const shadow = newMediator([], { idempotency: { windowMs: 50, maxKeys: 5 } });
  for (let i = 0; i < 12; i++) {
    log.now += 10;
    log.commands([
      { type: 'kv.put', payload: { key: `k${i % 4}`, value: i }, idempotencyKey: `i${i}` },
      { type: 'orders.create', payload: { productId: 'p', quantity: 1 + i } },
      ...(i % 3 === 0 ? [{ type: 'kv.delete', payload: { key: `k${(i + 1) % 4}` } }] : []),
    ]);
    shadow.apply(log.entries[log.entries.length - 1]!);
    reference.set(shadow.appliedIndex, dumpState(shadow));
    if (i === 5) await engine.sync();
  }
  assert.equal(engine.unsyncedTransactions, 6);
  for (let keep = 0; keep <= engine.unsyncedTransactions; keep++) {
    const recovered = newMediator([], { engine: new MemoryStateEngine(engine.crashImage(keep)), idempotency: { windowMs: 50, maxKeys: 5 } });
    assert.equal(recovered.appliedIndex, 6 + keep);
    assert.deepEqual(dumpState(recovered), reference.get(recovered.appliedIndex), `crash keeping ${keep} unsynced batches`);
    // Replaying the log after the recorded index gives the uncrashed node's results and state.
    for (const e of log.entries.slice(recovered.appliedIndex)) assert.deepEqual(recovered.apply(e).results, log.results[e.index - 1]!.results);
    assert.deepEqual(dumpState(recovered), dumpState(mediator));
    assert.equal(recovered.idempotency.size, mediator.idempotency.size);
  }
});

test('crash at any point of a snapshot install leaves the old state or the new one, never a mix', async () => {
  const leader = new TestLog(newMediator());
  for (let i = 0; i < 40; i++) leader.send('kv.put', { key: `k${i}`, value: 'v'.repeat(50) }, `key${i}`);
  const engine = new MemoryStateEngine();
  const follower = newMediator([], { engine });
  const old = new TestLog(follower);
  old.send('kv.put', { key: 'old', value: 1 });
  await engine.sync();
  const oldImage = dumpState(follower);
  const view = leader.mediator.state.engine.pin();
  const stage = engine.stage();
  let cursor: Cursor | null = null;
  let chunks = 0;
  do {
    const { chunk, next } = readChunk(view, cursor, 200);
    for (const table of TABLES) stage.put(table, decodeChunk(chunk).filter((r) => r.table === table));
    cursor = next;
    chunks++;
    // A crash here, mid-transfer: the old state, its index, nothing staged.
    const crashed = newMediator([], { engine: new MemoryStateEngine(engine.crashImage(engine.unsyncedTransactions)) });
    assert.equal(crashed.appliedIndex, 1);
    assert.deepEqual(dumpState(crashed), oldImage);
  } while (cursor !== null);
  assert.ok(chunks > 5);
  await stage.swap();
  const crashed = newMediator([], { engine: new MemoryStateEngine(engine.crashImage(0)) });
  assert.equal(crashed.appliedIndex, 40);
  assert.deepEqual(dumpState(crashed), dumpState(leader.mediator));
  follower.reload();
  const retry = leader.mediator.prepareCommands([{ type: 'kv.put', payload: { key: 'k1', value: 'v'.repeat(50) }, idempotencyKey: 'key1' }], leader.now);
  assert.ok(retry.ok);
  assert.equal(only(follower.apply(entry(41, retry.value))).duplicate, true, 'the idempotency table came with the snapshot');
});

test('a data directory from before the state engine: its v1 snapshot image is imported at its index', async () => {
  const order = { id: 'ord-12-0', productId: 'p', quantity: 2, status: 'created', createdAt: 5, index: 12 };
  const image = {
    format: 1, index: 20,
    idempotency: { clock: 1_000, keys: [['retry-me', 990, 12, { ok: true, value: order }], ['k2', 995, 15, { ok: true, value: { version: 1 } }]] },
    modules: { kv: [['a', { v: [1, 2], n: 3 }]], orders: [['ord-12-0', order], ['ord-9-0', { ...order, id: 'ord-9-0', index: 9 }]], gone: [['x', 1]] },
  };
  const data = Buffer.from(JSON.stringify(image));
  assert.equal(parseImageV1(encodeDescriptor({ format: 2, index: 1, stateBytes: 0, idemRows: 0 })), null);
  const m = newMediator([], { idempotency: { windowMs: 60_000, maxKeys: 100 } });
  importImageV1(m, parseImageV1(data)!, 20);
  assert.equal(m.appliedIndex, 20);
  assert.equal(m.events.floor, 20);
  assert.deepEqual(await m.query('kv.get', { key: 'a' }), { ok: true, value: { value: [1, 2], version: 3 } });
  assert.deepEqual(await m.query('orders.get', { id: 'ord-12-0' }), { ok: true, value: order });
  const list = await m.query('orders.list', {});
  assert.deepEqual(list.ok && (list.value as { orders: { id: string }[] }).orders.map((o) => o.id), ['ord-9-0', 'ord-12-0']);
  assert.equal(m.registry.states.get('orders')!.size, 2);
  assert.ok(m.state.stateBytes > 0);
  const retry = m.prepareCommands([{ type: 'orders.create', payload: { productId: 'p', quantity: 2 }, idempotencyKey: 'retry-me' }], 1_001);
  assert.ok(retry.ok);
  const again = only(m.apply(entry(21, retry.value)));
  assert.equal(again.duplicate, true);
  assert.equal(again.index, 12);
  assert.throws(() => importImageV1(m, parseImageV1(data)!, 20), /empty state engine/);
});

/** A mediator over an engine and event files a crash left (`keepBatches` unsynced engine batches, `keepBytes` unsynced event bytes). */
function afterCrash(engine: MemoryStateEngine, files: MemorySegmentFiles, keepBatches: number, keepBytes: number, events?: EventLogOptions): Mediator {
  return newMediator([], { engine: new MemoryStateEngine(engine.crashImage(keepBatches)), eventStore: new EventStore(new MemorySegmentFiles(files.crashImage(keepBytes))), ...(events === undefined ? {} : { events }) });
}

/** A mediator over an in-memory engine and event files, for crash images of both. */
function withEventFiles(options: Partial<MediatorOptions> = {}, segmentBytes?: number): { engine: MemoryStateEngine; files: MemorySegmentFiles; log: TestLog } {
  const engine = new MemoryStateEngine();
  const files = new MemorySegmentFiles();
  return { engine, files, log: new TestLog(newMediator([], { engine, eventStore: new EventStore(files, segmentBytes), ...options })) };
}

/** The events a mediator serves after `from`, comparable across mediators. */
function served(m: Mediator, from: number): [number, string, string][] {
  const r = m.events.since(from);
  assert.ok(r.ok, `events after ${from}: ${r.ok ? '' : r.message}`);
  return r.value.map((w) => [w.index, w.type, w.bytes.toString()]);
}

test('a restarted node serves the events of the entries its engine holds (the engine is not replayed at start)', async () => {
  const { engine, files, log } = withEventFiles();
  for (let i = 0; i < 12; i++) log.send('kv.put', { key: `e${i}`, value: i });
  await log.mediator.sync();
  const before = served(log.mediator, 0);
  assert.equal(before.length, 12);
  // A machine crash after the last sync: the restarted mediator reloads from the engine and the event store.
  const restarted = afterCrash(engine, files, 0, 0);
  assert.equal(restarted.appliedIndex, 12);
  assert.deepEqual(served(restarted, 5), before.filter(([index]) => index > 5));
  // A window of 4 entries: only their events are kept, and the floor says so.
  const { engine: small, files: smallFiles, log: windowed } = withEventFiles({ events: { maxEvents: 4 } }, 64);
  for (let i = 0; i < 12; i++) windowed.send('kv.put', { key: `e${i}`, value: i });
  const reloaded = afterCrash(small, smallFiles, small.unsyncedTransactions, Infinity, { maxEvents: 4 });
  assert.equal(reloaded.events.floor, 8);
  assert.equal(served(reloaded, 8).length, 4);
  // The store let go of whole segments the ring no longer needs: at 64 bytes a segment holds one
  // frame here, so what is left is the ring's 4 entries and the one it let go in the last batch.
  assert.equal(smallFiles.list().length, 5);
});

test('a crash at any point, the engine and the event store losing their unsynced tails independently: the events after the floor are exactly those of the applied entries', async () => {
  const { engine, files, log: uncrashed } = withEventFiles();
  for (let i = 0; i < 6; i++) uncrashed.send('kv.put', { key: `a${i}`, value: i });
  await uncrashed.mediator.sync();
  for (let i = 0; i < 6; i++) uncrashed.commands([{ type: 'kv.put', payload: { key: `b${i}`, value: 'x'.repeat(i * 10) } }, { type: 'kv.delete', payload: { key: `a${i}` } }]);
  const unsyncedBytes = Math.max(...files.list().map((n) => files.read(n).length));
  const all = served(uncrashed.mediator, 0);
  let cases = 0;
  for (let keep = 0; keep <= engine.unsyncedTransactions; keep++) {
    // Every byte of the unsynced frames: whole frames, torn frames, none, all.
    for (const keepBytes of [...Array.from({ length: unsyncedBytes + 1 }, (_, b) => b), Infinity]) {
      const m = afterCrash(engine, files, keep, keepBytes);
      const applied = m.appliedIndex;
      assert.equal(applied, 6 + keep);
      const floor = m.events.floor;
      assert.ok(floor <= applied);
      // Nothing past the applied index, nothing missing or different after the floor.
      assert.deepEqual(served(m, floor), all.filter(([index]) => index > floor && index <= applied), `engine keeping ${keep} batches, events ${keepBytes} bytes`);
      // The replay of the log continues the events without a gap.
      for (const e of uncrashed.entries.slice(applied)) m.apply(e);
      assert.deepEqual(served(m, floor), all.filter(([index]) => index > floor), `after replay: engine ${keep}, events ${keepBytes}`);
      cases++;
    }
  }
  assert.ok(cases > 100, `${cases} crash points`);
  // A process crash keeps everything: the floor stays where it was.
  assert.equal(afterCrash(engine, files, engine.unsyncedTransactions, Infinity).events.floor, 0);
});

test('the events kept are bounded by the ring\'s bytes too, and a restart resumes exactly from what is left', async () => {
  // Each kv.changed carries its 20 KB value: a ring of 100 events but 64 KB holds three of them.
  const value = 'x'.repeat(20_000);
  const events = { maxEvents: 100, maxBytes: 64 * 1024 };
  const { engine, files, log } = withEventFiles({ events }, 32 * 1024);
  for (let i = 0; i < 12; i++) log.send('kv.put', { key: `big${i}`, value });
  // The ring's three entries, and at most a segment (two frames) and one batch the ring let go.
  const kept = files.list().reduce((n, name) => n + files.read(name).length, 0);
  assert.ok(kept < 6 * 20_500, `${kept} bytes of events kept for a ring of 3 entries`);
  await log.mediator.sync();
  const restarted = afterCrash(engine, files, 0, 0, events);
  const floor = restarted.events.floor;
  assert.ok(floor >= 9 && floor < 12, `floor ${floor}`);
  // Every entry after the floor has its event: nothing between the floor and the first kept record is lost.
  assert.deepEqual(served(restarted, floor).map(([index]) => index), Array.from({ length: 12 - floor }, (_, k) => floor + 1 + k));
  assert.ok(!restarted.events.since(floor - 1).ok);
});

test('events an older version kept as rows in the engine move to the event store, and the rows go', () => {
  const engine = new MemoryStateEngine();
  const log = new TestLog(newMediator([], { engine }));
  for (let i = 0; i < 5; i++) log.send('kv.put', { key: `old${i}`, value: i });
  const expected = served(log.mediator, 0);
  // The rows as the older version wrote them: `ev-since`, then one `ev:` row per entry.
  engine.write((tx) => {
    const since = Buffer.alloc(8);
    tx.put('meta', Buffer.from('ev-since'), since);
    for (const index of [1, 2, 3, 4, 5]) {
      const key = Buffer.concat([Buffer.from('ev:'), Buffer.alloc(8)]);
      key.writeBigUInt64BE(BigInt(index), 3);
      tx.put('meta', key, encodeRecord(index, (log.mediator.events.since(index - 1) as { value: WireEvent[] }).value.filter((w) => w.index === index)).bytes);
    }
  });
  const files = new MemorySegmentFiles();
  const upgraded = newMediator([], { engine, eventStore: new EventStore(files) });
  assert.deepEqual(served(upgraded, 0), expected);
  assert.deepEqual(engine.range('meta', { prefix: Buffer.from('ev'), limit: 10 }), []);
  // Moved for good: a restart on the same files serves them from the store.
  assert.deepEqual(served(newMediator([], { engine, eventStore: new EventStore(new MemorySegmentFiles(files.crashImage(Infinity))) }), 0), expected);
});

test('a snapshot whose sender held no event (its rows complete from the snapshot\'s own index) reloads', () => {
  const engine = new MemoryStateEngine();
  const log = new TestLog(newMediator([], { engine }));
  for (let i = 0; i < 5; i++) log.send('kv.put', { key: `k${i}`, value: i });
  // The rows such a snapshot carries, beside its state at index 5: complete after 5, none after.
  engine.write((tx) => { for (const r of eventRows(5, [])) tx.put('meta', r.key, r.value); });
  const reloaded = newMediator([], { engine: new MemoryStateEngine(engine.crashImage(engine.unsyncedTransactions)) });
  assert.equal(reloaded.appliedIndex, 5);
  assert.equal(reloaded.events.floor, 5);
  assert.deepEqual(served(reloaded, 5), []);
  // The events go on from there.
  const next = new TestLog(reloaded);
  next.send('kv.put', { key: 'k5', value: 5 });
  assert.deepEqual(served(reloaded, 5).map(([index]) => index), [6]);
});
