// The example application end to end: a real Catga node embedded in this process, the express
// routes on a free port, and a payment provider that records idempotency keys. An order placed
// through POST /orders is charged once by the reactor and marked paid by the saga's second command.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startNode, type CatgaNode } from 'catga';
import { createApp } from '../src/app.ts';
import { checkoutModule } from '../src/checkout.ts';

function listening(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

async function freePort(): Promise<number> {
  const probe = createServer();
  const port = await listening(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const charges = new Map<string, number>();
const provider = createServer((req, res) => {
  const key = String(req.headers['idempotency-key']);
  charges.set(key, (charges.get(key) ?? 0) + 1);
  req.resume();
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ paymentId: `pay-${key}` }));
});
const dataDir = mkdtempSync(join(tmpdir(), 'catga-embedded-app-'));
let node: CatgaNode;
let base: string;
let app: Server;

before(async () => {
  const providerPort = await listening(provider);
  node = await startNode({
    modules: [checkoutModule(`http://127.0.0.1:${providerPort}/payments`)],
    settings: {
      nodeId: 'app-1', dataDir, bindHost: '127.0.0.1', httpPort: await freePort(), peerPort: await freePort(),
      adminToken: randomBytes(16).toString('hex'), tickMs: 20, logLevel: 'warn',
    },
  });
  app = createServer(createApp(node));
  base = `http://127.0.0.1:${await listening(app)}`;
});

after(async () => {
  app.closeAllConnections();
  await new Promise((resolve) => app.close(resolve));
  provider.closeAllConnections();
  await new Promise((resolve) => provider.close(resolve));
  await node.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

test('an order placed through the application is charged once and marked paid', async () => {
  const placed = await call('POST', '/orders', { item: 'tea', quantity: 2 }, { 'idempotency-key': 'order-1' });
  assert.equal(placed.status, 201, JSON.stringify(placed.body));
  const id = placed.body['id'] as string;
  const retried = await call('POST', '/orders', { item: 'tea', quantity: 2 }, { 'idempotency-key': 'order-1' });
  assert.equal(retried.body['id'], id, 'a retried request with its key places no second order');
  let order: Record<string, unknown> = {};
  for (let i = 0; i < 200 && order['status'] !== 'paid'; i++) {
    order = (await call('GET', `/orders/${id}`)).body;
    if (order['status'] !== 'paid') await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const key = `reactor:charge-payment:${id.split('-')[1]}.0`;
  assert.deepEqual(order['payment'], `pay-${key}`);
  assert.deepEqual([...charges], [[key, 1]]);
});

test('bad input keeps the status and code Catga gives it', async () => {
  const bad = await call('POST', '/orders', { item: 'tea', quantity: 0 });
  assert.equal(bad.status, 400);
  assert.equal((bad.body['error'] as { code: string }).code, 'INVALID_PAYLOAD');
  const missing = await call('GET', '/orders/chk-999-0');
  assert.equal(missing.status, 404);
  assert.equal((missing.body['error'] as { code: string }).code, 'NOT_FOUND');
  const cluster = await call('GET', '/cluster');
  assert.equal(cluster.body['role'], 'leader');
});
