// Shared test helpers for the storage tests: a seeded PRNG, entry/snapshot builders, and a model
// of what a sequence of saves means (the state after each record), to check recoveries against.
import type { ConfState, Entry, HardState, Snapshot } from '../../../src/raft/types.js';
import type { Recovered } from '../../../src/storage/types.js';
import { seededRandom } from '../../../src/sim/prng.js';

/** Seeded uniform source: the project's PRNG (sim/prng.ts). */
export const prng = seededRandom;

export function randInt(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

export const CONF: ConfState = { voters: ['n1', 'n2', 'n3'], learners: [], addresses: { n1: 'a:1', n2: 'b:2', n3: 'c:3' } };

export function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: 'normal', data: Buffer.from(text) };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export function snapshot(index: number, term: number, text = `state@${index}`): Snapshot {
  return { meta: { index, term, conf: CONF }, data: Buffer.from(text) };
}

/** One operation on the storage, as the tests issue it. */
export type Op =
  | { readonly kind: 'save'; readonly snapshot: Snapshot | null; readonly entries: readonly Entry[]; readonly hardState: HardState | null }
  | { readonly kind: 'snapshot'; readonly snapshot: Snapshot; readonly compactTo: number };

export interface ModelState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
}

export const EMPTY_STATE: ModelState = { hardState: { term: 0, vote: null, commit: 0 }, snapshot: null, entries: [] };

/** The states after each record of `op`, in WAL order (snapshot mark, entries, hard state). */
export function recordStates(from: ModelState, op: Op): ModelState[] {
  const out: ModelState[] = [];
  let s = from;
  if (op.kind === 'snapshot') {
    const idx = op.snapshot.meta.index;
    out.push({ ...s, snapshot: op.snapshot, entries: s.entries.filter((e) => e.index > idx) });
    return out;
  }
  if (op.snapshot !== null) {
    s = { ...s, snapshot: op.snapshot, entries: [] };
    out.push(s);
  }
  for (const e of op.entries) {
    const kept = s.entries.filter((x) => x.index < e.index);
    s = { ...s, entries: [...kept, e] };
    out.push(s);
  }
  if (op.hardState !== null) {
    s = { ...s, hardState: op.hardState };
    out.push(s);
  }
  return out;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** A canonical text of a state, to compare a recovery with a model state. */
export function describe(s: ModelState | Recovered): string {
  const hs = `hs ${s.hardState.term}/${s.hardState.vote ?? '-'}/${s.hardState.commit}`;
  const snap = s.snapshot === null ? 'snap -' : `snap ${s.snapshot.meta.index}/${s.snapshot.meta.term}/${hex(s.snapshot.data)}/${JSON.stringify(s.snapshot.meta.conf)}`;
  const log = s.entries.map((e) => `${e.index}:${e.term}:${e.type}:${hex(e.data)}`).join(',');
  return `${hs} | ${snap} | ${log}`;
}
