// The node admin API client against a local HTTP server: bearer token, routes and bodies,
// docs/api.md#errors error bodies turned into coded errors, response validation, timeouts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpNodeAdmin, parseClusterView } from '../src/controller/admin-client.js';

interface Seen { method: string; url: string; auth: string | undefined; body: string }
const seen: Seen[] = [];
const VIEW = { id: 'c-0', role: 'leader', term: 3, leader: 'c-0', commitIndex: 9, appliedIndex: 9, lastLogIndex: 9, incarnation: 'd1', members: [{ id: 'c-0', address: 'a:7080', voter: true, matchIndex: 9, healthy: true, incarnation: 'd1' }] };

const server = createServer((req: IncomingMessage, res) => {
  let body = '';
  req.on('data', (c: Buffer) => { body += c.toString(); });
  req.on('end', () => {
    seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
    if (req.url === '/v1/cluster') res.writeHead(200).end(JSON.stringify({ ok: true, value: VIEW, index: 9 }));
    else if (req.url === '/v1/cluster/members/c-9') res.writeHead(409).end(JSON.stringify({ ok: false, error: { code: 'NOT_A_MEMBER', message: 'no c-9' } }));
    else if (req.url !== '/slow/v1/cluster') res.writeHead(200).end(JSON.stringify({ ok: true, value: [], index: 10 })); // /slow never answers
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  server.closeAllConnections();
  server.close();
});

test('reads the cluster view with the admin token', async () => {
  const admin = new HttpNodeAdmin(() => 'sekret-token');
  assert.deepEqual(await admin.getCluster(base), VIEW);
  assert.equal(seen.at(-1)!.auth, 'Bearer sekret-token');
  // A node from before incarnations answers without them: null, never a guess.
  const old = { ...VIEW, incarnation: undefined, members: VIEW.members.map((m) => ({ ...m, incarnation: undefined })) };
  assert.deepEqual(parseClusterView(JSON.parse(JSON.stringify(old))), { ...VIEW, incarnation: null, members: VIEW.members.map((m) => ({ ...m, incarnation: null })) });
});

test('membership and leadership calls use the contract routes and bodies', async () => {
  const admin = new HttpNodeAdmin(() => 't');
  await admin.addMember(base, { id: 'c-3', address: 'h:7080', voter: false });
  assert.deepEqual([seen.at(-1)!.method, seen.at(-1)!.url, JSON.parse(seen.at(-1)!.body)], ['POST', '/v1/cluster/members', { id: 'c-3', address: 'h:7080', voter: false }]);
  await admin.removeMember(base, 'c-3');
  assert.deepEqual([seen.at(-1)!.method, seen.at(-1)!.url], ['DELETE', '/v1/cluster/members/c-3']);
  await admin.transferLeadership(base, 'c-1');
  assert.deepEqual([seen.at(-1)!.url, JSON.parse(seen.at(-1)!.body)], ['/v1/cluster/transfer-leadership', { to: 'c-1' }]);
});

test('an error body becomes an error with its code; unreachable and slow nodes are coded too', async () => {
  const admin = new HttpNodeAdmin(() => undefined, 300);
  await assert.rejects(admin.removeMember(base, 'c-9'), { code: 'NOT_A_MEMBER', status: 409 });
  await assert.rejects(admin.getCluster('http://127.0.0.1:1'), { code: 'ADMIN_UNREACHABLE' });
  await assert.rejects(admin.getCluster(`${base}/slow`), { code: 'ADMIN_UNREACHABLE' });
});

test('a malformed cluster view is refused at the edge', () => {
  assert.throws(() => parseClusterView({ ...VIEW, term: 'x' }), { code: 'ADMIN_BAD_RESPONSE' });
  assert.throws(() => parseClusterView({ ...VIEW, members: null }), { code: 'ADMIN_BAD_RESPONSE' });
  assert.equal(parseClusterView({ ...VIEW, leader: null }).leader, null);
});
