// Who may do what, against one real node in this process: the JSON content type on every body,
// scoped tokens with per-type rules on commands, batches, queries, events (publish and
// subscribe) and the admin routes, idempotency keys per token, and open access only when the
// node was started with it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { startLoneNode, type LoneNode } from './lone-node.js';

const ADMIN = 'admin-token-0123';
const TOKENS = [
  'app-token-0123',
  'kv-writer-0123:commands/kv.*',
  'reader-0123:queries+events/orders.*',
  'ops-token-0123:admin',
].join(',');

async function call(n: LoneNode, method: string, path: string, o: { token?: string; type?: string | null; body?: string } = {}): Promise<{ status: number; code: string | undefined }> {
  const headers: Record<string, string> = {};
  if (o.type !== null) headers['content-type'] = o.type ?? 'application/json';
  if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
  const res = await fetch(`${n.url}${path}`, { method, headers, body: o.body ?? (method === 'POST' ? '{}' : undefined) });
  const body = (await res.json()) as { ok: boolean; error?: { code: string } };
  return { status: res.status, code: body.error?.code };
}

function upgradeStatus(n: LoneNode, query: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${n.url.replace('http', 'ws')}/v1/events${query}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    ws.once('open', () => { ws.close(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode ?? 0); });
    ws.once('error', reject);
  });
}

const PUT = '{"key":"a","value":"1"}';

describe('access control of one node with scoped tokens', { timeout: 60_000 }, () => {
  let n: LoneNode;
  before(async () => { n = await startLoneNode({ CATGA_OPEN_ACCESS: 'false', CATGA_ADMIN_TOKEN: ADMIN, CATGA_API_TOKENS: TOKENS }); });
  after(async () => { await n.stop(); });

  test('a body that is not declared JSON is refused with 415 before any handler runs (a cross-site form or text/plain POST)', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', null]) {
      const r = await call(n, 'POST', '/v1/commands/kv.put', { token: 'app-token-0123', type, body: PUT });
      assert.deepEqual(r, { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' }, String(type));
    }
    assert.equal((await call(n, 'POST', '/v1/queries/kv.get', { token: 'app-token-0123', type: 'text/plain', body: '{"key":"a"}' })).status, 415);
    assert.equal((await call(n, 'POST', '/v1/events/x.y', { token: 'app-token-0123', type: 'text/plain' })).status, 415);
    assert.equal((await call(n, 'POST', '/v1/commands', { token: 'app-token-0123', type: 'text/plain', body: '{"commands":[]}' })).status, 415);
    assert.equal((await call(n, 'POST', '/v1/cluster/transfer-leadership', { token: ADMIN, type: 'text/plain', body: '{}' })).status, 415);
    const nothingWritten = await call(n, 'POST', '/v1/queries/kv.get', { token: 'app-token-0123', body: '{"key":"a"}' });
    assert.equal(nothingWritten.status, 200);
    assert.equal((await (await fetch(`${n.url}/v1/queries/kv.get`, { method: 'POST', headers: { 'content-type': 'application/json; charset=UTF-8', authorization: 'Bearer app-token-0123' }, body: '{"key":"a"}' })).json() as { value: unknown }).value, null);
    assert.equal((await call(n, 'POST', '/v1/commands/kv.put', { token: 'app-token-0123', type: 'application/json; charset=utf-8', body: PUT })).status, 200);
  });

  test('without a token, or with an unknown one: 401 on every client route and the WebSocket', async () => {
    assert.deepEqual(await call(n, 'POST', '/v1/commands/kv.put', { body: PUT }), { status: 401, code: 'UNAUTHENTICATED' });
    assert.deepEqual(await call(n, 'POST', '/v1/queries/kv.get', { token: 'not-a-token-0123' }), { status: 401, code: 'UNAUTHENTICATED' });
    assert.equal((await call(n, 'GET', '/v1/cluster')).status, 401);
    assert.equal(await upgradeStatus(n, ''), 401);
  });

  test('scopes and per-type rules decide; 403 names what the token may not do', async () => {
    // A token without rules: commands, queries, events of every type; not admin.
    assert.equal((await call(n, 'POST', '/v1/commands/orders.create', { token: 'app-token-0123', body: '{"productId":"p","quantity":1}' })).status, 200);
    assert.deepEqual(await call(n, 'POST', '/v1/cluster/transfer-leadership', { token: 'app-token-0123' }), { status: 403, code: 'FORBIDDEN' });
    // commands/kv.*: kv commands only, nothing else.
    assert.equal((await call(n, 'POST', '/v1/commands/kv.put', { token: 'kv-writer-0123', body: PUT })).status, 200);
    assert.deepEqual(await call(n, 'POST', '/v1/commands/orders.create', { token: 'kv-writer-0123', body: '{"productId":"p","quantity":1}' }), { status: 403, code: 'FORBIDDEN' });
    assert.deepEqual(await call(n, 'POST', '/v1/queries/kv.get', { token: 'kv-writer-0123', body: '{"key":"a"}' }), { status: 403, code: 'FORBIDDEN' });
    assert.equal(await upgradeStatus(n, '', 'kv-writer-0123'), 403);
    // A batch is allowed only if every command in it is.
    const batch = (types: string[]) => JSON.stringify({ commands: types.map((type) => ({ type, payload: type === 'kv.put' ? { key: 'b', value: 'v' } : { productId: 'p', quantity: 1 } })) });
    assert.equal((await call(n, 'POST', '/v1/commands', { token: 'kv-writer-0123', body: batch(['kv.put', 'kv.put']) })).status, 200);
    assert.deepEqual(await call(n, 'POST', '/v1/commands', { token: 'kv-writer-0123', body: batch(['kv.put', 'orders.create']) }), { status: 403, code: 'FORBIDDEN' });
    // queries + events/orders.*: every query, orders events only (publish and subscribe).
    assert.equal((await call(n, 'POST', '/v1/queries/orders.list', { token: 'reader-0123' })).status, 200);
    assert.equal((await call(n, 'POST', '/v1/commands/kv.put', { token: 'reader-0123', body: PUT })).status, 403);
    assert.equal((await call(n, 'POST', '/v1/events/orders.note', { token: 'reader-0123' })).status, 200);
    assert.equal((await call(n, 'POST', '/v1/events/kv.changed', { token: 'reader-0123' })).status, 403);
    assert.equal(await upgradeStatus(n, '?types=orders.created,orders.note', 'reader-0123'), 101);
    assert.equal(await upgradeStatus(n, '?types=orders.created,kv.changed', 'reader-0123'), 403);
    assert.equal(await upgradeStatus(n, '', 'reader-0123'), 403, 'all types is more than orders.*');
    // admin scope: membership and leadership, and no client route.
    assert.equal((await call(n, 'DELETE', '/v1/cluster/members/not-a-member', { token: 'ops-token-0123' })).status, 200);
    assert.deepEqual(await call(n, 'DELETE', '/v1/cluster/members/not-a-member', { token: 'reader-0123' }), { status: 403, code: 'FORBIDDEN' });
    assert.equal((await call(n, 'POST', '/v1/commands/kv.put', { token: 'ops-token-0123', body: PUT })).status, 403);
    // The admin token may do everything.
    assert.equal((await call(n, 'POST', '/v1/commands/kv.put', { token: ADMIN, body: PUT })).status, 200);
    assert.equal(await upgradeStatus(n, '', ADMIN), 101);
  });
});

describe('idempotency keys over HTTP', { timeout: 60_000 }, () => {
  let n: LoneNode;
  before(async () => { n = await startLoneNode({ CATGA_OPEN_ACCESS: 'false', CATGA_ADMIN_TOKEN: ADMIN, CATGA_API_TOKENS: TOKENS }); });
  after(async () => { await n.stop(); });

  const put = async (token: string, key: string, value: number) => {
    const res = await fetch(`${n.url}/v1/commands/kv.put`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': key }, body: JSON.stringify({ key: 'idem', value }),
    });
    return { status: res.status, body: (await res.json()) as { ok: boolean; value?: { version: number }; index?: number; error?: { code: string } } };
  };

  test('a retry answers the first result and its index; a reuse with another payload is 422; keys are per token', async () => {
    const first = await put('app-token-0123', 'order-17', 1);
    assert.equal(first.status, 200);
    const retry = await put('app-token-0123', 'order-17', 1);
    assert.deepEqual(retry, first, 'the same answer, the first index included');
    const reused = await put('app-token-0123', 'order-17', 2);
    assert.deepEqual([reused.status, reused.body.error?.code], [422, 'IDEMPOTENCY_KEY_REUSED']);
    // Another token's key of the same name is its own: applied, a new version.
    const other = await put('kv-writer-0123', 'order-17', 2);
    assert.equal(other.status, 200);
    assert.equal(other.body.value?.version, first.body.value!.version + 1);
    assert.ok(other.body.index! > first.body.index!);
  });
});

describe('open access, asked for explicitly', { timeout: 60_000 }, () => {
  let n: LoneNode;
  before(async () => { n = await startLoneNode({ CATGA_OPEN_ACCESS: 'true', CATGA_ADMIN_TOKEN: ADMIN }); });
  after(async () => { await n.stop(); });

  test('client routes answer without a token; admin routes still want one; a token shown is still checked', async () => {
    assert.equal((await call(n, 'POST', '/v1/commands/kv.put', { body: PUT })).status, 200);
    assert.equal(await upgradeStatus(n, ''), 101);
    assert.deepEqual(await call(n, 'POST', '/v1/cluster/transfer-leadership'), { status: 401, code: 'UNAUTHENTICATED' });
    assert.deepEqual(await call(n, 'POST', '/v1/commands/kv.put', { token: 'wrong-token-0123', body: PUT }), { status: 401, code: 'UNAUTHENTICATED' });
    assert.equal((await call(n, 'POST', '/v1/commands/kv.put', { type: 'text/plain', body: PUT })).status, 415, 'open access still wants JSON');
  });
});
