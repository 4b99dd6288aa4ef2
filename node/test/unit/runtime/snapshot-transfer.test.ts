// The snapshot transfer between two mediators over an in-process request/response link whose
// failures the test decides: a snapshot message is held back until its state is staged, verified
// and swapped in, a broken link or a damaged chunk resumes from the last chunk, a sender that lost
// the snapshot makes the receiver give up (old state intact) and the sender take a new one; a
// snapshot holds no read view of an LMDB engine unless a receiver needs it, so the engine's file
// does not grow with the writes that follow it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Mediator } from '../../../src/catga/index.js';
import type { InstallSnapshot, Message, NodeId } from '../../../src/raft/types.js';
import type { Logger } from '../../../src/common/logger.js';
import { SnapshotTransfer, type TransferStateMachine } from '../../../src/runtime/snapshot-transfer.js';
import type { PeerTransport } from '../../../src/transport/types.js';
import { LmdbStateEngine } from '../../../src/state/lmdb-engine.js';
import { dumpState, newMediator, TestLog } from '../catga/helpers.js';

type Handler = (from: NodeId, payload: Uint8Array) => Promise<Uint8Array>;

/** Two endpoints; `fault(n)` decides the fate of the n-th request (0-based). */
class Link {
  readonly handlers = new Map<NodeId, Map<string, Handler>>();
  requests = 0;
  fault: (n: number) => 'ok' | 'drop' | 'corrupt' = () => 'ok';

  endpoint(id: NodeId): PeerTransport {
    const own = new Map<string, Handler>();
    this.handlers.set(id, own);
    return {
      start: async () => {},
      setPeers: () => {},
      send: (_m: Message) => {},
      onMessage: () => {},
      onRequest: (kind, handler) => { own.set(kind, handler); },
      request: async (to, kind, payload) => {
        const fate = this.fault(this.requests++);
        if (fate === 'drop') throw new Error('connection lost with the request in flight');
        const reply = await this.handlers.get(to)!.get(kind)!(id, payload);
        if (fate === 'corrupt') reply[reply.length - 1]! ^= 0xff;
        return reply;
      },
      close: async () => {},
    };
  }
}

const events: string[] = [];
const logger: Logger = {
  debug: () => {},
  info: (e) => { events.push(e); },
  warn: (e) => { events.push(e); },
  error: (e) => { events.push(e); },
};

function machine(m: Mediator): TransferStateMachine {
  return {
    engine: m.state.engine,
    get appliedIndex() { return m.appliedIndex; },
    get stateBytes() { return m.state.stateBytes; },
    get idempotencyKeys() { return m.idempotency.size; },
    eventRows: () => m.eventRowsForSnapshot(),
    reload: () => m.reload(),
  };
}

interface Pair {
  readonly leader: TestLog;
  readonly follower: Mediator;
  readonly link: Link;
  readonly sender: SnapshotTransfer;
  readonly receiver: SnapshotTransfer;
  readonly delivered: InstallSnapshot[];
  stale: number;
}

function pair(leaderMediator = newMediator()): Pair {
  const leader = new TestLog(leaderMediator);
  for (let i = 0; i < 60; i++) leader.send('kv.put', { key: `k${i}`, value: 'x'.repeat(200) }, `key${i}`);
  const follower = newMediator();
  const link = new Link();
  const delivered: InstallSnapshot[] = [];
  const p: Pair = {
    leader, follower, link, delivered, stale: 0,
    sender: undefined as unknown as SnapshotTransfer,
    receiver: undefined as unknown as SnapshotTransfer,
  };
  const metrics = { bytesSent: () => {}, bytesReceived: () => {}, installed: () => {}, failed: () => {} };
  (p as { sender: SnapshotTransfer }).sender = new SnapshotTransfer({ sm: machine(leader.mediator), transport: link.endpoint('n1'), log: logger, metrics, deliver: () => {}, onStale: () => { p.stale++; }, chunkBytes: 1024 });
  (p as { receiver: SnapshotTransfer }).receiver = new SnapshotTransfer({ sm: machine(follower), transport: link.endpoint('n2'), log: logger, metrics, deliver: (m) => delivered.push(m), onStale: () => {}, chunkBytes: 1024 });
  return p;
}

function message(data: Uint8Array, index: number): InstallSnapshot {
  return { type: 'snapshot', from: 'n1', to: 'n2', term: 1, snapshot: { meta: { index, term: 1, conf: { voters: ['n1', 'n2'], learners: [], addresses: {} } }, data } };
}

async function settled(p: Pair): Promise<void> {
  for (let i = 0; i < 2_000 && p.receiver.receiving !== null; i++) await new Promise((r) => setTimeout(r, 10));
}

test('a snapshot is held back until its state is staged, verified and swapped in; the same message again is not fetched twice', async () => {
  const p = pair();
  const m = message(p.sender.take(), 60);
  assert.equal(p.receiver.intercept(m, 0), true);
  assert.equal(p.receiver.intercept(m, 0), true, 'a duplicate while receiving is held back too');
  await settled(p);
  assert.deepEqual(p.delivered, [m]);
  assert.equal(p.follower.appliedIndex, 60);
  assert.deepEqual(dumpState(p.follower).filter((r) => !r.startsWith('meta 736e617073686f74')), dumpState(p.leader.mediator));
  // The leader's recent events came along (into the event store, not the engine): subscribers resume here.
  const events = (x: Mediator) => { const r = x.events.since(0); assert.ok(r.ok); return r.value.map((w) => [w.index, w.type, w.bytes.toString()]); };
  assert.equal(events(p.follower).length, 60);
  assert.deepEqual(events(p.follower), events(p.leader.mediator));
  assert.deepEqual([...p.follower.eventStore.read(0)].map((r) => r.index), Array.from({ length: 60 }, (_, i) => i + 1));
  assert.ok(p.link.requests > 10, `${p.link.requests} chunk requests`);
  assert.equal(p.receiver.intercept(m, 0), false, 'once the state is here the core may take the message');
  assert.equal(p.receiver.intercept(message(p.sender.take(), 60), 60), false, 'a snapshot the core is past is left to the core');
  // The engine ahead of a snapshot the core has not reached (a swapped-in snapshot the core then
  // refused): it is fetched, so that the engine holds exactly the state the core will install.
  const before = p.link.requests;
  assert.equal(p.receiver.intercept(message(Buffer.from(JSON.stringify({ format: 2, index: 55, stateBytes: 0, idemRows: 0 })), 55), 0), true);
  await settled(p);
  assert.ok(p.link.requests > before);
});

test('a broken link or a damaged chunk resumes from the last chunk received', async () => {
  const p = pair();
  p.link.fault = (n) => (n === 3 || n === 4 ? 'drop' : n === 7 ? 'corrupt' : 'ok');
  const m = message(p.sender.take(), 60);
  p.receiver.intercept(m, 0);
  await settled(p);
  assert.equal(p.delivered.length, 1);
  assert.equal(p.follower.appliedIndex, 60);
  const straight = pair();
  straight.receiver.intercept(message(straight.sender.take(), 60), 0);
  await settled(straight);
  assert.equal(p.link.requests, straight.link.requests + 3, 'three retries, no chunk staged twice');
  assert.deepEqual(dumpState(p.follower).filter((r) => !r.startsWith('meta 736e617073686f74')), dumpState(p.leader.mediator));
});

test('a sender that lost the snapshot: the receiver gives up, its old state intact, the sender takes a new one', async () => {
  const p = pair();
  new TestLog(p.follower).send('kv.put', { key: 'mine', value: 1 });
  const before = dumpState(p.follower);
  p.receiver.intercept(message(Buffer.from(JSON.stringify({ format: 2, index: 55, stateBytes: 0, idemRows: 0 })), 55), 0);
  await settled(p);
  assert.equal(p.delivered.length, 0);
  assert.equal(p.stale, 1);
  assert.deepEqual(dumpState(p.follower), before);
  assert.ok(events.includes('snapshot_transfer_abandoned'));
});

test('a newer snapshot arriving mid-transfer supersedes the one in flight: one stage at a time, the newer one delivered', async () => {
  const p = pair();
  const first = message(p.sender.take(), 60);
  let released: () => void = () => {};
  const gate = new Promise<void>((r) => { released = r; });
  // The first transfer's third chunk request hangs until the newer snapshot has arrived.
  const handler = p.link.handlers.get('n1')!.get('snapshot.chunk')!;
  let calls = 0;
  p.link.handlers.get('n1')!.set('snapshot.chunk', async (from, payload) => {
    if (++calls === 3) await gate;
    return handler(from, payload);
  });
  p.receiver.intercept(first, 0);
  await new Promise((r) => setTimeout(r, 20));
  for (let i = 60; i < 70; i++) p.leader.send('kv.put', { key: `k${i}`, value: 'y' }, `key${i}`);
  const second = message(p.sender.take(), 70);
  assert.equal(p.receiver.intercept(second, 0), true);
  released();
  for (let i = 0; i < 500 && p.delivered.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  await settled(p);
  assert.deepEqual(p.delivered, [second]);
  assert.equal(p.follower.appliedIndex, 70);
  assert.ok(events.includes('snapshot_transfer_superseded'));
});

test('a snapshot taken on schedule pins nothing: the engine reuses its pages; one a receiver asked for is pinned until the receiver is done', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-transfer-'));
  const engine = new LmdbStateEngine(dir);
  try {
    // A small event ring: its rows in the engine are data that grows the file up to the ring's bound.
    const p = pair(newMediator([], { engine, events: { maxEvents: 64 } }));
    const fileBytes = (): number => statSync(join(dir, 'data.mdb')).size;
    const rewrite = (rounds: number): void => {
      for (let i = 0; i < rounds; i++) p.leader.commands(Array.from({ length: 16 }, (_, k) => ({ type: 'kv.put', payload: { key: `k${k * 3 + (i % 3)}`, value: 'y'.repeat(200 + (i % 7)) } })));
    };
    rewrite(100);
    const before = fileBytes();
    const scheduled = p.sender.take();
    rewrite(2_000);
    // A read view held over these 2,000 write transactions would keep every page they replaced: 30 MB and more.
    assert.ok(fileBytes() < before + 1024 * 1024, `engine file ${before} → ${fileBytes()} bytes while a snapshot was held`);
    // A receiver asks for the scheduled snapshot after the state moved past it: gone, and the next one is pinned for it.
    const index = p.leader.mediator.appliedIndex;
    p.receiver.intercept(message(scheduled, index - 2_000), 0);
    await settled(p);
    assert.equal(p.stale, 1);
    const wanted = message(p.sender.take(), index);
    rewrite(50);
    assert.equal(p.receiver.intercept(wanted, 0), true);
    await settled(p);
    assert.equal(p.delivered.length, 1, 'served from the view pinned when it was taken, although the state moved on');
    assert.equal(p.follower.appliedIndex, index);
    p.sender.close();
    p.receiver.close();
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a receiver waiting for a snapshot: every one taken until it asks is pinned, for the core sends its newest, not the one taken for the receiver', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'catga-transfer-'));
  const engine = new LmdbStateEngine(dir);
  try {
    const p = pair(newMediator([], { engine }));
    const write = (n: number): void => { for (let i = 0; i < n; i++) p.leader.send('kv.put', { key: `w${i % 7}`, value: i }); };
    const scheduled = p.sender.take();
    write(20);
    p.receiver.intercept(message(scheduled, p.leader.mediator.appliedIndex - 20), 0);
    await settled(p);
    assert.equal(p.stale, 1);
    // The snapshot taken for the receiver, then more on schedule before the core sends again (under
    // load, every few hundred milliseconds): the core sends the newest of them.
    p.sender.take();
    write(20);
    p.sender.take();
    write(20);
    const index = p.leader.mediator.appliedIndex;
    const newest = message(p.sender.take(), index);
    write(20);
    assert.equal(p.receiver.intercept(newest, 0), true);
    await settled(p);
    assert.equal(p.delivered.length, 1, 'the newest snapshot is served although the state moved on');
    assert.equal(p.follower.appliedIndex, index);
    assert.equal(p.stale, 1);
    p.sender.close();
    p.receiver.close();
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
