// Pipeline behaviours declared node-wide (MediatorOptions.behaviors) and per module
// (ModuleDefinition.behaviors): their order around a handler, a module's reaching only its own
// commands and queries, a behaviour answering for the handler, edge checks on the caller
// (authorization by token scope), and the checks of a definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APPLICATION_CALLER, command, defineModule, DefinitionError, fail, httpStatusFor, ok, query, requireScope, t, type Behavior, type Caller, type EdgeCall } from '../../../src/catga/index.js';
import { MAX_MODULE_BEHAVIORS } from '../../../src/catga/api.js';
import { newMediator, only, TestLog } from './helpers.js';

function tracing(name: string, trace: string[]): Behavior {
  return {
    name,
    command(call, next) {
      trace.push(`${name}>${call.type}`);
      const result = next();
      trace.push(`${name}<${call.type}`);
      return result;
    },
    async query(call, next) {
      trace.push(`${name}?${call.type}`);
      return next();
    },
  };
}

/** Refuses `notes.add` of a note longer than `max` characters, without reaching the handler. */
const shortNotes = (max: number): Behavior => ({
  name: 'short-notes',
  command: (call, next) => ((call.payload as { text: string }).text.length > max ? fail('NOTE_TOO_LONG', `a note has at most ${max} characters`) : next()),
});

test('node-wide behaviours wrap module behaviours, which wrap only their own module', async () => {
  const trace: string[] = [];
  const notes = defineModule({
    name: 'notes',
    behaviors: [tracing('m1', trace), tracing('m2', trace), shortNotes(5)],
    commands: {
      'notes.add': command({ schema: t.object({ text: t.string() }), handle: (ctx, { text }) => { trace.push('handler'); ctx.store.set(String(ctx.index), text); return ok(ctx.store.size); } }),
    },
    queries: { 'notes.count': query({ schema: t.object({}), handle: (ctx) => ok(ctx.store.size) }) },
  });
  const m = newMediator([notes], { behaviors: [tracing('node', trace)] });
  const log = new TestLog(m);
  assert.deepEqual(only(log.send('notes.add', { text: 'hi' })).result, { ok: true, value: 1 });
  assert.deepEqual(trace.splice(0), ['node>notes.add', 'm1>notes.add', 'm2>notes.add', 'handler', 'm2<notes.add', 'm1<notes.add', 'node<notes.add']);
  assert.deepEqual(only(log.send('notes.add', { text: 'far too long' })).result, { ok: false, code: 'NOTE_TOO_LONG', message: 'a note has at most 5 characters' });
  assert.ok(!trace.includes('handler'), 'the behaviour answered for the handler');
  trace.length = 0;
  assert.deepEqual(await m.query('notes.count', {}), { ok: true, value: 1 });
  assert.deepEqual(trace.splice(0), ['node?notes.count', 'm1?notes.count', 'm2?notes.count']);
  // Another module's command sees the node-wide behaviour only.
  only(log.send('kv.put', { key: 'a', value: 1 }));
  assert.deepEqual(trace.splice(0), ['node>kv.put', 'node<kv.put']);
});

test('a behaviour needs a name and a command and/or query function; a module has at most MAX_MODULE_BEHAVIORS', () => {
  const bad = [{ command: () => ok(null) }, { name: '', command: () => ok(null) }, { name: 'x' }, { name: 'x', command: 'no' }, { name: 'x', edge: 1 }, null];
  for (const behavior of bad) {
    assert.throws(() => defineModule({ name: 'm', behaviors: [behavior as unknown as Behavior] }), DefinitionError, JSON.stringify(behavior));
    assert.throws(() => newMediator([], { behaviors: [behavior as unknown as Behavior] }), /node: behaviour/);
  }
  const many = Array.from({ length: MAX_MODULE_BEHAVIORS + 1 }, (_, i) => ({ name: `b${i}`, command: (_c: unknown, next: () => never) => next() }));
  assert.throws(() => defineModule({ name: 'm', behaviors: many as Behavior[] }), /at most 32 behaviours/);
  assert.equal(defineModule({ name: 'm', behaviors: many.slice(1) as Behavior[] }).behaviors?.length, MAX_MODULE_BEHAVIORS);
});

test('edge checks see the caller on the receiving node: requireScope answers 403 FORBIDDEN, the application passes', async () => {
  const edges: EdgeCall[] = [];
  const spy: Behavior = { name: 'spy', edge: (call) => { edges.push(call); return null; } };
  const maintenance = defineModule({
    name: 'maint',
    behaviors: [requireScope('admin'), spy],
    commands: { 'maint.purge': command({ schema: t.object({ before: t.integer() }), handle: () => ok('purged') }) },
    queries: { 'maint.status': query({ schema: t.object({}), handle: () => ok('idle') }) },
  });
  const m = newMediator([maintenance]);
  const client: Caller = { allows: (scope) => scope !== 'admin' };
  const admin: Caller = { allows: () => true };
  const refused = m.prepareCommands([{ type: 'maint.purge', payload: { before: 5 } }], 1, 'client', client);
  assert.deepEqual(refused, { ok: false, code: 'FORBIDDEN', message: 'maint.purge needs a token with the admin scope' });
  assert.equal(httpStatusFor('FORBIDDEN'), 403);
  assert.deepEqual(edges, [], 'a refusal stops the later checks');
  assert.ok(m.prepareCommands([{ type: 'maint.purge', payload: { before: 5 } }], 1, 'client', admin).ok);
  assert.ok(m.prepareCommands([{ type: 'maint.purge', payload: { before: 5 } }], 1).ok, 'the application itself');
  assert.deepEqual((edges as EdgeCall[]).map((e) => [e.kind, e.type, e.payload, e.caller === APPLICATION_CALLER]), [['command', 'maint.purge', { before: 5 }, false], ['command', 'maint.purge', { before: 5 }, true]]);
  // Schema validation comes first: an invalid payload never reaches an edge check.
  assert.equal((m.prepareCommands([{ type: 'maint.purge', payload: {} }], 1, 'client', client) as { code: string }).code, 'INVALID_PAYLOAD');
  assert.equal(m.checkQuery('maint.status', {}, client)?.code, 'FORBIDDEN');
  assert.equal(m.checkQuery('maint.status', {}, admin), null);
  // Running the query does not run the edge checks again (they ran where it arrived).
  edges.length = 0;
  assert.deepEqual(await m.query('maint.status', {}), { ok: true, value: 'idle' });
  assert.deepEqual(edges, []);
  // Other modules are not affected.
  assert.ok(m.prepareCommands([{ type: 'kv.put', payload: { key: 'a', value: 1 } }], 1, 'client', client).ok);
});

test('an edge check that throws or answers something else than null or a Failure refuses with HANDLER_ERROR', () => {
  const throwing = defineModule({ name: 'a', behaviors: [{ name: 'boom', edge: () => { throw new Error('no'); } }], commands: { 'a.x': command({ schema: t.object({}), handle: () => ok(1) }) } });
  const garbage = defineModule({ name: 'b', behaviors: [{ name: 'odd', edge: () => ok(1) as never }], commands: { 'b.x': command({ schema: t.object({}), handle: () => ok(1) }) } });
  const m = newMediator([throwing, garbage]);
  assert.deepEqual(m.prepareCommands([{ type: 'a.x', payload: {} }], 1), { ok: false, code: 'HANDLER_ERROR', message: 'handler threw: no' });
  assert.deepEqual(m.prepareCommands([{ type: 'b.x', payload: {} }], 1), { ok: false, code: 'HANDLER_ERROR', message: 'behaviour odd: edge returned neither null nor a Failure' });
});
