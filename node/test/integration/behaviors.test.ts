// Pipeline behaviours in a running node: an embedded node started with a node-wide behaviour and a
// module declaring its own. Both run for sends from the application and for HTTP requests; a
// module's behaviour refusing a command answers like the handler would (409 with its code).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command, defineModule, fail, ok, query, startNode, t, type Behavior, type CatgaNode } from '../../src/catga/index.js';
import { freePort } from '../../src/cli/local-cluster.js';
import { command as post, http, until } from './cluster.js';

const seen: string[] = [];

/** Node-wide: records every command and query it wraps. */
const audit: Behavior = {
  name: 'audit',
  command(call, next) { seen.push(`command ${call.type}`); return next(); },
  async query(call, next) { seen.push(`query ${call.type}`); return next(); },
};

const notes = defineModule({
  name: 'notes',
  behaviors: [{
    name: 'no-shouting',
    command: (call, next) => ((call.payload as { text: string }).text === (call.payload as { text: string }).text.toUpperCase() ? fail('SHOUTING', 'notes are not all capitals') : next()),
  }],
  commands: {
    'notes.add': command({ schema: t.object({ text: t.string({ minLength: 1, maxLength: 100 }) }), handle: (ctx, { text }) => { ctx.store.set(String(ctx.index), text); return ok(ctx.store.size); } }),
  },
  queries: { 'notes.count': query({ schema: t.object({}), handle: (ctx) => ok(ctx.store.size) }) },
});

describe('behaviours in an embedded node', () => {
  const root = mkdtempSync(join(tmpdir(), 'catga-behaviors-'));
  let node: CatgaNode;
  let url: string;

  before(async () => {
    const [peerPort, httpPort] = [await freePort(), await freePort()];
    node = await startNode({
      modules: [notes],
      behaviors: [audit],
      settings: {
        nodeId: 'b1', dataDir: join(root, 'b1'), bindHost: '127.0.0.1', httpPort, peerPort,
        staticPeers: { b1: `127.0.0.1:${peerPort}` }, clusterSecret: 'behaviors-test-secret-0123', openAccess: true, tickMs: 20, logLevel: 'warn',
      },
    });
    url = `http://127.0.0.1:${node.httpPort}`;
    await until('leader', () => node.cluster().role === 'leader');
  });

  after(async () => {
    await node?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('node-wide and module behaviours run for sends and HTTP requests', async () => {
    const first = await node.send('notes.add', { text: 'hello' });
    assert.ok(first.ok && first.value === 1, JSON.stringify(first));
    const refused = await node.send('notes.add', { text: 'HELLO' });
    assert.deepEqual(refused, { ok: false, code: 'SHOUTING', message: 'notes are not all capitals', status: 409 });
    const viaHttp = await post(url, 'notes.add', { text: 'LOUD' });
    assert.equal(viaHttp.status, 409);
    assert.equal(viaHttp.body.error?.code, 'SHOUTING');
    assert.equal((await post(url, 'notes.add', { text: 'quiet' })).status, 200);
    const count = await http(`${url}/v1/queries/notes.count`, 'POST', {});
    assert.equal(count.body.value, 2);
    assert.deepEqual(seen.filter((s) => s.includes('notes.')), [
      'command notes.add', 'command notes.add', 'command notes.add', 'command notes.add', 'query notes.count',
    ]);
  });
});
