// The driver's rules checked one by one on a real core (the simulator checks them all together):
// ReadIndex answers reach only the read they were asked for: a follower that restarted numbers its
// reads from 1 again, so an answer to a read of its previous start, delivered late, must not answer
// a read of this one (it carries an older index). Found by the simulator running this driver
// (READ_LINEARIZABILITY, 2 seeds in 5,000 at 5 nodes) once read contexts were only a counter.
// Dropped proposals are answered as such; committed entries apply during the save of newer ones,
// and never before their own save.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRaft, defaultRaftConfig } from '../../../src/raft/index.js';
import type { Entry, Index, Message, NodeId } from '../../../src/raft/types.js';
import { RaftDriver } from '../../../src/driver/driver.js';
import type { Logger } from '../../../src/common/logger.js';
import { realTimers } from '../../../src/driver/timers.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const VOTERS: NodeId[] = ['n1', 'n2', 'n3'];
/** The term of the entries a bootstrapped log starts with (committed from the start). */
const BOOTSTRAP_TERM = 1;

/** Saves that finish when the test says: while `held`, new saves wait until `release`. */
class HeldStorage {
  held = false;
  private waiting: Array<(err?: Error) => void> = [];
  /** Indexes of the entries whose save has finished. */
  readonly durable: Index[] = [];
  save = (_s: unknown, entries: readonly Entry[]): Promise<void> => new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      if (err !== undefined) return reject(err);
      for (const e of entries) this.durable.push(e.index);
      resolve();
    };
    if (this.held) this.waiting.push(done); else done();
  });
  saveSnapshot = (): Promise<void> => Promise.resolve();
  get pending(): number { return this.waiting.length; }
  release(err?: Error): void {
    this.held = false;
    for (const done of this.waiting.splice(0)) done(err);
  }
}

/** One start of node `id` over an empty log; `sent` collects what it sends, `applied` the indexes it applied. */
function startNode(
  startId: string, id: NodeId = 'n2', storage: Pick<HeldStorage, 'save' | 'saveSnapshot'> = new HeldStorage(), onFatal: (err: unknown) => void = (err) => { throw err; },
): { driver: RaftDriver; sent: Message[]; applied: Index[]; receive: (m: Message) => void } {
  const core = createRaft(defaultRaftConfig(id, () => 0.5), {
    hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [], applied: 0,
    bootstrap: { voters: VOTERS, learners: [], addresses: Object.fromEntries(VOTERS.map((id) => [id, `${id}:7000`])) },
  });
  const sent: Message[] = [];
  const applied: Index[] = [];
  let receive: (m: Message) => void = () => undefined;
  const driver = new RaftDriver({
    core,
    storage,
    transport: { send: (m) => sent.push(m), onMessage: (h) => { receive = h; } },
    stateMachine: { applyBatch: (es) => es.map((e) => { applied.push(e.index); return null; }), snapshot: () => new Uint8Array(), restore: () => undefined, sync: () => Promise.resolve() },
    log: quiet,
    timers: realTimers,
    startId,
    tickMs: 60_000,
    snapshotEntries: 1_000_000,
    snapshotBytes: 1 << 30,
    snapshotRetain: 0,
    applied: 0,
    onConf: () => undefined,
    onFatal,
  });
  driver.start();
  return { driver, sent, applied, receive: (m) => receive(m) };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** The follower hears leader n1 of term 1, then asks it for a read index; returns the request's context. */
async function askRead(f: ReturnType<typeof startNode>, answered: Index[]): Promise<string> {
  f.receive({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: 0, context: '' });
  await turn();
  f.driver.readIndex().then((i) => answered.push(i), () => undefined); // refused at stop: the start is over
  await turn();
  const req = f.sent.find((m) => m.type === 'readIndex');
  assert.ok(req !== undefined && req.type === 'readIndex', 'the follower forwards its read to the leader');
  return req.context;
}

test('a late ReadIndex answer to an earlier start of the node does not answer a read of this start', async () => {
  const first = startNode('start-a');
  const firstContext = await askRead(first, []);
  await first.driver.stop();

  const second = startNode('start-b');
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

/** n1 campaigns and wins with the votes of n2 and n3 (pre-vote first); returns its new term. */
async function win(n: ReturnType<typeof startNode>): Promise<number> {
  const asked = (type: 'preVote' | 'vote'): number => {
    const m = n.sent.findLast((x) => x.type === type);
    assert.ok(m !== undefined, `n1 sent no ${type}`);
    return m.term;
  };
  n.driver.campaign();
  await turn();
  for (const from of ['n2', 'n3']) n.receive({ type: 'preVoteResp', from, to: 'n1', term: asked('preVote'), reject: false });
  await turn();
  const term = asked('vote');
  for (const from of ['n2', 'n3']) n.receive({ type: 'voteResp', from, to: 'n1', term, reject: false });
  await turn();
  assert.ok(n.driver.isLeader && n.driver.softState.term === term, `n1 leads term ${term}: ${JSON.stringify(n.driver.softState)}`);
  return term;
}

test('a proposal whose entry a later leader cut is dropped, even when its index is reused before it is applied', async () => {
  const n1 = startNode('start', 'n1');
  const first = await win(n1);
  const answers: string[] = [];
  const track = (name: string, p: Promise<unknown>): void => { p.then(() => answers.push(`${name} applied`), (e: { code?: string }) => answers.push(`${name} ${e.code}`)); };
  track('x', n1.driver.propose(new Uint8Array([1])));
  track('z', n1.driver.propose(new Uint8Array([2])));
  await turn();
  const base = n1.driver.status().commit;
  assert.equal(n1.driver.status().lastIndex, base + 3, 'the term entry, x and z');

  // n2 leads the next term with a shorter log: n1 gets one entry of it and loses x and z.
  const cut = { index: base + 1, term: first + 1, type: 'normal' as const, data: new Uint8Array() };
  n1.receive({ type: 'append', from: 'n2', to: 'n1', term: first + 1, prevIndex: base, prevTerm: BOOTSTRAP_TERM, entries: [cut], commit: base });
  await turn();
  assert.equal(n1.driver.status().lastIndex, base + 1);

  // n1 leads again: its term entry takes the next index, and w the one after, where z was.
  await win(n1);
  track('w', n1.driver.propose(new Uint8Array([3])));
  await turn();
  assert.equal(n1.driver.status().lastIndex, base + 3);
  assert.deepEqual(answers, ['z PROPOSAL_DROPPED'], 'z is answered as soon as its index holds another entry');
  await n1.driver.stop();
});

/** Runs `check` on node `id` over a disk whose saves it can hold, and stops the node whatever happens. */
async function withHeldDisk(id: NodeId, check: (n: ReturnType<typeof startNode>, disk: HeldStorage) => Promise<void>): Promise<void> {
  const disk = new HeldStorage();
  const n = startNode('start', id, disk);
  try {
    await check(n, disk);
  } finally {
    disk.release(); // a failed check must not leave the driver waiting on a save for ever
    await n.driver.stop();
  }
}

test('a leader applies the entries its followers acknowledged while the save of newer ones runs, never an entry before its own save', () => withHeldDisk('n1', leaderAppliesWhileSaving));

/**
 * n1 wins, n2 acknowledges the term's first entry (caught up), and x is proposed and saved but
 * not yet committed. `ack` delivers a follower's acknowledgement; `answers` names the answered.
 */
async function leaderSavedX(n1: ReturnType<typeof startNode>, disk: HeldStorage): Promise<{ ack: (from: NodeId, index: Index) => void; answers: string[]; x: Index }> {
  const term = await win(n1);
  const ack = (from: NodeId, index: Index): void => n1.receive({ type: 'appendResp', from, to: 'n1', term, index, reject: false, hintIndex: 0, hintTerm: 0 });
  ack('n2', n1.driver.status().lastIndex);
  await turn();
  const answers: string[] = [];
  void n1.driver.propose(new Uint8Array([1])).then(() => answers.push('x'));
  await turn();
  const x = n1.driver.status().lastIndex;
  assert.ok(disk.durable.includes(x) && !n1.applied.includes(x), 'x is saved, not yet committed');
  return { ack, answers, x };
}

async function leaderAppliesWhileSaving(n1: ReturnType<typeof startNode>, disk: HeldStorage): Promise<void> {
  const { ack, answers, x } = await leaderSavedX(n1, disk);

  // In one turn n2's acknowledgement of x commits it and y is appended; y's save stays running.
  ack('n2', x);
  disk.held = true;
  void n1.driver.propose(new Uint8Array([2])).then(() => answers.push('y'));
  await turn();
  await turn();
  const y = n1.driver.status().lastIndex;
  assert.equal(disk.pending, 1, 'the save of y is running');
  assert.ok(n1.applied.includes(x), `x is applied while the save of y runs: applied ${JSON.stringify(n1.applied)}`);
  assert.deepEqual(answers, ['x'], 'x\'s proposer is answered without waiting for the save of y');
  assert.ok(!n1.applied.includes(y), 'y is not applied');

  disk.release();
  await turn();
  ack('n2', y);
  for (let i = 0; i < 4 && !answers.includes('y'); i++) await turn();
  assert.ok(n1.applied.includes(y) && answers.includes('y'), 'y is applied once saved and acknowledged');
}

test('a follower that learns of entries and their commit in one message applies them only once they are saved', () => withHeldDisk('n2', followerWaitsForItsSave));

async function followerWaitsForItsSave(n2: ReturnType<typeof startNode>, disk: HeldStorage): Promise<void> {
  n2.receive({ type: 'heartbeat', from: 'n1', to: 'n2', term: 1, commit: 0, context: '' });
  await turn();
  const base = n2.driver.status().lastIndex;
  disk.held = true;
  const entries: Entry[] = [{ index: base + 1, term: BOOTSTRAP_TERM, type: 'normal', data: new Uint8Array([7]) }];
  n2.receive({ type: 'append', from: 'n1', to: 'n2', term: 1, prevIndex: base, prevTerm: BOOTSTRAP_TERM, entries, commit: base + 1 });
  await turn();
  await turn();
  assert.equal(disk.pending, 1, 'the save of the entry is running');
  assert.ok(!n2.applied.includes(base + 1), `the entry was applied before its save: applied ${JSON.stringify(n2.applied)}`);
  disk.release();
  for (let i = 0; i < 4 && !n2.applied.includes(base + 1); i++) await turn();
  assert.ok(n2.applied.includes(base + 1), 'the entry is applied once saved');
}

test('a leader steps acknowledgements while its own save runs: it answers what they commit, applies nothing it has not saved, and batches new proposals behind the save', () => withHeldDisk('n1', leaderGoesOnWhileSaving));

async function leaderGoesOnWhileSaving(n1: ReturnType<typeof startNode>, disk: HeldStorage): Promise<void> {
  const { ack, answers, x } = await leaderSavedX(n1, disk);

  disk.held = true;
  void n1.driver.propose(new Uint8Array([2])).then(() => answers.push('y'));
  await turn();
  const y = n1.driver.status().lastIndex;
  assert.equal(disk.pending, 1, 'the save of y is running');

  // n2's acknowledgement of x arrives while y is being saved: x commits and is answered now.
  ack('n2', x);
  for (let i = 0; i < 4 && !answers.includes('x'); i++) await turn();
  assert.deepEqual(answers, ['x'], `x is answered while the save of y runs: applied ${JSON.stringify(n1.applied)}`);

  // Both followers hold y: committed without n1, but n1 has not saved it, so it does not apply it.
  ack('n2', y);
  ack('n3', y);
  void n1.driver.propose(new Uint8Array([3])).then(() => answers.push('z'), () => undefined); // refused at stop: never committed
  await turn();
  await turn();
  assert.equal(n1.driver.status().commit, y, 'y is committed by n2 and n3');
  assert.ok(!n1.applied.includes(y), 'y is not applied before n1 saved it');
  assert.equal(n1.driver.status().lastIndex, y, 'z waits for the save of y');

  disk.release();
  for (let i = 0; i < 4 && !answers.includes('y'); i++) await turn();
  assert.ok(answers.includes('y'), 'y is answered once saved');
  assert.equal(n1.driver.status().lastIndex, y + 1, 'z is appended once the save of y ended');
}

test('a leader\'s save that fails while it runs on stops the driver: its proposers are refused and stop() does not hang', async () => {
  const disk = new HeldStorage();
  const fatal: unknown[] = [];
  const n1 = startNode('start', 'n1', disk, (err) => fatal.push(err));
  await win(n1);
  disk.held = true;
  const answer = n1.driver.propose(new Uint8Array([1])).then(() => 'applied', (e: { code?: string }) => e.code);
  await turn();
  assert.equal(disk.pending, 1, 'the save runs');
  const stopped = n1.driver.stop();
  disk.release(new Error('EIO: fsync failed'));
  await stopped;
  assert.equal(await answer, 'NODE_FAILED');
  assert.equal(fatal.length, 1, 'the node is told to stop');
});
