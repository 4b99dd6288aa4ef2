import assert from 'node:assert/strict';
import { test } from 'node:test';
import { command, defineModule, ErrorCodes, fail, httpStatusFor, loggingBehavior, ok, query, stampEntry, t, type Behavior, type CommandContext } from '../../../src/catga/index.js';
import { dumpState, entry, transferState, newMediator, only, TestLog } from './helpers.js';

/** A module whose handlers misbehave on request, to prove failures change nothing. */
const faulty = defineModule({
  name: 'faulty',
  commands: {
    'faulty.write': command({
      schema: t.object({ key: t.string(), mode: t.string({ enum: ['ok', 'throw', 'refuse', 'async', 'garbage', 'emit-bad'] }) }),
      handle(ctx, { key, mode }) {
        ctx.store.set(key, 'written');
        ctx.emit('faulty.written', { key });
        if (mode === 'throw') throw new Error('boom');
        if (mode === 'refuse') return fail('NOPE', 'refused');
        if (mode === 'async') return Promise.resolve(ok(1)) as never;
        if (mode === 'garbage') return 42 as never;
        if (mode === 'emit-bad') ctx.emit('faulty.bad', { n: 1n } as never);
        return ok({ key });
      },
    }),
  },
  queries: {
    'faulty.read': query({ schema: t.object({ key: t.string() }), handle: (ctx, { key }) => ok(ctx.store.get(key) ?? null) }),
    'faulty.slow': query({ schema: t.object({}), handle: (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(ok('late')))) }),
    'faulty.crash': query({
      schema: t.object({}),
      handle: () => {
        throw new Error('query boom');
      },
    }),
  },
});

test('kv put/get/delete with versions and kv.changed events', async () => {
  const log = new TestLog(newMediator());
  const put = log.send('kv.put', { key: 'a', value: { n: 1 } });
  assert.deepEqual(only(put).result, { ok: true, value: { version: 1 } });
  assert.deepEqual(
    put.events.map((e) => JSON.parse(e.wire.bytes.toString())),
    [{ index: 1, type: 'kv.changed', data: { key: 'a', op: 'put', value: { n: 1 }, version: 1 }, ts: log.now }],
  );
  assert.deepEqual(only(log.send('kv.put', { key: 'a', value: 'two' })).result, { ok: true, value: { version: 2 } });
  assert.deepEqual(await log.mediator.query('kv.get', { key: 'a' }), { ok: true, value: { value: 'two', version: 2 } });
  assert.deepEqual(only(log.send('kv.delete', { key: 'a' })).result, { ok: true, value: { deleted: true } });
  const again = log.send('kv.delete', { key: 'a' });
  assert.deepEqual(only(again).result, { ok: true, value: { deleted: false } });
  assert.equal(again.events.length, 0);
  assert.deepEqual(await log.mediator.query('kv.get', { key: 'a' }), { ok: true, value: null });
});

test('kv.cas: null expects absence, values compare structurally, mismatch is CAS_MISMATCH → 409', async () => {
  const log = new TestLog(newMediator());
  assert.deepEqual(only(log.send('kv.cas', { key: 'k', expected: null, value: { a: 1, b: [1] } })).result, { ok: true, value: { version: 1 } });
  const taken = only(log.send('kv.cas', { key: 'k', expected: null, value: 0 })).result;
  assert.equal(taken.ok, false);
  assert.equal(!taken.ok && taken.code, 'CAS_MISMATCH');
  assert.equal(httpStatusFor('CAS_MISMATCH'), 409);
  const wrong = only(log.send('kv.cas', { key: 'k', expected: { a: 2, b: [1] }, value: 0 }));
  assert.equal(!wrong.result.ok && wrong.result.code, 'CAS_MISMATCH');
  assert.equal(wrong.index, 3);
  // Key order does not matter.
  assert.deepEqual(only(log.send('kv.cas', { key: 'k', expected: { b: [1], a: 1 }, value: 'next' })).result, { ok: true, value: { version: 2 } });
  const absent = only(log.send('kv.cas', { key: 'missing', expected: 'x', value: 1 })).result;
  assert.equal(!absent.ok && absent.code, 'CAS_MISMATCH');
  assert.deepEqual(await log.mediator.query('kv.get', { key: 'k' }), { ok: true, value: { value: 'next', version: 2 } });
  // Failed CAS raised no events.
  assert.equal(log.mediator.events.since(0).ok && (log.mediator.events.since(0) as { value: unknown[] }).value.length, 2);
});

test('edge validation: paths, unknown types, limits, and the HTTP status of each code', () => {
  const mediator = newMediator([], { maxBatchCommands: 3, maxEntryBytes: 300 });
  const bad = mediator.prepareCommands([{ type: 'orders.create', payload: { productId: 7, quantity: 0, x: 1 } }], 1);
  assert.equal(bad.ok, false);
  assert.ok(!bad.ok);
  assert.equal(bad.code, 'INVALID_PAYLOAD');
  assert.equal(httpStatusFor(bad.code), 400);
  assert.deepEqual(
    bad.issues?.map((i) => i.path),
    ['payload.productId', 'payload.quantity', 'payload.x'],
  );
  const inBatch = mediator.prepareCommands(
    [
      { type: 'kv.put', payload: { key: 'a', value: 1 } },
      { type: 'kv.put', payload: { key: '', value: 1 } },
    ],
    1,
  );
  assert.ok(!inBatch.ok);
  assert.equal(inBatch.issues?.[0]?.path, 'commands[1].payload.key');
  const unknown = mediator.prepareCommands([{ type: 'nope.do', payload: {} }], 1);
  assert.ok(!unknown.ok);
  assert.equal(unknown.code, 'UNKNOWN_COMMAND');
  assert.equal(httpStatusFor(unknown.code), 404);
  const tooMany = mediator.prepareCommands(new Array(4).fill({ type: 'kv.delete', payload: { key: 'a' } }), 1);
  assert.ok(!tooMany.ok);
  assert.equal(tooMany.code, 'BATCH_TOO_LARGE');
  assert.equal(httpStatusFor(tooMany.code), 413);
  const big = mediator.prepareCommands([{ type: 'kv.put', payload: { key: 'a', value: 'x'.repeat(400) } }], 1);
  assert.ok(!big.ok);
  assert.equal(big.code, 'ENTRY_TOO_LARGE');
  const key = mediator.prepareCommands([{ type: 'kv.delete', payload: { key: 'a' }, idempotencyKey: 'k'.repeat(301) }], 1);
  assert.ok(!key.ok);
  assert.equal(key.code, 'INVALID_IDEMPOTENCY_KEY');
  assert.equal(mediator.checkQuery('kv.nope', {})?.code, 'UNKNOWN_QUERY');
  assert.deepEqual(mediator.checkQuery('kv.get', {})?.issues, [{ path: 'payload.key', message: 'is required' }]);
  assert.equal(mediator.checkQuery('orders.list', undefined), null);
  const badType = mediator.preparePublish('not a type', {}, 1);
  assert.ok(!badType.ok);
  assert.equal(badType.code, 'INVALID_TYPE');
  assert.equal(httpStatusFor('SOME_BUSINESS_CODE'), 409);
});

test('a batch is one entry with one result per command, in order, each atomic', () => {
  const log = new TestLog(newMediator([faulty]));
  const applied = log.commands([
    { type: 'kv.put', payload: { key: 'a', value: 1 } },
    { type: 'faulty.write', payload: { key: 'x', mode: 'throw' } },
    { type: 'kv.cas', payload: { key: 'a', expected: 2, value: 3 } },
    { type: 'orders.create', payload: { productId: 'p', quantity: 1 } },
    { type: 'orders.create', payload: { productId: 'q', quantity: 2 } },
  ]);
  assert.equal(applied.kind, 'commands');
  assert.equal(log.mediator.appliedIndex, 1);
  assert.deepEqual(
    applied.results.map((r) => (r.result.ok ? 'ok' : r.result.code)),
    ['ok', 'HANDLER_ERROR', 'CAS_MISMATCH', 'ok', 'ok'],
  );
  const ids = applied.results.slice(3).map((r) => (r.result.ok ? (r.result.value as { id: string }).id : ''));
  assert.deepEqual(ids, ['ord-1-3', 'ord-1-4']);
  assert.deepEqual(
    applied.events.map((e) => e.type),
    ['kv.changed', 'orders.created', 'orders.created'],
  );
  assert.ok(applied.events.every((e) => e.index === 1 && e.ts === log.now));
});

test('a handler that throws, refuses, returns garbage or is async leaves state and events untouched', async () => {
  const log = new TestLog(newMediator([faulty]));
  for (const mode of ['throw', 'refuse', 'async', 'garbage', 'emit-bad'] as const) {
    const applied = log.send('faulty.write', { key: mode, mode });
    const { result } = only(applied);
    assert.equal(result.ok, false, mode);
    assert.equal(!result.ok && result.code, mode === 'refuse' ? 'NOPE' : 'HANDLER_ERROR', mode);
    assert.equal(applied.events.length, 0, mode);
    assert.deepEqual(await log.mediator.query('faulty.read', { key: mode }), { ok: true, value: null }, mode);
  }
  assert.equal(httpStatusFor(ErrorCodes.HANDLER_ERROR), 409);
  // The log keeps moving: the next command applies normally.
  assert.equal(only(log.send('faulty.write', { key: 'fine', mode: 'ok' })).result.ok, true);
  assert.deepEqual(await log.mediator.query('faulty.read', { key: 'fine' }), { ok: true, value: 'written' });
});

test('determinism: the same entries give the same results, events and snapshots on two nodes', () => {
  const a = new TestLog(newMediator([faulty]));
  for (let i = 0; i < 50; i++) {
    a.now += 7;
    a.commands([
      { type: 'kv.put', payload: { key: `k${i % 7}`, value: { i } }, idempotencyKey: `put-${i % 10}` },
      { type: 'orders.create', payload: { productId: `p${i}`, quantity: 1 + (i % 5) } },
      { type: 'faulty.write', payload: { key: `f${i}`, mode: i % 3 === 0 ? 'throw' : 'ok' } },
    ]);
    if (i % 11 === 0) a.publish('audit.tick', { i });
  }
  const b = newMediator([faulty]);
  const replayed = a.entries.map((e) => b.apply(e));
  const c = newMediator([faulty]);
  const original = a.entries.map((e) => c.apply(e));
  assert.deepEqual(
    replayed.map((r) => [r.results, r.events.map((e) => e.wire.bytes.toString())]),
    original.map((r) => [r.results, r.events.map((e) => e.wire.bytes.toString())]),
  );
  assert.deepEqual(dumpState(b), dumpState(a.mediator));
  assert.deepEqual(dumpState(c), dumpState(a.mediator));
});

test('idempotency: a retried key returns the first result without applying again', async () => {
  const log = new TestLog(newMediator());
  const first = only(log.send('orders.create', { productId: 'p', quantity: 1 }, 'key-1'));
  const again = only(log.send('orders.create', { productId: 'p', quantity: 1 }, 'key-1'));
  assert.equal(first.duplicate, false);
  assert.equal(again.duplicate, true);
  assert.equal(again.index, 1);
  assert.deepEqual(again.result, first.result);
  const list = await log.mediator.query('orders.list', {});
  assert.equal(list.ok && (list.value as { orders: unknown[] }).orders.length, 1);
  // Failures are remembered too.
  const refused = only(log.send('kv.cas', { key: 'z', expected: 1, value: 2 }, 'key-2'));
  log.send('kv.put', { key: 'z', value: 1 });
  assert.deepEqual(only(log.send('kv.cas', { key: 'z', expected: 1, value: 2 }, 'key-2')).result, refused.result);
});

test('idempotency keys expire after the window, in entry time, and the clock never goes back', () => {
  const log = new TestLog(newMediator([], { idempotency: { windowMs: 1_000, maxKeys: 100 } }));
  log.send('kv.put', { key: 'a', value: 1 }, 'k', 10_000);
  assert.equal(only(log.send('kv.put', { key: 'a', value: 1 }, 'k', 10_999)).duplicate, true);
  // A leader with a slower clock does not rewind time.
  assert.equal(only(log.send('kv.put', { key: 'a', value: 1 }, 'k', 5_000)).duplicate, true);
  assert.equal(log.mediator.idempotency.clock, 10_999);
  const late = only(log.send('kv.put', { key: 'a', value: 1 }, 'k', 11_000));
  assert.equal(late.duplicate, false);
  assert.deepEqual(late.result, { ok: true, value: { version: 2 } });
});

test('idempotency: a key reused with another payload is refused with IDEMPOTENCY_KEY_REUSED (422) and changes nothing', () => {
  const log = new TestLog(newMediator());
  const first = only(log.send('kv.put', { key: 'a', value: 1 }, 'key-1'));
  assert.deepEqual(first.result, { ok: true, value: { version: 1 } });
  const reused = only(log.send('kv.put', { key: 'a', value: 2 }, 'key-1'));
  assert.equal(reused.duplicate, false);
  assert.ok(!reused.result.ok);
  assert.equal(reused.result.code, 'IDEMPOTENCY_KEY_REUSED');
  assert.match(reused.result.message, /used at index 1 with another payload/);
  assert.equal(httpStatusFor(reused.result.code), 422);
  assert.equal(log.mediator.idempotency.size, 1, 'the refusal is not recorded under the key');
  // The retry with the first payload still answers the first result, with the first index.
  const retry = only(log.send('kv.put', { key: 'a', value: 1 }, 'key-1'));
  assert.deepEqual([retry.duplicate, retry.index, retry.result], [true, 1, first.result]);
});

test('idempotency: a key belongs to one command type; the same key on another type is another key', () => {
  const log = new TestLog(newMediator());
  assert.equal(only(log.send('kv.put', { key: 'a', value: 1 }, 'shared')).duplicate, false);
  const other = only(log.send('kv.delete', { key: 'a' }, 'shared'));
  assert.equal(other.duplicate, false);
  assert.deepEqual(other.result, { ok: true, value: { deleted: true } });
});

test('idempotency: expiry follows the window each entry carries from the leader, so nodes with other settings agree', () => {
  // Two nodes configured with different windows apply the same leader-stamped entries.
  const leader = new TestLog(newMediator([], { idempotency: { windowMs: 1_000, maxKeys: 100 } }));
  const stamped = (ts: number, key: string) => {
    const data = leader.mediator.prepareCommands([{ type: 'kv.put', payload: { key: 'a', value: 1 }, idempotencyKey: key }], 0);
    assert.ok(data.ok);
    return stampEntry(data.value, ts, 5_000);
  };
  const entries = [stamped(10_000, 'k'), stamped(14_000, 'k'), stamped(15_500, 'k')].map((data, i) => entry(i + 1, data));
  const short = newMediator([], { idempotency: { windowMs: 1_000, maxKeys: 100 } });
  const long = newMediator([], { idempotency: { windowMs: 3_600_000, maxKeys: 100 } });
  const outcomes = (m: ReturnType<typeof newMediator>) => entries.map((e) => only(m.apply(e)).duplicate);
  assert.deepEqual(outcomes(short), [false, true, false], 'within the stamped 5 s window, then expired');
  assert.deepEqual(outcomes(long), [false, true, false]);
});

test('stampEntry replaces the encoder\'s time with the leader\'s, adds its window, and restamps a stamped entry', () => {
  const m = newMediator();
  const data = m.prepareCommands([{ type: 'kv.put', payload: { key: 'a', value: 1 } }], 123);
  assert.ok(data.ok);
  const once = stampEntry(data.value, 456, 600_000);
  assert.equal(Buffer.from(once).toString(), '{"v":1,"ts":456,"w":600000,"c":[{"t":"kv.put","p":{"key":"a","value":1}}]}');
  const twice = stampEntry(once, 789, 1_000);
  assert.equal(Buffer.from(twice).toString(), '{"v":1,"ts":789,"w":1000,"c":[{"t":"kv.put","p":{"key":"a","value":1}}]}');
  const event = m.preparePublish('x.y', { n: 1 }, 5);
  assert.ok(event.ok);
  assert.equal(Buffer.from(stampEntry(event.value, 6, 7)).toString(), '{"v":1,"ts":6,"w":7,"e":{"t":"x.y","d":{"n":1}}}');
});

test('idempotency keys are bounded: the oldest is forgotten first', () => {
  const log = new TestLog(newMediator([], { idempotency: { windowMs: 1_000_000, maxKeys: 3 } }));
  for (let i = 0; i < 4; i++) log.send('kv.delete', { key: 'a' }, `k${i}`);
  assert.equal(log.mediator.idempotency.size, 3);
  assert.equal(log.mediator.idempotency.evictedEarly, 1);
  assert.equal(only(log.send('kv.delete', { key: 'a' }, 'k0')).duplicate, false);
  assert.equal(only(log.send('kv.delete', { key: 'a' }, 'k3')).duplicate, true);
});

test('a streamed snapshot keeps module state, idempotency keys, the clock and the recent events', async () => {
  const options = { idempotency: { windowMs: 1_000, maxKeys: 100 } };
  const log = new TestLog(newMediator([faulty], options));
  log.send('kv.put', { key: 'a', value: [1, { b: 2 }] }, 'k1', 5_000);
  log.send('orders.create', { productId: 'p', quantity: 2 }, undefined, 5_100);
  log.send('faulty.write', { key: 'w', mode: 'ok' }, undefined, 5_200);

  const restored = newMediator([faulty], options);
  restored.apply(entry(1, new Uint8Array(0)));
  assert.ok((await transferState(log.mediator, restored, 64)) > 1, 'the image travels in several chunks');
  assert.equal(restored.appliedIndex, 3);
  // The events of the leader's last entries come with the state: a subscriber resumes from 0.
  assert.equal(restored.events.floor, 0);
  const events = (r: typeof restored) => { const s = r.events.since(0); assert.ok(s.ok); return s.value.map((w) => [w.index, w.type, w.bytes.toString()]); };
  assert.deepEqual(events(restored), events(log.mediator));
  assert.ok(events(restored).length >= 2);
  assert.deepEqual(dumpState(restored), dumpState(log.mediator));
  assert.deepEqual(await restored.query('kv.get', { key: 'a' }), { ok: true, value: { value: [1, { b: 2 }], version: 1 } });
  assert.deepEqual(await restored.query('orders.get', { id: 'ord-2-0' }), await log.mediator.query('orders.get', { id: 'ord-2-0' }));
  // Same next entry on both: same result (the key is still known, then expires at the same entry).
  const next = log.mediator.prepareCommands([{ type: 'kv.put', payload: { key: 'a', value: [1, { b: 2 }] }, idempotencyKey: 'k1' }], 5_999);
  assert.ok(next.ok);
  const x = log.mediator.apply(entry(4, next.value));
  const y = restored.apply(entry(4, next.value));
  assert.deepEqual(x.results, y.results);
  assert.equal(only(y).duplicate, true);
  const expired = log.mediator.prepareCommands([{ type: 'kv.put', payload: { key: 'a', value: [1, { b: 2 }] }, idempotencyKey: 'k1' }], 6_000);
  assert.ok(expired.ok);
  assert.equal(only(restored.apply(entry(5, expired.value))).duplicate, false);
  // State of a module this node does not load is carried along, not lost.
  const partial = newMediator([], options);
  await transferState(log.mediator, partial);
  assert.deepEqual(dumpState(partial), dumpState(log.mediator));
  // Applying an index at or below the applied one is a broken invariant.
  assert.throws(() => restored.apply(entry(5, expired.value)), /after applied index/);
});

test('orders: deterministic ids, NOT_FOUND → 404, paged list', async () => {
  const log = new TestLog(newMediator());
  for (let i = 0; i < 5; i++) log.send('orders.create', { productId: `p${i}`, quantity: i + 1 });
  const order = await log.mediator.query('orders.get', { id: 'ord-3-0' });
  assert.deepEqual(order, { ok: true, value: { id: 'ord-3-0', productId: 'p2', quantity: 3, status: 'created', createdAt: log.now, index: 3 } });
  const missing = await log.mediator.query('orders.get', { id: 'ord-9-0' });
  assert.ok(!missing.ok);
  assert.equal(missing.code, 'NOT_FOUND');
  assert.equal(httpStatusFor(missing.code), 404);
  const page1 = await log.mediator.query('orders.list', { limit: 2 });
  assert.ok(page1.ok);
  const first = page1.value as { orders: { id: string }[]; next: string | null };
  assert.deepEqual(first.orders.map((o) => o.id), ['ord-1-0', 'ord-2-0']);
  assert.equal(first.next, 'ord-2-0');
  const page3 = await log.mediator.query('orders.list', { limit: 2, after: 'ord-4-0' });
  assert.ok(page3.ok);
  assert.deepEqual(page3.value, { orders: [{ id: 'ord-5-0', productId: 'p4', quantity: 5, status: 'created', createdAt: log.now, index: 5 }], next: null });
});

test('behaviours wrap commands and queries in order; a throwing behaviour is a HANDLER_ERROR', async () => {
  const seen: string[] = [];
  const tracing: Behavior = {
    name: 'tracing',
    command(call, next) {
      seen.push(`before ${call.type}@${call.ctx.index}`);
      const result = next();
      seen.push(`after ${call.type} ${result.ok}`);
      return result;
    },
    async query(call, next) {
      seen.push(`query ${call.type}`);
      return next();
    },
  };
  const veto: Behavior = {
    name: 'veto',
    command(call, next) {
      if ((call.payload as { key?: string }).key === 'forbidden') return fail('FORBIDDEN_KEY', 'no');
      if ((call.payload as { key?: string }).key === 'explode') throw new Error('behaviour bug');
      return next();
    },
  };
  const log = new TestLog(newMediator([], { behaviors: [tracing, veto] }));
  assert.equal(only(log.send('kv.put', { key: 'a', value: 1 })).result.ok, true);
  const vetoed = only(log.send('kv.put', { key: 'forbidden', value: 1 })).result;
  assert.equal(!vetoed.ok && vetoed.code, 'FORBIDDEN_KEY');
  const exploded = only(log.send('kv.put', { key: 'explode', value: 1 })).result;
  assert.equal(!exploded.ok && exploded.code, 'HANDLER_ERROR');
  await log.mediator.query('kv.get', { key: 'a' });
  assert.deepEqual(seen, ['before kv.put@1', 'after kv.put true', 'before kv.put@2', 'after kv.put false', 'before kv.put@3', 'query kv.get']);
  assert.deepEqual(await log.mediator.query('kv.get', { key: 'forbidden' }), { ok: true, value: null });
});

test('queries: timeout, throwing handler, metrics hooks', async () => {
  const observed: string[] = [];
  const mediator = newMediator([faulty], {
    queryTimeoutMs: 30,
    observer: {
      commandApplied: (type, outcome, seconds) => observed.push(`command ${type} ${outcome} ${seconds >= 0}`),
      queryServed: (type, outcome) => observed.push(`query ${type} ${outcome}`),
    },
  });
  const slow = await mediator.query('faulty.slow', {});
  assert.ok(!slow.ok);
  assert.equal(slow.code, 'QUERY_TIMEOUT');
  assert.equal(httpStatusFor(slow.code), 503);
  const crash = await mediator.query('faulty.crash', {});
  assert.ok(!crash.ok);
  assert.equal(crash.code, 'HANDLER_ERROR');
  const log = new TestLog(mediator);
  log.send('faulty.write', { key: 'a', mode: 'throw' }, 'dup');
  log.send('faulty.write', { key: 'a', mode: 'throw' }, 'dup');
  log.send('kv.cas', { key: 'a', expected: 1, value: 1 });
  log.send('kv.put', { key: 'a', value: 1 });
  assert.deepEqual(observed, [
    'query faulty.slow timeout',
    'query faulty.crash error',
    'command faulty.write error true',
    'command faulty.write duplicate true',
    'command kv.cas failed true',
    'command kv.put ok true',
  ]);
});

test('event handlers run after apply on every event; their failures never break apply', async () => {
  const delivered: string[] = [];
  const handled: string[] = [];
  const listener = defineModule({
    name: 'listener',
    events: {
      'kv.changed': [
        (event) => {
          delivered.push(`sync ${event.index} ${(event.data as { key: string }).key}`);
        },
        () => {
          throw new Error('sync failure');
        },
      ],
      'orders.created': async (event) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        delivered.push(`async ${event.index}`);
        throw new Error('async failure');
      },
      '*': (event, ctx) => {
        delivered.push(`any ${event.type} from ${ctx.module}`);
      },
    },
  });
  const log = new TestLog(newMediator([listener], { observer: { eventHandled: (type, outcome) => handled.push(`${type} ${outcome}`) } }));
  assert.equal(only(log.send('kv.put', { key: 'a', value: 1 })).result.ok, true);
  assert.equal(only(log.send('orders.create', { productId: 'p', quantity: 1 })).result.ok, true);
  log.publish('custom.thing', { x: 1 });
  await log.mediator.eventHandlersIdle();
  assert.deepEqual(delivered, ['sync 1 a', 'any kv.changed from listener', 'any orders.created from listener', 'any custom.thing from listener', 'async 2']);
  assert.deepEqual(handled.sort(), ['custom.thing ok', 'kv.changed error', 'kv.changed ok', 'kv.changed ok', 'orders.created error', 'orders.created ok'].sort());
});

test('published events, malformed entries and no-ops', () => {
  const log = new TestLog(newMediator());
  const published = log.publish('billing.invoiced', { amount: 12, lines: [{ sku: 'a' }] });
  assert.equal(published.kind, 'event');
  assert.deepEqual(JSON.parse(published.events[0]!.wire.bytes.toString()), { index: 1, type: 'billing.invoiced', data: { amount: 12, lines: [{ sku: 'a' }] }, ts: log.now });
  const garbage = log.append(Buffer.from('{"v":1,"ts":1,"c":[{"p":1}]}'));
  assert.equal(garbage.kind, 'invalid');
  assert.equal(garbage.error?.code, 'INVALID_ENTRY');
  assert.equal(log.append(Buffer.from('not json')).kind, 'invalid');
  assert.equal(log.append(new Uint8Array(0)).kind, 'none');
  assert.equal(log.mediator.appliedIndex, 4);
  assert.throws(() => log.mediator.apply(entry(4, new Uint8Array(0))), /apply: entry 4 after applied index 4/);
});

test('state values are frozen: a handler cannot change committed state behind the transaction', () => {
  let leaked: CommandContext | null = null;
  const sneaky = defineModule({
    name: 'sneaky',
    commands: {
      'sneaky.set': command({
        schema: t.object({}),
        handle(ctx) {
          leaked = ctx;
          ctx.store.set('obj', { n: 1 });
          return ok(null);
        },
      }),
      'sneaky.mutate': command({
        schema: t.object({}),
        handle(ctx) {
          (ctx.store.get('obj') as { n: number }).n = 2;
          return ok(null);
        },
      }),
    },
  });
  const log = new TestLog(newMediator([sneaky]));
  log.send('sneaky.set', {});
  assert.ok(leaked !== null);
  const mutated = only(log.send('sneaky.mutate', {})).result;
  assert.equal(!mutated.ok && mutated.code, 'HANDLER_ERROR');
  assert.match(!mutated.ok ? mutated.message : '', /read only|read-only|Cannot assign/);
});

test('the logging behaviour logs each command with its index and outcome, and each query', async () => {
  const lines: string[] = [];
  const logger = { info: (message: string, fields?: Record<string, unknown>) => lines.push(`${message} ${JSON.stringify(fields)}`), warn() {}, error() {} };
  const log = new TestLog(newMediator([], { behaviors: [loggingBehavior(logger)] }));
  log.send('kv.put', { key: 'a', value: 1 });
  log.send('kv.cas', { key: 'a', expected: 2, value: 1 });
  await log.mediator.query('kv.get', { key: 'a' });
  assert.deepEqual(lines, [
    'command applied {"type":"kv.put","index":1,"position":0,"outcome":"ok"}',
    'command applied {"type":"kv.cas","index":2,"position":0,"outcome":"failed","code":"CAS_MISMATCH"}',
    'query served {"type":"kv.get","outcome":"ok"}',
  ]);
});
