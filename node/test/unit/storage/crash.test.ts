// Seeded crash points over the fault-injecting file system. Each seed runs a random workload
// (appends, conflicting truncations, hard states, snapshots taken and received, several saves in
// flight at once, tiny segments so rollover and compaction happen), crashes at a random mutating
// operation, loses what was not fsynced (tearing the last write by a random mode), recovers, and
// checks that the recovered state is exactly the state after some record of the attempted saves
// at or after the last acknowledged one: every acknowledged save is there, nothing contradicts it.
// Two crash rounds per seed, some with a second crash during recovery. CATGA_STORAGE_CRASH_SEEDS raises the count (default 1000 seeds = 2000 crash points).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HardState } from '../../../src/raft/types.js';
import { MemFileSystem, openFileStorage, type FileRaftStorage, type TearMode } from '../../../src/storage/index.js';
import { EMPTY_STATE, type ModelState, type Op, describe, entry, prng, randInt, recordStates, snapshot } from './helpers.js';

const SEEDS = Number(process.env.CATGA_STORAGE_CRASH_SEEDS ?? 1000);
const DIR = '/node/data';
const OPTS = { maxSegmentBytes: 700, maxRecordBytes: 400 };
const TEARS: readonly TearMode[] = ['none', 'prefix', 'zeros'];

/** Generates the next few operations from the logical state the storage will have. */
class Workload {
  private last: number;
  private snapIndex: number;
  private hs: HardState;

  constructor(
    private readonly random: () => number,
    from: ModelState,
  ) {
    this.snapIndex = from.snapshot?.meta.index ?? 0;
    this.last = from.entries.length > 0 ? from.entries[from.entries.length - 1]!.index : this.snapIndex;
    this.hs = from.hardState;
  }

  next(): Op {
    const r = this.random();
    const term = this.hs.term;
    if (r < 0.55 || this.last === 0) {
      const n = randInt(this.random, 1, 4);
      const es = Array.from({ length: n }, (_, i) => entry(this.last + 1 + i, term, 'p'.repeat(randInt(this.random, 0, 120)) + `${this.last + 1 + i}`));
      this.last += n;
      return { kind: 'save', snapshot: null, entries: es, hardState: this.random() < 0.7 ? this.bump(0) : null };
    }
    if (r < 0.68) {
      const floor = Math.max(this.snapIndex, this.hs.commit);
      if (this.last > floor) {
        const from = randInt(this.random, floor + 1, this.last);
        const n = randInt(this.random, 1, 3);
        const hs = this.bump(1);
        const es = Array.from({ length: n }, (_, i) => entry(from + i, hs.term, `t${from + i}`));
        this.last = from + n - 1;
        return { kind: 'save', snapshot: null, entries: es, hardState: hs };
      }
    }
    if (r < 0.78) return { kind: 'save', snapshot: null, entries: [], hardState: this.bump(this.random() < 0.5 ? 1 : 0) };
    if (r < 0.9 && this.hs.commit > this.snapIndex) {
      const idx = randInt(this.random, this.snapIndex + 1, this.hs.commit);
      this.snapIndex = idx;
      return { kind: 'snapshot', snapshot: snapshot(idx, term, `own${idx}`), compactTo: Math.max(0, idx - randInt(this.random, 0, 3)) };
    }
    const idx = Math.max(this.snapIndex, this.hs.commit) + randInt(this.random, 0, 6);
    this.snapIndex = idx;
    this.last = idx;
    const n = randInt(this.random, 0, 2);
    const hs = { term: term + 1, vote: null, commit: idx };
    this.hs = hs;
    const es = Array.from({ length: n }, (_, i) => entry(idx + 1 + i, hs.term));
    this.last += n;
    return { kind: 'save', snapshot: snapshot(idx, term + 1, `leader${idx}`), entries: es, hardState: hs };
  }

  /** A new hard state: commit moves up to somewhere in the log, the term moves up by `termStep`. */
  private bump(termStep: number): HardState {
    const commit = termStep > 0 ? this.hs.commit : Math.max(this.hs.commit, Math.min(this.last, this.hs.commit + randInt(this.random, 0, 3)));
    const term = this.hs.term + termStep;
    this.hs = { term, vote: termStep > 0 ? `n${randInt(this.random, 1, 3)}` : this.hs.vote, commit };
    return this.hs;
  }
}

/** Runs ops against `s` until the file system halts; returns candidate states the recovery may show. */
async function runUntilCrash(s: FileRaftStorage, fs: MemFileSystem, random: () => number, from: ModelState): Promise<{ allowed: Set<string>; acked: number }> {
  const work = new Workload(random, from);
  const states: ModelState[] = [from];
  let acked = 0; // index into `states` of the state after the last acknowledged save
  for (let round = 0; round < 40 && !fs.halted; round++) {
    const inFlight: Array<Promise<void>> = [];
    const concurrent = randInt(random, 1, 4);
    for (let k = 0; k < concurrent; k++) {
      const op = work.next();
      states.push(...recordStates(states[states.length - 1]!, op));
      const end = states.length - 1;
      const p = op.kind === 'save' ? s.save(op.snapshot, op.entries, op.hardState) : s.saveSnapshot(op.snapshot, op.compactTo);
      inFlight.push(p.then(() => { acked = Math.max(acked, end); }));
    }
    const results = await Promise.allSettled(inFlight);
    if (results.some((r) => r.status === 'rejected')) {
      for (const r of results) if (r.status === 'rejected') assert.ok(fs.halted, `a save failed without a crash: ${String(r.reason)}`);
      break;
    }
  }
  return { allowed: new Set(states.slice(acked).map(describe)), acked };
}

async function crashSeed(seed: number): Promise<void> {
  const random = prng(seed);
  let fs = new MemFileSystem({ random: prng(seed ^ 0x5eed) });
  let state: ModelState = EMPTY_STATE;
  for (let crash = 0; crash < 2; crash++) {
    const s = openFileStorage(DIR, OPTS, fs);
    const r = await s.open();
    assert.equal(describe(r), describe(state), `seed ${seed}: reopen shows the state recovered before`);
    fs.crashAfter(randInt(random, 1, 160));
    const { allowed } = await runUntilCrash(s, fs, random, state);
    const tear = TEARS[randInt(random, 0, 2)]!;
    fs.crash(tear);
    fs = fs.restart();
    if (random() < 0.3) {
      // Crash again inside recovery (cutting the torn tail, removing leftovers, creating a segment).
      fs.crashAfter(randInt(random, 1, 4));
      await openFileStorage(DIR, OPTS, fs)
        .open()
        .catch(() => undefined);
      fs.crash(TEARS[randInt(random, 0, 2)]!);
      fs = fs.restart();
    }
    const recovered = await openFileStorage(DIR, OPTS, fs).open();
    const got = describe(recovered);
    assert.ok(allowed.has(got), `seed ${seed} crash ${crash} (tear ${tear}): recovered state is not acknowledged-prefix + attempted suffix:\n${got}\nallowed:\n${[...allowed].join('\n')}`);
    state = { hardState: recovered.hardState, snapshot: recovered.snapshot, entries: recovered.entries };
    fs.crash(); // drop the recovering process (and its lock) before the next round
    fs = fs.restart();
  }
}

test(`storage survives ${SEEDS * 2} seeded crash points with exactly the acknowledged state`, async () => {
  for (let seed = 1; seed <= SEEDS; seed++) await crashSeed(seed);
});

test('durableWrites: a write is durable when it resolves, with no datasync; a failed one is not', async () => {
  const fs = new MemFileSystem({ random: prng(7) });
  await fs.mkdirp('/d');
  const durable = await fs.open('/d/a', 'createOrTruncate', { durableWrites: true });
  const plain = await fs.open('/d/b', 'createOrTruncate');
  await fs.syncDir('/d');
  await durable.writev([Buffer.from('kept')], 0);
  await plain.writev([Buffer.from('lost')], 0);
  fs.failFsync(1);
  await assert.rejects(durable.writev([Buffer.from('!')], 4), /injected fsync failure/);
  fs.crash('none');
  const after = fs.restart();
  assert.equal((await after.readFile('/d/a')).toString(), 'kept');
  assert.equal((await after.readFile('/d/b')).length, 0);
});
