import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LoadError, loadHandlerModules, parseHandlerPaths } from '../../../src/catga/index.js';
import { newMediator, only, TestLog } from './helpers.js';

// node/dist/test/unit/catga → repository root
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');
const scratch = mkdtempSync(join(tmpdir(), 'catga-loader-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('CATGA_HANDLERS parsing', () => {
  assert.deepEqual(parseHandlerPaths(undefined), []);
  assert.deepEqual(parseHandlerPaths(' a.mjs, ,b/c.mjs '), ['a.mjs', 'b/c.mjs']);
});

test('the example counter module loads and runs on the mediator', async () => {
  const modules = await loadHandlerModules(['examples/handlers/counter.mjs'], repoRoot);
  assert.equal(modules.length, 1);
  assert.equal(modules[0]?.name, 'counter');
  const log = new TestLog(newMediator(modules));
  assert.deepEqual(only(log.send('counter.add', { name: 'visits', by: 5 })).result, { ok: true, value: { name: 'visits', value: 5, updatedAt: log.now } });
  const added = log.send('counter.add', { name: 'visits' });
  assert.deepEqual(only(added).result, { ok: true, value: { name: 'visits', value: 6, updatedAt: log.now } });
  assert.deepEqual(added.events.map((e) => [e.type, e.data]), [['counter.changed', { name: 'visits', value: 6 }]]);
  assert.deepEqual(await log.mediator.query('counter.get', { name: 'visits' }), { ok: true, value: { name: 'visits', value: 6 } });
  const bad = log.mediator.prepareCommands([{ type: 'counter.add', payload: { name: 'Bad Name', by: 5000 } }], 1);
  assert.ok(!bad.ok);
  assert.deepEqual(bad.issues?.map((i) => i.path), ['payload.name', 'payload.by']);
  assert.equal(only(log.send('counter.reset', { name: 'visits' })).result.ok, true);
  assert.deepEqual(await log.mediator.query('counter.get', { name: 'visits' }), { ok: true, value: { name: 'visits', value: 0 } });
  // Its event handler for the built-in orders domain runs without breaking anything.
  assert.equal(only(log.send('orders.create', { productId: 'p', quantity: 1 })).result.ok, true);
});

test('plain-object modules load; broken ones are refused with a code', async () => {
  const plain = join(scratch, 'plain.mjs');
  writeFileSync(plain, `export default { name: 'plain', queries: { 'plain.ping': { schema: { type: 'object', fields: {} }, handle: () => ({ ok: true, value: 'pong' }) } } };\n`);
  const [module] = await loadHandlerModules([plain]);
  assert.ok(module !== undefined);
  // An index listing several modules loads each of them, bounded like the files.
  const index = join(scratch, 'index.mjs');
  writeFileSync(index, `export default [{ name: 'one' }, { name: 'two' }];\n`);
  assert.deepEqual((await loadHandlerModules([index])).map((m) => m.name), ['one', 'two']);
  const empty = join(scratch, 'empty.mjs');
  writeFileSync(empty, `export default [];\n`);
  await assert.rejects(loadHandlerModules([empty]), (e: unknown) => e instanceof LoadError && e.code === 'HANDLER_MODULE_INVALID' && /empty list/.test(e.message));
  const many = join(scratch, 'many.mjs');
  writeFileSync(many, `export default Array.from({ length: 65 }, (_, i) => ({ name: 'm' + i }));\n`);
  await assert.rejects(loadHandlerModules([many]), (e: unknown) => e instanceof LoadError && e.code === 'TOO_MANY_HANDLER_MODULES');
  assert.deepEqual(await newMediator([module]).query('plain.ping', {}), { ok: true, value: 'pong' });

  const broken = join(scratch, 'broken.mjs');
  writeFileSync(broken, `export default (catga) => catga.defineModule({ name: 'broken', commands: { 'broken.do': { schema: { type: 'strnig' }, handle() {} } } });\n`);
  await assert.rejects(loadHandlerModules([broken]), (e: unknown) => e instanceof LoadError && e.code === 'HANDLER_MODULE_INVALID' && /broken\.do\.payload/.test(e.message));
  await assert.rejects(loadHandlerModules([join(scratch, 'missing.mjs')]), (e: unknown) => e instanceof LoadError && e.code === 'HANDLER_MODULE_NOT_FOUND');
  // A module clashing with a built-in command type is refused when the mediator is built.
  const clash = join(scratch, 'clash.mjs');
  writeFileSync(clash, `export default ({ defineModule, t, ok }) => defineModule({ name: 'clash', commands: { 'kv.put': { schema: t.object({}), handle: () => ok(1) } } });\n`);
  const clashing = await loadHandlerModules([clash]);
  assert.throws(() => newMediator(clashing), /command kv\.put is defined by modules kv and clash/);
});

test('a TypeScript module importing from catga loads as .ts (types stripped); non-erasable syntax is refused with a hint', async () => {
  // Inside the package (node/dist), so `catga` resolves by the package's own name, as it does
  // through node_modules in an application. Node refuses to strip types under node_modules only.
  const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
  const dir = mkdtempSync(join(packageDir, 'dist', 'ts-handlers-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const typed = join(dir, 'greeter.ts');
  writeFileSync(typed, [
    "import { command, defineModule, ok, query, t, type CommandContext } from 'catga';",
    'interface Greeting { readonly text: string; readonly at: number }',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: this line is TypeScript source written to a module file
    'const greet = (ctx: CommandContext, name: string): Greeting => ({ text: `hello ${name}`, at: ctx.index });',
    'export default defineModule({',
    "  name: 'greeter',",
    "  commands: { 'greeter.greet': command({ schema: t.object({ name: t.string() }), handle: (ctx, p) => ok(greet(ctx, p.name)) }) },",
    "  queries: { 'greeter.ping': query({ schema: t.object({}), handle: () => ok('pong' as const) }) },",
    '});',
  ].join('\n'));
  const [module] = await loadHandlerModules([typed]);
  assert.equal(module?.name, 'greeter');
  const log = new TestLog(newMediator([module!]));
  assert.deepEqual(only(log.send('greeter.greet', { name: 'ada' })).result, { ok: true, value: { text: 'hello ada', at: 1 } });
  assert.deepEqual(await log.mediator.query('greeter.ping', {}), { ok: true, value: 'pong' });

  const enumModule = join(dir, 'enum.ts');
  writeFileSync(enumModule, "import { defineModule } from 'catga';\nenum Kind { A }\nexport default defineModule({ name: 'enum' + Kind.A });\n");
  await assert.rejects(loadHandlerModules([enumModule]), (e: unknown) => e instanceof LoadError && e.code === 'HANDLER_MODULE_INVALID' && /erasable syntax only/.test(e.message));
});
