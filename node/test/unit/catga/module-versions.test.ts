// The module version gate without a cluster: what the leader proposes from voters' reports, the
// replicated activation (only raises, node-only, seen by handlers as ctx.moduleVersion), a node
// whose code is older than the active version refusing to apply or to start, and the state digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command, defineModule, DefinitionError, MAX_MODULE_VERSION, ModuleVersionError, ok, query, t, type ModuleDefinition } from '../../../src/catga/index.js';
import { ACTIVATE_COMMAND, MAX_ACTIVATIONS_PER_ENTRY, versionsToActivate } from '../../../src/catga/module-versions.js';
import { MemoryStateEngine } from '../../../src/state/memory-engine.js';
import { VersionGate, type VersionGateHost } from '../../../src/runtime/version-gate.js';
import { VERSIONS_RPC } from '../../../src/runtime/peer-rpc.js';
import { encodeCommandEntry } from '../../../src/catga/entry.js';
import { newMediator, only, TestLog } from './helpers.js';

/** A module whose `ledger.add` adds `by` at version 1 and `2 × by` from version 2, recording the version it ran. */
function ledger(version: number): ModuleDefinition {
  return defineModule({
    name: 'ledger',
    version,
    commands: {
      'ledger.add': command({
        schema: t.object({ by: t.integer() }),
        handle(ctx, { by }) {
          const total = ((ctx.store.get('total') as number | undefined) ?? 0) + (ctx.moduleVersion >= 2 ? 2 * by : by);
          ctx.store.set('total', total);
          return ok({ total, version: ctx.moduleVersion });
        },
      }),
    },
    queries: { 'ledger.version': query({ schema: t.object({}), handle: (ctx) => ok(ctx.moduleVersion) }) },
  });
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

function activate(log: TestLog, versions: { module: string; version: number }[]) {
  const data = log.mediator.prepareCommands([{ type: ACTIVATE_COMMAND, payload: { versions } }], log.now, 'node');
  assert.ok(data.ok, JSON.stringify(data));
  return log.append(data.value);
}

test('versionsToActivate: the lowest version every voter runs, only when above the active one', () => {
  const active = (m: string) => ({ a: 1, b: 3 } as Record<string, number>)[m] ?? 1;
  assert.deepEqual(versionsToActivate(active, [{ a: 2, b: 3 }, { a: 3, b: 4 }, { a: 2, b: 5 }]), { a: 2 });
  assert.deepEqual(versionsToActivate(active, [{ a: 2, b: 5 }, { a: 1, b: 5 }]), { b: 5 });
  // A voter without the module holds it back; no reports: nothing.
  assert.deepEqual(versionsToActivate(active, [{ a: 2, c: 2 }, { a: 2 }]), { a: 2 });
  assert.deepEqual(versionsToActivate(active, []), {});
});

test('a module version is an integer from 1 to MAX_MODULE_VERSION', () => {
  for (const version of [0, -1, 1.5, MAX_MODULE_VERSION + 1, Number.NaN]) {
    assert.throws(() => defineModule({ name: 'm', version }), (e) => e instanceof DefinitionError && /version must be an integer from 1 to/.test(e.message), String(version));
  }
  assert.equal(defineModule({ name: 'm', version: MAX_MODULE_VERSION }).version, MAX_MODULE_VERSION);
  // A definition the application builds without defineModule (an embedded node) is checked too.
  assert.throws(() => newMediator([{ name: 'raw', version: 0 }]), /module raw: version must be an integer from 1 to/);
});

test('handlers see the active version, not the code version; activation only raises and only the node sends it', async () => {
  const infos: unknown[] = [];
  const m = newMediator([ledger(2)], { logger: { ...silent, info: (message, fields) => infos.push([message, fields]) } });
  const log = new TestLog(m);
  assert.deepEqual(only(log.send('ledger.add', { by: 5 })).result, { ok: true, value: { total: 5, version: 1 } });
  assert.deepEqual(await m.query('ledger.version', {}), { ok: true, value: 1 });
  assert.equal(m.prepareCommands([{ type: ACTIVATE_COMMAND, payload: { versions: [{ module: 'ledger', version: 2 }] } }], log.now).ok, false);
  assert.deepEqual(only(activate(log, [{ module: 'ledger', version: 2 }])).result, { ok: true, value: { raised: [{ module: 'ledger', version: 2 }] } });
  assert.deepEqual(only(log.send('ledger.add', { by: 5 })).result, { ok: true, value: { total: 15, version: 2 } });
  assert.deepEqual(await m.query('ledger.version', {}), { ok: true, value: 2 });
  assert.deepEqual(only(activate(log, [{ module: 'ledger', version: 1 }])).result, { ok: true, value: { raised: [] } });
  assert.deepEqual(infos, [['module versions activated', { index: 2, raised: [{ module: 'ledger', version: 2 }] }]]);
  assert.equal(m.activeVersion('ledger'), 2);
  assert.deepEqual(await m.query('catga.modules.versions', {}), { ok: true, value: { ledger: { running: 2, active: 2 }, kv: { running: 1, active: 1 }, orders: { running: 1, active: 1 } } });
  const tooMany = Array.from({ length: MAX_ACTIVATIONS_PER_ENTRY + 1 }, () => ({ module: 'ledger', version: 2 }));
  assert.equal(m.prepareCommands([{ type: ACTIVATE_COMMAND, payload: { versions: tooMany } }], log.now, 'node').ok, false);
});

test('a node running older code than an activation stops before applying it, and refuses to start on such state', () => {
  const engine = new MemoryStateEngine();
  const upgraded = newMediator([ledger(2)], { engine });
  const log = new TestLog(upgraded);
  log.send('ledger.add', { by: 1 });
  const activation = upgraded.prepareCommands([{ type: ACTIVATE_COMMAND, payload: { versions: [{ module: 'ledger', version: 2 }] } }], log.now, 'node');
  assert.ok(activation.ok);

  const old = newMediator([ledger(1)]);
  const oldLog = new TestLog(old);
  oldLog.send('ledger.add', { by: 1 });
  assert.throws(() => oldLog.append(activation.value), (e) => e instanceof ModuleVersionError && e.code === 'MODULE_VERSION_BEHIND' &&
    /module ledger is active at version 2 in this cluster but this node runs version 1/.test(e.message));
  assert.equal(old.appliedIndex, 1, 'nothing of the refused batch is applied');

  log.append(activation.value);
  assert.throws(() => newMediator([ledger(1)], { engine }), ModuleVersionError);
  assert.equal(newMediator([ledger(3)], { engine }).activeVersion('ledger'), 2);
});

test('the state digest is equal on nodes that applied the same entries, and moves with the state', async () => {
  const a = newMediator([ledger(2)]);
  const b = newMediator([ledger(1)]);
  const la = new TestLog(a);
  const lb = new TestLog(b);
  for (const by of [1, 2, 3]) {
    la.send('ledger.add', { by }, `k${by}`);
    lb.append(la.entries.at(-1)!.data);
  }
  assert.deepEqual(await a.digest(), await b.digest());
  assert.equal((await a.digest()).appliedIndex, 3);
  la.send('ledger.add', { by: 1 });
  assert.notEqual((await a.digest()).hash, (await b.digest()).hash);
});

test('the state digest covers rows beyond its first page', async () => {
  const [a, b] = [newMediator(), newMediator()];
  for (const m of [a, b]) {
    const log = new TestLog(m);
    for (let batch = 0; batch < 5; batch++) {
      log.commands(Array.from({ length: 1_000 }, (_, i) => ({ type: 'kv.put', payload: { key: `k${String(batch * 1_000 + i).padStart(5, '0')}`, value: 1 } })));
    }
  }
  assert.deepEqual(await a.digest(), await b.digest());
  // One digest at a time: a second caller meanwhile shares the first; the next call computes anew.
  const first = a.digest();
  assert.equal(a.digest(), first);
  await first;
  assert.notEqual(a.digest(), first);
  new TestLog(a).send('kv.put', { key: 'k04500', value: 2 });
  new TestLog(b).send('kv.put', { key: 'k04500', value: 3 });
  assert.notEqual((await a.digest()).hash, (await b.digest()).hash);
});

test('the version gate proposes what every voter runs, and nothing while a voter is silent or unreadable', async () => {
  const proposed: unknown[] = [];
  const report = (versions: object): string => JSON.stringify({ ok: true, value: versions });
  const answers = new Map<string, string | Error>([['n2', report({ ledger: 2, kv: 1 })], ['n3', report({ ledger: 3, kv: 1 })]]);
  let leader = true;
  const host: VersionGateHost = {
    self: 'n1',
    running: { ledger: 2, kv: 1 },
    isLeader: () => leader,
    voters: () => ['n1', 'n2', 'n3'],
    active: () => 1,
    ask: async (peer) => {
      const a = answers.get(peer);
      if (a instanceof Error) throw a;
      return VERSIONS_RPC.decodeReply(new TextEncoder().encode(a));
    },
    propose: async (type, payload) => { proposed.push({ type, payload }); },
  };
  const gate = new VersionGate(host, silent);
  assert.deepEqual(await gate.round(), { ledger: 2 });
  assert.deepEqual(proposed, [{ type: ACTIVATE_COMMAND, payload: { versions: [{ module: 'ledger', version: 2 }] } }]);
  answers.set('n3', new Error('unreachable'));
  assert.deepEqual(await gate.round(), {});
  answers.set('n3', 'not json');
  assert.deepEqual(await gate.round(), {});
  answers.set('n3', report({ Ledger: 3 }));
  assert.deepEqual(await gate.round(), {});
  answers.set('n3', report({ ledger: 2, kv: 1 }));
  leader = false;
  assert.deepEqual(await gate.round(), {});
  assert.equal(proposed.length, 1);
});

test('a command a version introduces is unknown on every node until that version is active', async () => {
  const withReset = (version: number) => defineModule({
    name: 'ledger',
    version,
    commands: {
      'ledger.add': command({ schema: t.object({ by: t.integer() }), handle: () => ok(null) }),
      ...(version >= 2 ? { 'ledger.reset': command({ schema: t.object({}), since: 2, handle: (ctx) => { ctx.store.set('total', 0); return ok('reset'); } }) } : {}),
    },
  });
  const upgraded = newMediator([withReset(2)]);
  const old = newMediator([withReset(1)]);
  const refused = upgraded.prepareCommands([{ type: 'ledger.reset', payload: {} }], 1);
  assert.deepEqual(refused, { ok: false, code: 'UNKNOWN_COMMAND', message: 'ledger.reset comes with version 2 of module ledger, not active yet (active: 1)' });
  // An entry holding it (proposed by a node that already saw v2 active) applies alike on both.
  const entry = encodeCommandEntry({ commands: [{ type: 'ledger.reset', payload: {}, idempotencyKey: undefined }], ts: 1, quotaBytes: null });
  const [a, b] = [new TestLog(upgraded), new TestLog(old)].map((log) => only(log.append(entry)).result);
  assert.deepEqual(a, b);
  assert.equal((a as { code: string }).code, 'UNKNOWN_COMMAND');
  assert.deepEqual(await upgraded.digest(), await old.digest());
  activate(new TestLog(upgraded), [{ module: 'ledger', version: 2 }]);
  assert.ok(upgraded.prepareCommands([{ type: 'ledger.reset', payload: {} }], 1).ok);
  assert.throws(() => defineModule({ name: 'm', commands: { 'm.x': command({ schema: t.object({}), since: 2, handle: () => ok(null) }) } }), /since must be a module version from 1 to the module's version \(1\)/);
});
