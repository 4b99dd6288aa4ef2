// WebSocket peer transport over loopback: ordered delivery, request/response, refusals of wrong
// secrets and cluster ids, garbage frames, a peer that stops reading, reconnects, coalescing of
// messages and of answers.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Message } from '../../../src/raft/types.js';
import { ByteWriter } from '../../../src/transport/bytes.js';
import { PeerError } from '../../../src/transport/errors.js';
import { beginRecord, endRecord, forEachRecord, readResponse, TAG_RESPONSE, writeRequest } from '../../../src/transport/frames.js';
import { CLOSE_CODES } from '../../../src/transport/handshake.js';
import { encodeMessage } from '../../../src/transport/codec.js';
import { createPeerTransport } from '../../../src/transport/index.js';
import { closeAll, frameOf, rawDial, SECRET, StallableRelay, startNode, waitFor, wireAll, type TestNode } from './harness.js';
import { smallAppend } from './samples.js';

const open: TestNode[] = [];
after(() => closeAll(open));

async function nodes(ids: string[], opts: Parameters<typeof startNode>[1] = {}): Promise<TestNode[]> {
  const started = await Promise.all(ids.map((id) => startNode(id, opts)));
  open.push(...started);
  return started;
}

function appendIndexes(received: readonly Message[], from: string): number[] {
  return received.filter((m) => m.from === from && m.type === 'append').map((m) => (m.type === 'append' ? m.entries[0]!.index : -1));
}

test('three transports exchange messages in order, sent even before the connections are up', async () => {
  const trio = await nodes(['a', 'b', 'c']);
  wireAll(trio);
  const perPair = 500;
  for (let i = 1; i <= perPair; i++) {
    for (const from of trio) for (const to of trio) if (from !== to) from.transport.send(smallAppend(from.id, to.id, i));
  }
  await waitFor('all messages', () => trio.every((n) => n.received.length === 2 * perPair));
  const expected = Array.from({ length: perPair }, (_, i) => i + 1);
  for (const to of trio) {
    for (const from of trio) if (from !== to) assert.deepStrictEqual(appendIndexes(to.received, from.id), expected, `${from.id}→${to.id}`);
  }
  const sample = trio[1]!.received.find((m) => m.from === 'a')!;
  assert.deepStrictEqual(sample, smallAppend('a', 'b', 1), 'delivered messages are intact');
  await closeAll(trio);
});

test('request/response: answers, remote error codes, unknown kinds, timeouts, bounds', async () => {
  const [a, b] = await nodes(['a', 'b'], { maxOutstandingRequests: 4 });
  wireAll([a!, b!]);
  b!.transport.onRequest('echo', async (from, payload) => Buffer.concat([Buffer.from(`${from}:`), payload]));
  b!.transport.onRequest('fail', async () => {
    throw Object.assign(new Error('not the leader'), { code: 'NOT_LEADER' });
  });
  let release: () => void = () => {};
  const stuck = new Promise<void>((r) => (release = r));
  b!.transport.onRequest('hang', async () => {
    await stuck;
    return new Uint8Array(0);
  });

  const answer = await a!.transport.request('b', 'echo', Buffer.from('hello'), 2000);
  assert.equal(Buffer.from(answer).toString(), 'a:hello');

  const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => a!.transport.request('b', 'echo', Buffer.from(String(i)), 2000)));
  assert.deepStrictEqual(answers.map((x) => Buffer.from(x).toString()), ['a:0', 'a:1', 'a:2', 'a:3']);

  await assert.rejects(a!.transport.request('b', 'fail', new Uint8Array(0), 2000), (e: unknown) => e instanceof PeerError && e.code === 'NOT_LEADER' && e.remote);
  await assert.rejects(a!.transport.request('b', 'nope', new Uint8Array(0), 2000), (e: unknown) => e instanceof PeerError && e.code === 'UNKNOWN_REQUEST_KIND');
  await assert.rejects(a!.transport.request('zz', 'echo', new Uint8Array(0), 2000), (e: unknown) => e instanceof PeerError && e.code === 'PEER_UNAVAILABLE');

  const started = Date.now();
  const hanging = Array.from({ length: 4 }, () => a!.transport.request('b', 'hang', new Uint8Array(0), 300));
  await assert.rejects(a!.transport.request('b', 'echo', new Uint8Array(0), 300), (e: unknown) => e instanceof PeerError && e.code === 'PEER_OVERLOADED');
  for (const h of hanging) await assert.rejects(h, (e: unknown) => e instanceof PeerError && e.code === 'PEER_TIMEOUT');
  assert.ok(Date.now() - started < 2000, 'timeouts fire on time');
  release();

  // The bound frees up again once the requests are gone.
  assert.equal(Buffer.from(await a!.transport.request('b', 'echo', Buffer.from('x'), 2000)).toString(), 'a:x');

  // A lost connection fails outstanding requests at once, with PEER_LOST (the remote may have acted
  // on them: a caller must not treat them as never sent) instead of waiting out the timeout.
  b!.transport.onRequest('never', () => new Promise<Uint8Array>(() => {}));
  const pending = a!.transport.request('b', 'never', new Uint8Array(0), 10_000);
  await waitFor('request sent', () => a!.transport.peerStats('b')!.queuedRecords === 0);
  const outcome = assert.rejects(pending, (e: unknown) => e instanceof PeerError && e.code === 'PEER_LOST');
  await b!.transport.close();
  await outcome;
  await a!.transport.close();
});

test('a wrong secret is refused in both directions and counted; nothing is delivered', async () => {
  const [a] = await nodes(['a']);
  const [b] = await nodes(['b'], { secret: 'another-secret' });
  wireAll([a!, b!]);
  a!.transport.send(smallAppend('a', 'b', 1));
  b!.transport.send(smallAppend('b', 'a', 1));
  await waitFor('both dialers refuse', () =>
    a!.counters.rejectedCount('auth_failed', 'outbound') >= 1 && b!.counters.rejectedCount('auth_failed', 'outbound') >= 1,
  );
  assert.deepStrictEqual(a!.transport.connectedPeers(), []);
  assert.deepStrictEqual(b!.transport.connectedPeers(), []);

  // A dialer that does not know the secret (it cannot check the listener's proof, and guesses its own).
  const stranger = await rawDial(a!.transport.port, { as: 'b', target: 'a', secret: 'guess', proof: 'random' });
  assert.equal(stranger.welcomed, false);
  assert.equal(await stranger.closeCode, CLOSE_CODES.auth_failed);
  assert.ok(a!.counters.rejectedCount('auth_failed', 'inbound') >= 1);
  assert.equal(a!.received.length + b!.received.length, 0);
  await closeAll([a!, b!]);
});

test('a wrong cluster id or a wrong target id is refused and counted on both sides', async () => {
  const [a] = await nodes(['a']);
  const [b] = await nodes(['b'], { clusterId: 'other-cluster' });
  wireAll([a!, b!]);
  a!.transport.send(smallAppend('a', 'b', 1));
  await waitFor('cluster mismatch counted', () =>
    b!.counters.rejectedCount('cluster_mismatch', 'inbound') >= 1 && a!.counters.rejectedCount('cluster_mismatch', 'outbound') >= 1,
  );
  const wrongTarget = await rawDial(a!.transport.port, { as: 'x', target: 'not-a', secret: SECRET });
  assert.equal(await wrongTarget.closeCode, CLOSE_CODES.node_id_mismatch);
  assert.ok(a!.counters.rejectedCount('node_id_mismatch', 'inbound') >= 1);
  assert.equal(b!.received.length, 0);
  await closeAll([a!, b!]);
});

test('a garbage frame closes only that connection; the others keep working', async () => {
  const trio = await nodes(['a', 'b', 'c']);
  const [a, b, c] = trio as [TestNode, TestNode, TestNode];
  wireAll(trio);
  a.transport.send(smallAppend('a', 'b', 1));
  c.transport.send(smallAppend('c', 'b', 1));
  await waitFor('first messages', () => b.received.length === 2);

  const garbage = await rawDial(b.transport.port, { as: 'mallory', target: 'b', secret: SECRET });
  assert.equal(garbage.welcomed, true, 'the raw peer knows the secret and gets in');
  garbage.ws.send(frameOf(Uint8Array.from([0x7e, 1, 2, 3])));
  assert.equal(await garbage.closeCode, CLOSE_CODES.bad_frame);
  assert.equal(b.counters.badFrames.get('mallory'), 1);

  // A well-formed message that claims another sender is refused the same way.
  const forger = await rawDial(b.transport.port, { as: 'mallory', target: 'b', secret: SECRET });
  forger.ws.send(frameOf(encodeMessage(smallAppend('a', 'b', 99))));
  assert.equal(await forger.closeCode, CLOSE_CODES.bad_frame);

  for (let i = 2; i <= 50; i++) {
    a.transport.send(smallAppend('a', 'b', i));
    c.transport.send(smallAppend('c', 'b', i));
  }
  await waitFor('later messages', () => b.received.length === 100);
  assert.deepStrictEqual(appendIndexes(b.received, 'a'), Array.from({ length: 50 }, (_, i) => i + 1));
  assert.equal(a.counters.drops.get('b') ?? 0, 0, 'nothing dropped on the healthy connections');
  await closeAll(trio);
});

test('a peer that stops reading costs the sender at most the queue bound; the rest is dropped and counted', async () => {
  const maxQueuedBytes = 256 * 1024;
  const maxQueuedMessages = 2000;
  const [a, b] = await nodes(['a', 'b'], { maxQueuedBytes, maxQueuedMessages, pingIntervalMs: 60_000 });
  const relay = new StallableRelay(b!.transport.port);
  const relayPort = await relay.listen();
  a!.transport.setPeers({ b: `127.0.0.1:${relayPort}` });
  a!.transport.send(smallAppend('a', 'b', 1));
  await waitFor('connected through the relay', () => b!.received.length === 1);
  relay.stopReading();

  let peakBytes = 0;
  let peakRecords = 0;
  const sent = 60_000;
  for (let i = 2; i <= sent; i++) {
    a!.transport.send(smallAppend('a', 'b', i, 1024));
    if (i % 500 === 0) {
      await new Promise((r) => setImmediate(r)); // let the queue flush into the socket
      const stats = a!.transport.peerStats('b')!;
      peakBytes = Math.max(peakBytes, stats.queuedBytes);
      peakRecords = Math.max(peakRecords, stats.queuedRecords);
    }
  }
  const dropped = a!.counters.drops.get('b') ?? 0;
  assert.ok(peakBytes <= maxQueuedBytes, `queued bytes stay within the bound (peak ${peakBytes})`);
  assert.ok(peakRecords <= maxQueuedMessages, `queued records stay within the bound (peak ${peakRecords})`);
  assert.ok(peakBytes > maxQueuedBytes / 2, `the bound was reached (peak ${peakBytes})`);
  assert.ok(dropped > sent / 2, `most messages were dropped and counted (${dropped} of ${sent})`);
  await relay.close();
  await closeAll([a!, b!]);
});

test('reconnects after the remote restarts, counting the reconnects', async () => {
  const [a, b] = await nodes(['a', 'b']);
  wireAll([a!, b!]);
  a!.transport.send(smallAppend('a', 'b', 1));
  await waitFor('first delivery', () => b!.received.length === 1);
  const port = b!.transport.port;
  await b!.transport.close();
  await waitFor('a notices', () => a!.transport.peerStats('b')!.state !== 'open');

  const b2 = await startNodeOnPort('b', port);
  await waitFor('reconnected', () => a!.transport.connectedPeers().includes('b'), 5000);
  a!.transport.send(smallAppend('a', 'b', 2));
  await waitFor('delivery after restart', () => b2.received.length === 1);
  assert.equal(appendIndexes(b2.received, 'a')[0], 2);
  assert.ok((a!.counters.reconnects.get('b') ?? 0) >= 1);
  await closeAll([a!, b2]);
});

async function startNodeOnPort(id: string, port: number): Promise<TestNode> {
  const [n] = await nodes([id], { listenPort: port });
  return n!;
}

test('coalescing: messages queued in one tick share WebSocket frames; batch size 1 turns it off', async () => {
  for (const [maxBatchRecords, expectFrames] of [
    [1024, (f: number) => f <= 5],
    [1, (f: number) => f === 200],
  ] as const) {
    const [a, b] = await nodes(['a', 'b'], { maxBatchRecords });
    wireAll([a!, b!]);
    a!.transport.send(smallAppend('a', 'b', 1));
    await waitFor('connected', () => b!.received.length === 1);
    const before = a!.transport.peerStats('b')!.sentFrames;
    for (let i = 2; i <= 201; i++) a!.transport.send(smallAppend('a', 'b', i));
    await waitFor('delivered', () => b!.received.length === 201);
    const frames = a!.transport.peerStats('b')!.sentFrames - before;
    assert.ok(expectFrames(frames), `maxBatchRecords ${maxBatchRecords}: ${frames} frames for 200 messages`);
    await closeAll([a!, b!]);
  }
});

test('coalescing: answers ready in one turn share WebSocket frames; batch size 1 turns it off', async () => {
  for (const [maxBatchRecords, expectFrames] of [
    [1024, (f: number) => f <= 2],
    [1, (f: number) => f === 100],
  ] as const) {
    const [b] = await nodes(['b'], { maxBatchRecords });
    b!.transport.onRequest('echo', async (_from, payload) => payload);
    const { ws } = await rawDial(b!.transport.port, { as: 'a', target: 'b', secret: SECRET });
    const w = new ByteWriter();
    for (let id = 1; id <= 100; id++) {
      const body = beginRecord(w);
      writeRequest(w, id, 'echo', Buffer.from(String(id)));
      endRecord(w, body);
    }
    const answered: string[] = [];
    let frames = 0;
    ws.on('message', (data: Buffer) => {
      frames++;
      forEachRecord(data, (r) => {
        assert.equal(r.u8(), TAG_RESPONSE);
        const response = readResponse(r);
        assert.ok(response.ok);
        answered.push(`${response.id}:${Buffer.from(response.payload).toString()}`);
      });
    });
    ws.send(w.copy());
    await waitFor('answers', () => answered.length === 100);
    assert.deepStrictEqual(answered, Array.from({ length: 100 }, (_, i) => `${i + 1}:${i + 1}`));
    assert.ok(expectFrames(frames), `maxBatchRecords ${maxBatchRecords}: ${frames} frames for 100 answers`);
    ws.close();
    await b!.transport.close();
  }
});

test('setPeers redials a peer whose address changed, forgets removed peers, and drops sends to unknown ones', async () => {
  const resolveHost = async (host: string): Promise<string> => (host === 'b-moved.test' ? '127.0.0.1' : host);
  const [a, b] = await nodes(['a', 'b'], { resolveHost });
  wireAll([a!, b!]);
  a!.transport.send(smallAppend('a', 'b', 1));
  await waitFor('delivered', () => b!.received.length === 1);
  const firstFrames = a!.transport.peerStats('b')!.sentFrames;

  a!.transport.setPeers({ b: `b-moved.test:${b!.transport.port}` }); // same listener, new address: a new link
  assert.equal(a!.transport.peerStats('b')!.sentFrames, 0, 'a fresh link');
  assert.ok(firstFrames > 0);
  a!.transport.send(smallAppend('a', 'b', 2));
  await waitFor('delivered over the new link', () => b!.received.length === 2);

  a!.transport.setPeers({});
  assert.equal(a!.transport.peerStats('b'), null);
  a!.transport.send(smallAppend('a', 'b', 3));
  assert.equal(a!.counters.drops.get('b'), 1);
  await assert.rejects(a!.transport.request('b', 'x', new Uint8Array(0), 100), (e: unknown) => e instanceof PeerError && e.code === 'PEER_UNAVAILABLE');
  assert.equal(b!.received.length, 2);
  await closeAll([a!, b!]);
});

test('a large snapshot gets through amid steady small messages; one beyond maxFrameBytes is dropped and counted', async () => {
  const limits = { maxQueuedBytes: 64 * 1024, maxBatchBytes: 32 * 1024, maxFrameBytes: 4 * 1024 * 1024 };
  const [a, b] = await nodes(['a', 'b'], limits);
  wireAll([a!, b!]);
  const heartbeat = (commit: number): Message => ({ type: 'heartbeat', from: 'a', to: 'b', term: 1, commit, context: '' });
  const snapshot = (size: number): Message => ({
    type: 'snapshot',
    from: 'a',
    to: 'b',
    term: 1,
    snapshot: { meta: { index: 9, term: 1, conf: { voters: ['a', 'b'], learners: [], addresses: {} } }, data: new Uint8Array(size).fill(7) },
  });
  for (let i = 1; i <= 100; i++) a!.transport.send(heartbeat(i));
  a!.transport.send(snapshot(2 * 1024 * 1024));
  for (let i = 101; i <= 200; i++) a!.transport.send(heartbeat(i));
  await waitFor('all delivered', () => b!.received.length === 201);
  assert.deepStrictEqual(
    b!.received.map((m) => m.type),
    [...Array<string>(100).fill('heartbeat'), 'snapshot', ...Array<string>(100).fill('heartbeat')],
  );
  const got = b!.received[100]!;
  assert.ok(got.type === 'snapshot' && got.snapshot.data.length === 2 * 1024 * 1024 && got.snapshot.data.every((x) => x === 7));

  a!.transport.send(snapshot(5 * 1024 * 1024));
  assert.equal(a!.counters.drops.get('b'), 1);
  await closeAll([a!, b!]);
});

test('start() on a port in use rejects with EADDRINUSE and close() still works', async () => {
  const [a] = await nodes(['a']);
  const clash = createPeerTransport({ id: 'b', clusterId: 'c', secret: 's', listenHost: '127.0.0.1', listenPort: a!.transport.port });
  await assert.rejects(clash.start(), (e: unknown) => (e as { code?: string }).code === 'EADDRINUSE');
  await clash.close();
  await closeAll([a!]);
});
