// A rolling upgrade of a real 3-node cluster of `catga node` processes from version 1 to version 2
// of a module (fixture: fixtures/ledger.mjs, whose v2 doubles what `ledger.add` adds) under write
// load: nodes restart one by one with the v2 code. Version 2 must not take effect while any node
// still runs v1 (every command committed before the last node came back answers version 1), must
// take effect once all three run it, and every node must end with the same state hash at the same
// applied index. Then a node restarted with the v1 code refuses to start on that state, and a new
// node with the v1 code that joins (and receives the upgraded state as a snapshot) stops too.
// Embedded: startNode with code older than its data directory's active version rejects with
// ModuleVersionError and releases the directory, so the application can start the newer code.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command as defineCommand, defineModule, ModuleVersionError, ok, query, startNode, t } from '../../src/index.js';
import { freePort } from '../../src/local/local-cluster.js';
import { ADMIN_TOKEN, TestCluster, command, http, sleep, until } from './cluster.js';

/** The fixture is plain .mjs, read from the source tree (tsc does not copy it to dist). */
const LEDGER = fileURLToPath(new URL('../../../test/integration/fixtures/ledger.mjs', import.meta.url));
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const WRITERS = 4;

interface StateBody {
  id: string;
  appliedIndex: number;
  hash: string;
  modules: Record<string, { running: number; active: number }>;
}

interface Written { index: number; version: number }

describe('rolling upgrade of a module from version 1 to 2', () => {
  let c: TestCluster;

  before(async () => {
    // Frequent snapshots with a short log behind them: the joining node gets the state as a snapshot.
    c = await TestCluster.start({ nodes: 3, spare: 1, env: { CATGA_HANDLERS: LEDGER, LEDGER_VERSION: '1', CATGA_SNAPSHOT_ENTRIES: '200', CATGA_SNAPSHOT_RETAIN: '16' } });
    await c.leader();
  });
  after(async () => { await c?.close(); });

  async function state(i: number): Promise<StateBody> {
    const r = await http(`${c.url(i)}/v1/cluster/state`, 'GET', undefined, ADMIN);
    if (r.status !== 200) throw new Error(`GET /v1/cluster/state on n${i + 1}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.value as StateBody;
  }

  test('v2 starts only once every node runs it, and no node diverges', { timeout: 180_000 }, async () => {
    assert.equal((await http(`${c.url(0)}/v1/cluster/state`, 'GET')).status, 401, 'the state digest is an admin route');
    const written: Written[] = [];
    const marks: Written[] = [];
    let marksRefused = 0;
    let failures = 0;
    let stop = false;
    const writer = async (w: number): Promise<void> => {
      for (let n = w; !stop; n++) {
        const i = n % 3;
        if (!c.running(i)) continue;
        try {
          // One writer in four sends the command version 2 adds: 404 until it is active.
          const mark = w === 0 && n % 2 === 0;
          const r = await command(c.url(i), mark ? 'ledger.mark' : 'ledger.add', mark ? {} : { by: 1 });
          if (r.status === 200) (mark ? marks : written).push({ index: r.body.index as number, version: (r.body.value as { version: number }).version });
          else if (mark && r.status === 404) marksRefused++;
          else failures++;
        } catch {
          failures++;
          await sleep(20);
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    try {
      await until('writes under way', () => written.length >= 50);
      let lastV1Commit = 0;
      for (let i = 0; i < 3; i++) {
        if (i === 2) {
          // Two of three run v2: the gate must hold (it looks every second).
          await sleep(3_000);
          for (const j of [0, 1]) assert.deepEqual((await state(j)).modules['ledger'], { running: 2, active: 1 });
          lastV1Commit = Math.max(...await Promise.all([0, 1].map(async (j) => (await c.cluster(j)).commitIndex)));
        }
        assert.equal(await c.kill(i, 'SIGTERM'), 0, `n${i + 1} stops cleanly`);
        if (i === 2) lastV1Commit = Math.max(lastV1Commit, ...await Promise.all([0, 1].map(async (j) => (await c.cluster(j)).commitIndex)));
        c.startNode(i, { LEDGER_VERSION: '2' });
        await until(`n${i + 1} back with v2 and caught up`, async () => {
          const [mine, other] = await Promise.all([state(i), c.cluster((i + 1) % 3)]);
          return mine.modules['ledger']?.running === 2 && mine.appliedIndex >= other.commitIndex - 50;
        }, 30_000, 100).catch((err: unknown) => { throw new Error(`${String(err)}\n${c.dumpLogs()}`); });
      }
      // Every command committed before the last v1 node went away ran version 1.
      assert.ok(lastV1Commit > 0);
      await until('v2 active on every node', async () => (await Promise.all([0, 1, 2].map(state))).every((s) => s.modules['ledger']?.active === 2), 20_000, 100);
      const before = written.length;
      await until('writes under v2', () => written.length >= before + 50 && written.some((w) => w.version === 2), 30_000);
      const early = written.filter((w) => w.index <= lastV1Commit);
      assert.ok(early.length > 0);
      assert.deepEqual(early.filter((w) => w.version !== 1), [], `no command at or before index ${lastV1Commit} ran v2`);
      const firstV2 = Math.min(...written.filter((w) => w.version === 2).map((w) => w.index));
      await until('ledger.mark applied', () => marks.length > 0, 20_000);
      assert.ok(marksRefused > 0, 'ledger.mark was refused while version 1 was active');
      assert.deepEqual(marks.filter((m) => m.index <= lastV1Commit || m.version !== 2), [], 'ledger.mark applies only under v2');
      assert.deepEqual(written.filter((w) => w.index > firstV2 && w.version !== 2), [], 'once active, v2 stays');
      console.log(`upgrade: ${written.length} writes acknowledged (${failures} refused or lost during restarts), last v1 commit ${lastV1Commit}, first v2 write ${firstV2}; ledger.mark refused ${marksRefused} times before v2, applied ${marks.length} times after`);
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    // Load stopped: every node reaches the same applied index and holds the same state there.
    const states = await until('one applied index on every node', async () => {
      const s = await Promise.all([0, 1, 2].map(state));
      return s.every((x) => x.appliedIndex === s[0]!.appliedIndex) ? s : null;
    }, 20_000, 100);
    assert.equal(new Set(states.map((s) => s.hash)).size, 1, `hashes: ${JSON.stringify(states)}`);
    console.log(`upgrade: every node at applied index ${states[0]!.appliedIndex} with hash ${states[0]!.hash.slice(0, 16)}…`);
  });

  test('a node restarted with the old code refuses to run on the upgraded state', { timeout: 60_000 }, async () => {
    assert.equal(await c.kill(1, 'SIGTERM'), 0);
    c.startNode(1, { LEDGER_VERSION: '1' });
    const code = await until('n2 exits', async () => (c.running(1) ? null : { code: await c.kill(1) }), 20_000, 100);
    assert.notEqual(code.code, 0);
    assert.match(c.log(1), /module ledger is active at version 2 in this cluster but this node runs version 1/);
  });

  test('a new node with the old code that receives the upgraded state as a snapshot stops', { timeout: 60_000 }, async () => {
    // More entries than CATGA_SNAPSHOT_ENTRIES: a snapshot after the activation exists.
    const leader = await c.leader();
    for (let n = 0; n < 250; n++) assert.equal((await command(c.url(leader), 'ledger.add', { by: 1 })).status, 200);
    c.startNode(3, { LEDGER_VERSION: '1' });
    const code = await until('n4 exits', async () => (c.running(3) ? null : { code: await c.kill(3) }), 30_000, 100);
    assert.notEqual(code.code, 0);
    assert.match(c.log(3), /"event":"snapshot_transfer_abandoned".*MODULE_VERSION_BEHIND|"event":"snapshot_transfer_abandoned".*module ledger is active/);
    assert.match(c.log(3), /module_version_behind/);
    assert.match(c.log(3), /module ledger is active at version 2 in this cluster but this node runs version 1/);
  });
});

describe('an embedded node and module versions', () => {
  const root = mkdtempSync(join(tmpdir(), 'catga-versions-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  // A bump raises an event; a reactor records the version it saw through a command.
  const counter = (version: number) => defineModule({
    name: 'counter',
    version,
    commands: {
      'counter.bump': defineCommand({ schema: t.object({}), handle: (ctx) => { ctx.emit('counter.bumped', null); return ok(ctx.moduleVersion); } }),
      'counter.seen': defineCommand({ schema: t.object({ version: t.integer() }), handle: (ctx, { version: seen }) => { ctx.store.set('seen', seen); return ok(null); } }),
    },
    queries: { 'counter.seen': query({ schema: t.object({}), handle: (ctx) => ok(ctx.store.get('seen') ?? 0) }) },
    reactors: { 'counter-witness': { events: ['counter.bumped'], handle: async (_event, ctx) => { await ctx.send('counter.seen', { version: ctx.moduleVersion }); } } },
  });

  test('older code than the active version is refused at start, and the data directory is released', { timeout: 60_000 }, async () => {
    const [peerPort, httpPort] = [await freePort(), await freePort()];
    const settings = {
      nodeId: 'v1', dataDir: join(root, 'v1'), bindHost: '127.0.0.1', httpPort, peerPort,
      staticPeers: { v1: `127.0.0.1:${peerPort}` }, clusterSecret: 'versions-test-secret-0123', openAccess: true, tickMs: 20, logLevel: 'warn' as const,
    };
    const first = await startNode({ settings, modules: [counter(3)] });
    // A lone voter runs v3: the gate activates it on its own.
    await until('v3 active', async () => { const r = await first.send('counter.bump', {}); return r.ok && r.value === 3; }, 20_000, 100);
    await until('the reactor sees v3', async () => { const r = await first.query('counter.seen', {}); return r.ok && r.value === 3; }, 20_000, 100);
    await first.close();
    await assert.rejects(startNode({ settings, modules: [counter(2)] }), (e) => e instanceof ModuleVersionError && e.active === 3 && e.running === 2);
    const again = await startNode({ settings, modules: [counter(4)] });
    try {
      const r = await again.send('counter.bump', {});
      assert.ok(r.ok && (r.value === 3 || r.value === 4), JSON.stringify(r));
    } finally {
      await again.close();
    }
  });
});
