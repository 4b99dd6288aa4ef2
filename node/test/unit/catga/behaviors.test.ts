// Pipeline behaviours declared node-wide (MediatorOptions.behaviors) and per module
// (ModuleDefinition.behaviors): their order around a handler, a module's reaching only its own
// commands and queries, a behaviour answering for the handler, and the checks of a definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, defineModule, DefinitionError, fail, ok, query, t, type Behavior } from '../../../src/catga/index.js';
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
  const bad = [{ command: () => ok(null) }, { name: '' , command: () => ok(null) }, { name: 'x' }, { name: 'x', command: 'no' }, null];
  for (const behavior of bad) {
    assert.throws(() => defineModule({ name: 'm', behaviors: [behavior as unknown as Behavior] }), DefinitionError, JSON.stringify(behavior));
    assert.throws(() => newMediator([], { behaviors: [behavior as unknown as Behavior] }), /node: behaviour/);
  }
  const many = Array.from({ length: MAX_MODULE_BEHAVIORS + 1 }, (_, i) => ({ name: `b${i}`, command: (_c: unknown, next: () => never) => next() }));
  assert.throws(() => defineModule({ name: 'm', behaviors: many as Behavior[] }), /at most 32 behaviours/);
  assert.equal(defineModule({ name: 'm', behaviors: many.slice(1) as Behavior[] }).behaviors?.length, MAX_MODULE_BEHAVIORS);
});
