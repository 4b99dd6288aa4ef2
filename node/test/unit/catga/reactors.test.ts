// Reactors without a cluster: the pure schedule (pending events from a checkpoint, retry back-off,
// dead letters), the replicated progress record (`catga.reactor.done`: forward only, dead letters
// bounded and paged, refused from clients) and the checks of a reactor definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineModule, DefinitionError, type ModuleDefinition } from '../../../src/catga/index.js';
import { makeEvent } from '../../../src/catga/events.js';
import { decide, pendingEvents, retryDelay, MAX_BACKOFF_MS, type PendingEvent } from '../../../src/catga/reactor-schedule.js';
import { MAX_DEAD_LETTERS_PER_REACTOR, REACTOR_DONE_COMMAND, REACTOR_MODULE, readCheckpoint } from '../../../src/catga/reactor-progress.js';
import { newMediator, only, TestLog } from './helpers.js';

const wire = (index: number, type: string, data: unknown = null) => makeEvent(index, type, data as never, 1, JSON.stringify(data)).wire;

test('pendingEvents: positions count every event of an entry; the checkpoint and unwanted types are skipped', () => {
  const wires = [wire(4, 'a'), wire(5, 'b'), wire(5, 'a', { n: 1 }), wire(5, 'a', { n: 2 }), wire(7, 'a')];
  const ids = (p: PendingEvent[]) => p.map((e) => `${e.id.index}.${e.id.position}`);
  assert.deepEqual(ids(pendingEvents({ index: 0, position: 0 }, wires, null)), ['4.0', '5.0', '5.1', '5.2', '7.0']);
  assert.deepEqual(ids(pendingEvents({ index: 5, position: 1 }, wires, new Set(['a']))), ['5.2', '7.0']);
  assert.deepEqual(ids(pendingEvents({ index: 7, position: 0 }, wires, null)), []);
  const [first] = pendingEvents({ index: 5, position: 0 }, wires, new Set(['a']));
  assert.deepEqual(first!.event.data, { n: 1 });
  assert.equal(first!.event.type, 'a');
  assert.throws(() => pendingEvents({ index: 0, position: 0 }, [wire(5, 'a'), wire(4, 'a')], null), /out of log order/);
});

test('decide: run the next event, wait out the back-off after a failure, dead-letter after the last try', () => {
  const next: PendingEvent = pendingEvents({ index: 0, position: 0 }, [wire(9, 'a')], null)[0]!;
  const policy = { maxAttempts: 3, backoffMs: 100 };
  assert.deepEqual(decide({ leading: false, next, failures: null, now: 0, policy }), { kind: 'idle' });
  assert.deepEqual(decide({ leading: true, next: null, failures: null, now: 0, policy }), { kind: 'idle' });
  assert.deepEqual(decide({ leading: true, next, failures: null, now: 0, policy }), { kind: 'run', next, attempt: 1 });
  const failed = { id: next.id, count: 1, lastAt: 1_000, error: 'boom' };
  assert.deepEqual(decide({ leading: true, next, failures: failed, now: 1_050, policy }), { kind: 'wait', until: 1_100 });
  assert.deepEqual(decide({ leading: true, next, failures: failed, now: 1_100, policy }), { kind: 'run', next, attempt: 2 });
  assert.deepEqual(decide({ leading: true, next, failures: { ...failed, count: 2 }, now: 1_150, policy }), { kind: 'wait', until: 1_200 });
  assert.deepEqual(decide({ leading: true, next, failures: { ...failed, count: 3 }, now: 1_000, policy }), { kind: 'deadLetter', next, attempts: 3, error: 'boom' });
  // Failures of an event finished since (by another leader) do not count against the next one.
  assert.deepEqual(decide({ leading: true, next, failures: { ...failed, id: { index: 8, position: 0 }, count: 3 }, now: 0, policy }), { kind: 'run', next, attempt: 1 });
  assert.equal(retryDelay(policy, 1), 100);
  assert.equal(retryDelay(policy, 4), 800);
  assert.equal(retryDelay(policy, 1_000), MAX_BACKOFF_MS);
  assert.throws(() => retryDelay(policy, 0));
});

test('catga.reactor.done: checkpoints only move forward; a dead letter is recorded and queryable', async () => {
  const m = newMediator();
  const log = new TestLog(m);
  const done = (payload: unknown) => {
    const data = m.prepareCommands([{ type: REACTOR_DONE_COMMAND, payload }], log.now, 'node');
    assert.ok(data.ok, JSON.stringify(data));
    return only(log.append(data.value)).result;
  };
  const progress = () => m.registry.states.get(REACTOR_MODULE)!;
  assert.deepEqual(readCheckpoint(progress(), 'r'), { reactor: 'r', index: 0, position: 0, deadLetters: 0 });
  assert.deepEqual(done({ reactor: 'r', index: 5, position: 1 }), { ok: true, value: { advanced: true, checkpoint: '5.1' } });
  assert.deepEqual(done({ reactor: 'r', index: 5, position: 0 }), { ok: true, value: { advanced: false, checkpoint: '5.1' } });
  assert.deepEqual(done({ reactor: 'r', index: 7, position: 0, deadLetter: { type: 'x', error: 'boom', attempts: 5 } }), { ok: true, value: { advanced: true, checkpoint: '7.0' } });
  assert.deepEqual(readCheckpoint(progress(), 'r'), { reactor: 'r', index: 7, position: 0, deadLetters: 1 });
  const letters = await m.query('catga.reactors.deadLetters', { reactor: 'r' });
  assert.deepEqual(letters, { ok: true, value: { deadLetters: [{ reactor: 'r', eventId: '7.0', type: 'x', error: 'boom', attempts: 5, at: log.now }], next: null } });
  assert.deepEqual(await m.query('catga.reactors.progress', {}), { ok: true, value: [{ reactor: 'r', checkpoint: '7.0', deadLetters: 1 }] });
  const bad = await m.query('catga.reactors.deadLetters', { reactor: 'r', after: 'nope' });
  assert.equal(bad.ok ? null : bad.code, 'INVALID_PAYLOAD');
  // From a client it does not exist.
  const refused = m.prepareCommands([{ type: REACTOR_DONE_COMMAND, payload: { reactor: 'r', index: 99, position: 0 } }], log.now);
  assert.equal(refused.ok ? null : refused.code, 'UNKNOWN_COMMAND');
  const invalid = m.prepareCommands([{ type: REACTOR_DONE_COMMAND, payload: { reactor: 'r', index: 0, position: 0 } }], log.now, 'node');
  assert.equal(invalid.ok ? null : invalid.code, 'INVALID_PAYLOAD');
});

test(`dead letters are bounded: beyond ${MAX_DEAD_LETTERS_PER_REACTOR} per reactor the oldest goes; pages follow next`, async () => {
  const m = newMediator();
  const log = new TestLog(m);
  const total = MAX_DEAD_LETTERS_PER_REACTOR + 3;
  // One entry per 1,000 dead letters, as the runner never would, to keep the test short.
  for (let start = 1; start <= total; start += 1_000) {
    const commands = [];
    for (let i = start; i < Math.min(total + 1, start + 1_000); i++) commands.push({ type: REACTOR_DONE_COMMAND, payload: { reactor: 'r', index: i, position: 0, deadLetter: { type: 'x', error: `e${i}`, attempts: 1 } } });
    const data = m.prepareCommands(commands, log.now, 'node');
    assert.ok(data.ok);
    log.append(data.value);
  }
  assert.equal(readCheckpoint(m.registry.states.get(REACTOR_MODULE)!, 'r').deadLetters, MAX_DEAD_LETTERS_PER_REACTOR);
  const first = await m.query('catga.reactors.deadLetters', { reactor: 'r', limit: 2 });
  assert.ok(first.ok);
  const page = first.value as { deadLetters: { eventId: string }[]; next: string };
  assert.deepEqual(page.deadLetters.map((l) => l.eventId), ['4.0', '5.0']);
  const second = await m.query('catga.reactors.deadLetters', { reactor: 'r', after: page.next, limit: 1 });
  assert.deepEqual((second as { value: { deadLetters: { eventId: string }[] } }).value.deadLetters.map((l) => l.eventId), ['6.0']);
});

test('reactor definitions are checked at load time; names are unique across modules', () => {
  const module = (reactors: unknown): ModuleDefinition => ({ name: 'm', reactors } as unknown as ModuleDefinition);
  const handle = () => {};
  assert.doesNotThrow(() => defineModule(module({ r: { events: ['a.b', '*'], handle, maxAttempts: 100, timeoutMs: 1, backoffMs: 60_000 } })));
  for (const [reactors, message] of [
    [{ r: { events: ['a'] } }, /no handle function/],
    [{ r: { events: [], handle } }, /non-empty list/],
    [{ r: { events: ['bad type!'], handle } }, /non-empty list/],
    [{ 'bad name!': { events: ['a'], handle } }, /does not match/],
    [{ r: { events: ['a'], handle, maxAttempts: 0 } }, /maxAttempts must be an integer from 1 to 100/],
    [{ r: { events: ['a'], handle, timeoutMs: 600_001 } }, /timeoutMs/],
    [{ r: { events: ['a'], handle, backoffMs: 1.5 } }, /backoffMs/],
    [[1], /reactors must be an object|non-empty list|does not match/],
  ] as const) {
    assert.throws(() => defineModule(module(reactors)), (e: unknown) => e instanceof DefinitionError && (message as RegExp).test(e.message), JSON.stringify(reactors));
  }
  const a = defineModule({ name: 'a', reactors: { same: { events: ['x'], handle } } });
  const b = defineModule({ name: 'b', reactors: { same: { events: ['x'], handle } } });
  assert.throws(() => newMediator([a, b]), /reactor same is defined by modules a and b/);
  assert.throws(() => newMediator([defineModule({ name: REACTOR_MODULE })]), /module catga-reactors is loaded twice/);
});
