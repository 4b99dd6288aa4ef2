// The HTTP status of a refused command or query is the one its code carries, not a blanket 409:
// a full state quota answers 507 STATE_QUOTA_EXCEEDED (the cluster is full; the command was valid),
// a reused idempotency key 422, a handler's own refusal 409; a query that finds nothing 404. Before,
// every refused command but a reused key answered 409, the quota included.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLoneNode } from './lone-node.js';

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; code: string | undefined }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const json = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: json.error?.code };
}

test('refused commands and queries answer the status of their code', { timeout: 60_000 }, async () => {
  const lone = await startLoneNode({ CATGA_STATE_QUOTA_BYTES: '4096' });
  try {
    const put = (key: string, value: string, headers: Record<string, string> = {}) => post(`${lone.url}/v1/commands/kv.put`, { key, value }, headers);
    assert.deepEqual(await put('small', 'x'), { status: 200, code: undefined });
    assert.deepEqual(await put('big', 'y'.repeat(8192)), { status: 507, code: 'STATE_QUOTA_EXCEEDED' });
    assert.deepEqual(await post(`${lone.url}/v1/commands/kv.cas`, { key: 'small', expected: 'not-x', value: 'z' }), { status: 409, code: 'CAS_MISMATCH' });
    assert.equal((await put('k', 'a', { 'idempotency-key': 'key-1' })).status, 200);
    assert.deepEqual(await put('k', 'b', { 'idempotency-key': 'key-1' }), { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    assert.deepEqual(await post(`${lone.url}/v1/queries/orders.get`, { id: 'none' }), { status: 404, code: 'NOT_FOUND' });
  } finally {
    await lone.stop();
  }
});
