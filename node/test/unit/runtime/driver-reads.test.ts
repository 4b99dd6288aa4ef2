// ReadIndex answers reach only the read they were asked for: a follower that restarted numbers its
// reads from 1 again, so an answer to a read of its previous start, delivered late, must not answer
// a read of this one (it carries an older index). Found by the simulator running this driver
// (READ_LINEARIZABILITY, 2 seeds in 5,000 at 5 nodes) once read contexts were only a counter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft, defaultRaftConfig } from '../../../src/raft/index.js';
import type { Index, Message, NodeId } from '../../../src/raft/types.js';
import { RaftDriver } from '../../../src/runtime/driver.js';
import type { Logger } from '../../../src/runtime/logger.js';
import { realTimers } from '../../../src/runtime/timers.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const VOTERS: NodeId[] = ['n1', 'n2', 'n3'];

/** One start of follower n2 over an empty log; `sent` collects what it sends. */
function startFollower(startId: string): { driver: RaftDriver; sent: Message[]; receive: (m: Message) => void } {
  const core = createRaft(defaultRaftConfig('n2', () => 0.5), {
    hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], applied: 0,
    bootstrap: { voters: VOTERS, learners: [], addresses: Object.fromEntries(VOTERS.map((id) => [id, `${id}:7000`])) },
  });
  const sent: Message[] = [];
  let receive: (m: Message) => void = () => undefined;
  const driver = new RaftDriver({
    core,
    storage: { save: () => Promise.resolve(), saveSnapshot: () => Promise.resolve() },
    transport: { send: (m) => sent.push(m), onMessage: (h) => { receive = h; } },
    stateMachine: { applyBatch: (es) => es.map(() => null), snapshot: () => new Uint8Array(), restore: () => undefined, sync: () => Promise.resolve() },
    log: quiet,
    timers: realTimers,
    startId,
    tickMs: 60_000,
    snapshotEntries: 1_000_000,
    snapshotBytes: 1 << 30,
    snapshotRetain: 0,
    applied: 0,
    onConf: () => undefined,
    onFatal: (err) => { throw err; },
  });
  driver.start();
  return { driver, sent, receive: (m) => receive(m) };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The follower hears leader n1 of term 1, then asks it for a read index; returns the request's context. */
async function askRead(f: ReturnType<typeof startFollower>, answered: Index[]): Promise<string> {
  f.receive({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: 0, context: '' });
  await turn();
  f.driver.readIndex().then((i) => answered.push(i), () => undefined); // refused at stop: the start is over
  await turn();
  const req = f.sent.find((m) => m.type === 'readIndex');
  assert.ok(req !== undefined && req.type === 'readIndex', 'the follower forwards its read to the leader');
  return req.context;
}

test('a late ReadIndex answer to an earlier start of the node does not answer a read of this start', async () => {
  const first = startFollower('start-a');
  const firstContext = await askRead(first, []);
  await first.driver.stop();

  const second = startFollower('start-b');
  const answered: Index[] = [];
  const context = await askRead(second, answered);
  assert.notEqual(context, firstContext, 'each start numbers its reads apart');

  // The leader's answer to the first start's read arrives now, with the index of that time.
  second.receive({ type: 'readIndexResp', from: 'n1', to: 'n2', term: 1, context: firstContext, index: 0, reject: false });
  await turn();
  assert.deepEqual(answered, [], 'an answer to another start answered this read');

  second.receive({ type: 'readIndexResp', from: 'n1', to: 'n2', term: 1, context, index: 7, reject: false });
  await turn();
  assert.deepEqual(answered, [7]);
  await second.driver.stop();
});
