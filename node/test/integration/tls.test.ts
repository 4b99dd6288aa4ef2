// A 3-node cluster of `catga node` processes with TLS: peers replicate over mutual TLS, the client
// API answers HTTPS and wss:// only (certificates from an openssl-made CA naming n1..n3).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { LocalCluster } from '../../src/local/local-cluster.js';
import { LocalPki } from '../../src/local/local-pki.js';
import { until } from './cluster.js';

function httpsPost(port: number, ca: string, path: string, body: unknown): Promise<{ status: number; body: { ok: boolean; index?: number } }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', ca, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'request-timeout': '5000' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as { ok: boolean; index?: number } }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('a 3-node cluster with TLS', { timeout: 90_000 }, () => {
  const pki = new LocalPki();
  let dir: string;
  let cluster: LocalCluster;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'catga-tls-'));
    cluster = await LocalCluster.create({
      dir, members: 3, clusterId: 'tls', secret: 'tls-cluster-secret-0123', adminToken: 'admin-token-0123',
      env: { CATGA_OPEN_ACCESS: 'true', CATGA_LOG_LEVEL: 'warn', CATGA_TICK_MS: '20' },
    });
    cluster.startAll(pki);
  });
  after(async () => {
    await cluster.stopAll();
    rmSync(dir, { recursive: true, force: true });
    pki.remove();
  });

  test('commands replicate over mutual TLS; the API answers HTTPS and wss://, and not plain HTTP', async () => {
    const [n1, n2, n3] = cluster.members.map((m) => m.httpPort) as [number, number, number];
    await until('a put through n1 commits', async () => (await httpsPost(n1, pki.ca, '/v1/commands/kv.put', { key: 'k', value: 'v' })).status === 200, 30_000);
    const ws = new WebSocket(`wss://127.0.0.1:${n3}/v1/events?types=kv.changed`, { ca: pki.ca });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const event = new Promise<string>((resolve) => ws.once('message', (d: WebSocket.RawData) => resolve(d.toString())));
    const put = await httpsPost(n2, pki.ca, '/v1/commands/kv.put', { key: 'k2', value: 'v2' });
    assert.equal(put.status, 200);
    assert.equal((JSON.parse(await event) as { type: string }).type, 'kv.changed');
    ws.close();
    for (const port of [n1, n2, n3]) {
      const r = await httpsPost(port, pki.ca, '/v1/queries/kv.get?consistency=linearizable', { key: 'k2' });
      assert.equal(r.status, 200);
    }
    const plain = await fetch(`http://127.0.0.1:${n1}/healthz`).then((r) => r.status, (e: Error) => e.message);
    assert.notEqual(plain, 200, 'plain HTTP is not served on a TLS port');
  });
});
