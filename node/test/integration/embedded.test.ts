// Three nodes embedded in this test's process (`startNode` from the package's main export), with an
// application module passed as a definition: sends from a follower reach the leader, queries at
// each consistency, errors as Results with the HTTP status they would have, idempotent sends, a send
// that survives the leader's close, cluster changes seen by listeners, the async iterator and the
// HTTP long poll (`GET /v1/cluster?watch=1`), and bad settings refused with the setting's name.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command, defineModule, ok, startNode, t, type CatgaNode, type ClusterChange } from '../../src/index.js';
import { ConfigError } from '../../src/runtime/config.js';
import { freePort } from '../../src/local/local-cluster.js';
import { http, until } from './cluster.js';

const SECRET = 'embedded-test-secret-0123456789';

const tally = defineModule({
  name: 'tally',
  commands: {
    'tally.add': command({
      schema: t.object({ by: t.integer({ min: 1, max: 100 }) }),
      handle(ctx, { by }) {
        const total = ((ctx.store.get('total') as number | undefined) ?? 0) + by;
        ctx.store.set('total', total);
        return ok({ total });
      },
    }),
  },
  queries: {},
});

describe('nodes embedded in the application process', () => {
  const root = mkdtempSync(join(tmpdir(), 'catga-embedded-'));
  const nodes: CatgaNode[] = [];
  const closed = new Set<CatgaNode>();

  before(async () => {
    const ids = ['e1', 'e2', 'e3'];
    const peerPorts = await Promise.all(ids.map(() => freePort()));
    const httpPorts = await Promise.all(ids.map(() => freePort()));
    const staticPeers = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${peerPorts[i]}`]));
    nodes.push(...await Promise.all(ids.map((nodeId, i) => startNode({
      modules: [tally],
      settings: {
        nodeId, dataDir: join(root, nodeId), bindHost: '127.0.0.1', httpPort: httpPorts[i]!, peerPort: peerPorts[i]!,
        staticPeers, clusterSecret: SECRET, openAccess: true, tickMs: 20, logLevel: 'warn', requestTimeoutMs: 10_000,
      },
    }))));
    await until('a leader', () => nodes.every((n) => n.cluster().leader !== null) && new Set(nodes.map((n) => n.cluster().leader)).size === 1);
  });

  after(async () => {
    await Promise.all(nodes.filter((n) => !closed.has(n)).map((n) => n.close()));
    rmSync(root, { recursive: true, force: true });
  });

  const leaderOf = (among: CatgaNode[]) => among.find((n) => n.cluster().role === 'leader');

  test('send from a follower applies on the leader; queries see it; refusals are Results with their status', async () => {
    const follower = nodes.find((n) => n.cluster().role !== 'leader')!;
    const sent = await follower.send<{ total: number }>('tally.add', { by: 2 });
    assert.ok(sent.ok, JSON.stringify(sent));
    assert.equal(sent.value.total, 2);
    const read = await nodes[0]!.query('kv.get', { key: 'nothing' }, { consistency: 'linearizable' });
    assert.ok(read.ok && read.index >= sent.index);
    const invalid = await follower.send('tally.add', { by: 0 });
    assert.deepEqual(invalid.ok ? null : [invalid.code, invalid.status], ['INVALID_PAYLOAD', 400]);
    const unknown = await follower.send('tally.nope', {});
    assert.deepEqual(unknown.ok ? null : [unknown.code, unknown.status], ['UNKNOWN_COMMAND', 404]);
    const cas = await follower.send('kv.cas', { key: 'k', expected: 'x', value: 'y' });
    assert.deepEqual(cas.ok ? null : [cas.code, cas.status], ['CAS_MISMATCH', 409]);
  });

  test('an idempotency key applies once and answers the first result; reused with another payload: 422', async () => {
    const first = await nodes[1]!.send<{ total: number }>('tally.add', { by: 5 }, { idempotencyKey: 'once' });
    const again = await nodes[2]!.send<{ total: number }>('tally.add', { by: 5 }, { idempotencyKey: 'once' });
    assert.ok(first.ok && again.ok);
    assert.deepEqual(again, first);
    const reused = await nodes[0]!.send('tally.add', { by: 6 }, { idempotencyKey: 'once' });
    assert.deepEqual(reused.ok ? null : [reused.code, reused.status], ['IDEMPOTENCY_KEY_REUSED', 422]);
  });

  test('cluster changes reach listeners, the iterator and the HTTP long poll; a send goes on across the leader\'s close', async () => {
    const leader = leaderOf(nodes)!;
    const others = nodes.filter((n) => n !== leader);
    const watcher = others[0]!;
    const seen: ClusterChange[] = [];
    const off = watcher.onClusterChange((c) => seen.push(c));
    const iterator = watcher.clusterChanges();
    const nextChange = iterator.next();
    const view = await http(`http://127.0.0.1:${watcher.httpPort}/v1/cluster?watch=1`, 'GET');
    const version = (view.body.value as { version: number }).version;
    assert.equal(typeof version, 'number');
    const poll = http(`http://127.0.0.1:${watcher.httpPort}/v1/cluster?watch=1&since=${version}`, 'GET', undefined, { 'request-timeout': '30000' });
    const unchanged = await http(`http://127.0.0.1:${watcher.httpPort}/v1/cluster?watch=1&since=${version}`, 'GET', undefined, { 'request-timeout': '50' });
    assert.equal((unchanged.body.value as { version: number }).version, version, 'a poll with nothing new answers the same version at its deadline');
    const bad = await http(`http://127.0.0.1:${watcher.httpPort}/v1/cluster?watch=1&since=-5`, 'GET');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.code, 'INVALID_WATCH');

    const sending = others[1]!.send<{ total: number }>('tally.add', { by: 1 }, { idempotencyKey: 'across-close', timeoutMs: 20_000 });
    closed.add(leader);
    await leader.close();
    const sent = await sending;
    assert.ok(sent.ok, JSON.stringify(sent));

    const polled = await poll;
    assert.equal(polled.status, 200, JSON.stringify(polled.body));
    assert.ok((polled.body.value as { version: number }).version > version);
    assert.ok((await nextChange).value !== undefined);
    await until('a new leader seen by the listener', () => seen.some((c) => c.state.leader !== null && c.state.leader !== leader.id));
    off();
    await iterator.return?.();
    const newLeader = await until('a new leader', () => leaderOf(others));
    assert.notEqual(newLeader.id, leader.id);
    const after = await watcher.send<{ total: number }>('tally.add', { by: 1 });
    assert.ok(after.ok, JSON.stringify(after));
    // Without the parameter the route answers as it always has: no version.
    const plain = await http(`http://127.0.0.1:${watcher.httpPort}/v1/cluster`, 'GET');
    assert.equal((plain.body.value as { version?: number }).version, undefined);
  });

  test('bad settings are refused with the setting they concern', async () => {
    await assert.rejects(startNode({ settings: { nodeId: 'x', tickMs: 0, openAccess: true } }), (e: unknown) => e instanceof ConfigError && /CATGA_TICK_MS \(--tick-ms\)/.test(e.message));
    await assert.rejects(startNode({ settings: { nodeID: 'x' } as never }), (e: unknown) => e instanceof ConfigError && /unknown setting "nodeID"/.test(e.message));
  });
});
