// Pipeline behaviours in a running node: an embedded node started with a node-wide behaviour and
// modules declaring their own. Both run for sends from the application and for HTTP requests; a
// module's behaviour refusing a command answers like the handler would (409 with its code); a
// module that requires the admin scope answers 403 FORBIDDEN to a client token over HTTP and
// serves the admin token and the application itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { command, defineModule, fail, ok, query, requireScope, startNode, t, type Behavior, type CatgaNode } from '../../src/index.js';
import { freePort } from '../../src/local/local-cluster.js';
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

const maintenance = defineModule({
  name: 'maint',
  behaviors: [requireScope('admin')],
  commands: { 'maint.purge': command({ schema: t.object({}), handle: () => ok('purged') }) },
  queries: { 'maint.status': query({ schema: t.object({}), handle: () => ok('idle') }) },
});

const ADMIN = 'behaviors-admin-token-0123';
const CLIENT = 'behaviors-client-token-0123';

describe('behaviours in an embedded node', () => {
  const root = mkdtempSync(join(tmpdir(), 'catga-behaviors-'));
  let node: CatgaNode;
  let url: string;

  before(async () => {
    const [peerPort, httpPort] = [await freePort(), await freePort()];
    node = await startNode({
      modules: [notes, maintenance],
      behaviors: [audit],
      settings: {
        nodeId: 'b1', dataDir: join(root, 'b1'), bindHost: '127.0.0.1', httpPort, peerPort,
        staticPeers: { b1: `127.0.0.1:${peerPort}` }, clusterSecret: 'behaviors-test-secret-0123', openAccess: true, adminToken: ADMIN, apiTokens: [CLIENT], tickMs: 20, logLevel: 'warn',
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

  test('authorization by token scope: 403 FORBIDDEN for a client token, served for the admin token and the application', async () => {
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    for (const headers of [as(CLIENT), {}]) {
      const refused = await post(url, 'maint.purge', {}, headers);
      assert.equal(refused.status, 403);
      assert.deepEqual(refused.body.error, { code: 'FORBIDDEN', message: 'maint.purge needs a token with the admin scope' });
      assert.equal((await http(`${url}/v1/queries/maint.status?consistency=leader`, 'POST', {}, headers)).status, 403);
    }
    assert.equal((await post(url, 'maint.purge', {}, as(ADMIN))).status, 200);
    assert.equal((await http(`${url}/v1/queries/maint.status`, 'POST', {}, as(ADMIN))).body.value, 'idle');
    assert.equal((await http(`${url}/v1/commands`, 'POST', { commands: [{ type: 'maint.purge', payload: {} }] }, as(CLIENT))).status, 403);
    const fromApp = await node.send('maint.purge', {});
    assert.ok(fromApp.ok && fromApp.value === 'purged');
    // The client token still sends to modules without the requirement.
    assert.equal((await post(url, 'notes.add', { text: 'fine' }, as(CLIENT))).status, 200);
  });
});
