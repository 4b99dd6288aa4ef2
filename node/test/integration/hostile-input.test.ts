// Hostile input against one real node in this process: malformed WebSocket upgrades, and
// (below) label floods, content types, connection floods and slow bodies. Each test is the attack
// at realistic scale followed by proof that the node still serves.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { Prng } from '../../src/sim/prng.js';
import { floodPosts, startLoneNode, type LoneNode } from './lone-node.js';

const FUZZ_SEED = Number(process.env['CATGA_FUZZ_SEED'] ?? 18);
const UPGRADE_CASES = Number(process.env['CATGA_FUZZ_UPGRADES'] ?? 2_000);
const VALID_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** One seeded upgrade request: a valid one with some parts replaced, or its bytes mutated. */
function upgradeCase(r: Prng): { request: string; valid: boolean } {
  const parts = {
    method: 'GET', path: '/v1/events', query: '',
    headers: [['Host', 'x'], ['Upgrade', 'websocket'], ['Connection', 'Upgrade'], ['Sec-WebSocket-Version', '13'], ['Sec-WebSocket-Key', VALID_KEY]] as [string, string][],
  };
  let valid = true;
  for (let edits = r.int(3); edits > 0; edits--) {
    valid = false;
    switch (r.int(7)) {
      case 0: parts.method = r.pick(['POST', 'PUT', 'HEAD', 'get', 'OPTIONS']); break;
      case 1: parts.path = r.pick(['/v1/event', '/v1/events/', '/', '/v1/events/%zz', `/${'a'.repeat(3000)}`, '/v1/eventsx']); break;
      case 2: parts.query = r.pick(['?from=-1', '?from=abc', '?types=', '?types=,,', `?from=${'9'.repeat(40)}`, '?from=1.5']); break;
      case 3: parts.headers.splice(r.int(parts.headers.length), 1); break;
      case 4: parts.headers[r.int(parts.headers.length)]![1] = r.pick(['', 'x', 'websocket, h2c', '8', '99', 'short', 'A'.repeat(400)]); break;
      case 5: parts.headers.push([r.pick(['Sec-WebSocket-Extensions', 'Sec-WebSocket-Protocol', 'Authorization']), r.pick(['permessage-deflate; x=', ',,,', 'Bearer', 'Bearer nope'])]); break;
      default: parts.headers.push(['Sec-WebSocket-Key', r.pick([VALID_KEY, 'other'])]); break;
    }
  }
  const text = `${parts.method} ${parts.path}${parts.query} HTTP/1.1\r\n${parts.headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  if (!valid || !r.chance(0.15)) return { request: text, valid };
  // Byte mutations of the whole request (which may happen to leave it valid: not asserted then).
  const bytes = [...Buffer.from(text, 'latin1')];
  for (let n = 1 + r.int(3); n > 0; n--) bytes[r.int(bytes.length)] = r.int(256);
  return { request: Buffer.from(bytes).toString('latin1'), valid: false };
}

/** Sends `request` on a fresh TCP connection and resolves with everything the node answered. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('connect', () => socket.write(request));
  });
}

/** Like rawExchange, but ends the connection after `ms` (an upgraded one stays open otherwise). */
function rawExchangeWithin(port: number, request: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // An upgraded connection is closed by us as soon as its answer is in.
      if (Buffer.concat(chunks).toString('latin1').startsWith('HTTP/1.1 101')) socket.destroy();
    });
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); done(); });
    socket.on('connect', () => socket.write(request, 'latin1'));
  });
}

async function inBatches(total: number, batch: number, one: (i: number) => Promise<void>): Promise<void> {
  for (let start = 0; start < total; start += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, total - start) }, (_, k) => one(start + k)));
  }
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const JSON_POST = { method: 'POST', headers: { 'content-type': 'application/json' } } as const;
const KINDS = ['commands', 'queries', 'events'] as const;
const LABELLED = ['catga_command_duration_seconds', 'catga_query_duration_seconds', 'catga_events_published_total'];

describe('hostile input against one node', { timeout: 120_000 }, () => {
  let n: LoneNode;
  before(async () => { n = await startLoneNode(); });
  after(async () => { await n.stop(); });

  test('10,000 malformed WebSocket upgrades leave no event feed behind; a real subscriber still gets events', async () => {
    const malformed = [
      // a key that is not 16 base64 bytes
      'GET /v1/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n',
      // an unsupported version
      'GET /v1/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 99\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      // no key at all
      'GET /v1/events?from=0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n',
      // a method other than GET
      'POST /v1/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    ];
    await inBatches(10_000, 200, async (i) => {
      const answer = await rawExchange(n.port, malformed[i % malformed.length]!);
      assert.match(answer, /^HTTP\/1\.1 (400|405|426) /, answer);
    });
    await until('every feed of a refused upgrade to end', async () => (await n.metric('catga_event_feeds')) === 0);

    const ws = new WebSocket(`${n.url.replace('http', 'ws')}/v1/events`);
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    assert.equal(await n.metric('catga_event_feeds'), 1);
    const got = new Promise<string>((resolve) => ws.once('message', (d: WebSocket.RawData) => resolve(d.toString())));
    const put = await fetch(`${n.url}/v1/commands/kv.put`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"key":"k","value":"v"}' });
    assert.equal(put.status, 200);
    assert.equal((JSON.parse(await got) as { type: string }).type, 'kv.changed');
    ws.close();
    await until('the closed subscriber\'s feed to end', async () => (await n.metric('catga_event_feeds')) === 0);
  });

  test('100,000 unknown command, query and event types leave the number of metric series unchanged', async () => {
    // Every series that legitimate use creates, and one of each kind of refusal, exist first.
    const post = (path: string, body = '{}') => fetch(`${n.url}${path}`, { ...JSON_POST, body });
    assert.equal((await post('/v1/commands/kv.put', '{"key":"a","value":"1"}')).status, 200);
    assert.equal((await post('/v1/queries/kv.get', '{"key":"a"}')).status, 200);
    assert.equal((await post('/v1/events/warm.up')).status, 200);
    assert.equal((await post('/v1/commands/never.seen')).status, 404);
    assert.equal((await post('/v1/queries/never.seen')).status, 404);
    const seriesBefore = await n.series('catga_');
    const labelled = (lines: string[]) => lines.filter((l) => LABELLED.some((name) => l.startsWith(name)));
    const before = labelled(seriesBefore).length;

    await floodPosts(n.port, 100_000, 32, (i) => `/v1/${KINDS[i % 3]}/attacker.${i}`, (i, answer) => {
      assert.equal(answer.status, KINDS[i % 3] === 'events' ? 200 : 404, answer.body.toString());
    });
    const after = await n.series('catga_');
    assert.equal(labelled(after).length, before, labelled(after).filter((l) => l.includes('attacker')).slice(0, 5).join('\n'));
    assert.equal(after.length, seriesBefore.length, 'no other series appeared either');
  });

  test(`upgrade fuzz: ${UPGRADE_CASES} seeded malformed upgrades (seed ${FUZZ_SEED}); only valid ones open, no feed or client is left`, async () => {
    const r = new Prng(FUZZ_SEED);
    const cases = Array.from({ length: UPGRADE_CASES }, () => upgradeCase(r));
    const statuses = new Map<string, number>();
    await inBatches(cases.length, 100, async (i) => {
      const { request, valid } = cases[i]!;
      const answer = await rawExchangeWithin(n.port, request, 1_000);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'none';
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (valid) assert.equal(status, '101', `case ${i}: ${JSON.stringify(request)}`);
      else if (status !== '101') assert.ok(status === 'none' || /^4\d\d$/.test(status), `case ${i}: ${status} for ${JSON.stringify(request)}`);
    });
    console.log(`upgrade fuzz answers: ${[...statuses].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
    await until('no event feed and no WebSocket client left', async () =>
      (await n.metric('catga_event_feeds')) === 0 && (await n.metric('catga_ws_clients')) === 0);
    const put = await fetch(`${n.url}/v1/commands/kv.put`, { ...JSON_POST, body: '{"key":"after-fuzz","value":1}' });
    assert.equal(put.status, 200);
  });
});

