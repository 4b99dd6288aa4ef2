// The core's in-memory log: the snapshot it starts from, the entries after the compaction point,
// which of them are already persisted (stable) or still to persist (the unstable suffix), the
// commit and apply cursors, and the configuration history that follows the log.

import { ConfHistory } from './confhistory.js';
import { invariant } from './invariant.js';
import type { Entry, Index, Snapshot, Term } from './types.js';

/** Bytes an entry counts for in batching limits: its data plus a fixed framing estimate. */
export const ENTRY_OVERHEAD_BYTES = 24;

export function entryBytes(e: Entry): number {
  return e.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

export class RaftLog {
  /** Index of the last compacted entry (0: nothing compacted); `entries[0]` is at offset + 1. */
  private offset: Index;
  private offsetTerm: Term;
  private readonly entries: Entry[] = [];
  /** Entries up to here are durable or handed out for persisting by the pending Ready. */
  stable: Index;
  /** Entries up to here are durable: acknowledged by advance() or persisted(). */
  persisted: Index;
  committed: Index;
  /** Entries up to here were handed out to be applied (by this or an earlier Ready). */
  applying: Index;
  /** Entries up to here are applied (acknowledged by advance()). */
  applied: Index;
  /** The newest snapshot: what a follower that fell behind the compaction point receives. */
  snapshot: Snapshot | null;
  /** A snapshot received from the leader that the driver has not been handed yet. */
  unstableSnapshot: Snapshot | null = null;
  readonly confs: ConfHistory;

  constructor(snapshot: Snapshot | null, entries: readonly Entry[], commit: Index, applied: Index) {
    this.snapshot = snapshot;
    this.offset = snapshot?.meta.index ?? 0;
    this.offsetTerm = snapshot?.meta.term ?? 0;
    this.confs = new ConfHistory(this.offset, snapshot?.meta.conf);
    // Storage may keep a few entries the snapshot covers (compact's `retain`): they are not needed.
    let skip = 0;
    while (skip < entries.length && entries[skip]!.index <= this.offset) skip++;
    if (skip > 0) entries = entries.slice(skip);
    for (let i = 0; i < entries.length; i++) {
      invariant(entries[i]!.index === this.offset + 1 + i, 'restored entries are not contiguous after the snapshot');
      if (i > 0) invariant(entries[i]!.term >= entries[i - 1]!.term, 'restored entry terms decrease');
    }
    if (entries.length > 0) invariant(entries[0]!.term >= this.offsetTerm, 'restored entry term below snapshot term');
    this.entries.push(...entries);
    this.confs.appended(entries);
    this.stable = this.lastIndex();
    this.persisted = this.stable;
    this.committed = Math.max(commit, this.offset);
    invariant(this.committed <= this.lastIndex(), 'restored commit index is past the last entry');
    this.applied = Math.max(applied, this.offset);
    invariant(this.applied <= this.committed, 'restored applied index is past the commit index');
    this.applying = this.applied;
  }

  firstIndex(): Index {
    return this.offset + 1;
  }

  lastIndex(): Index {
    return this.offset + this.entries.length;
  }

  lastTerm(): Term {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.term : this.offsetTerm;
  }

  /** Term of the entry at `index`, or undefined when it is compacted away or beyond the end. */
  term(index: Index): Term | undefined {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offset - 1]!.term;
  }

  matchTerm(index: Index, term: Term): boolean {
    return this.term(index) === term;
  }

  entry(index: Index): Entry {
    invariant(index > this.offset && index <= this.lastIndex(), `entry ${index} is not in the log`);
    return this.entries[index - this.offset - 1]!;
  }

  /** Is a log ending at (lastIndex, lastTerm) at least as up to date as ours (the vote check)? */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries from `from` on, at most `maxCount` and `maxBytes` (but always one when any exists).
   * `from` must not be compacted.
   */
  slice(from: Index, maxCount: number, maxBytes: number): Entry[] {
    invariant(from > this.offset, `slice from compacted index ${from}`);
    const out: Entry[] = [];
    let bytes = 0;
    const last = this.lastIndex();
    for (let i = from; i <= last && out.length < maxCount; i++) {
      const e = this.entries[i - this.offset - 1]!;
      bytes += entryBytes(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** The leader appends new entries at the end of its own log. */
  append(entries: readonly Entry[]): void {
    let expected = this.lastIndex() + 1;
    let term = this.lastTerm();
    for (const e of entries) {
      invariant(e.index === expected, `append at ${e.index}, expected ${expected}`);
      invariant(e.term >= term, 'appended entry term decreases');
      this.entries.push(e);
      expected++;
      term = e.term;
    }
    this.confs.appended(entries);
  }

  /**
   * A follower takes entries after (prevIndex, prevTerm). Returns the index of the last new entry,
   * or -1 when the log does not contain prevIndex with prevTerm (the leader must back off).
   */
  maybeAppend(prevIndex: Index, prevTerm: Term, entries: readonly Entry[]): Index {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNew = prevIndex + entries.length;
    let i = 0;
    // Skip entries we already have (same index and term ⇒ same entry, by log matching).
    while (i < entries.length && this.matchTerm(entries[i]!.index, entries[i]!.term)) i++;
    if (i === entries.length) return lastNew;
    const conflict = entries[i]!.index;
    if (conflict <= this.lastIndex()) {
      invariant(conflict > this.committed, `conflicting entry ${conflict} is at or below commit ${this.committed}`);
      this.truncateFrom(conflict);
    }
    this.append(i === 0 ? entries : entries.slice(i));
    return lastNew;
  }

  private truncateFrom(index: Index): void {
    this.entries.length = index - this.offset - 1;
    this.stable = Math.min(this.stable, index - 1);
    this.persisted = Math.min(this.persisted, index - 1);
    this.confs.truncatedFrom(index);
  }

  /**
   * Where to probe next after a rejection: the largest index ≤ `index` whose term is ≤ `term`.
   * Every entry above it has a term the other side cannot match. Stops at the compaction point
   * (or below it, when `index` is): the caller then learns the answer is in the snapshot.
   */
  findConflictByTerm(index: Index, term: Term): Index {
    let i = Math.min(index, this.lastIndex());
    while (i > this.offset && this.term(i)! > term) i--;
    return i;
  }

  commitTo(index: Index): void {
    if (index <= this.committed) return;
    invariant(index <= this.lastIndex(), `commit ${index} past last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    const { index, term, conf } = snapshot.meta;
    invariant(index > this.committed, 'restoring a snapshot at or below commit');
    this.entries.length = 0;
    this.offset = index;
    this.offsetTerm = term;
    this.stable = index;
    this.persisted = index;
    this.committed = index;
    this.applying = index;
    this.snapshot = snapshot;
    this.unstableSnapshot = snapshot;
    this.confs.reset(index, conf);
  }

  /**
   * The driver snapshotted the state machine at `index` (≤ applied): keep the snapshot for
   * followers and drop entries up to `index - retain`. Returns the snapshot kept.
   */
  compact(index: Index, data: Uint8Array, retain: number): Snapshot {
    invariant(Number.isInteger(index) && index >= 1, 'compact index must be a positive integer');
    invariant(Number.isInteger(retain) && retain >= 0, 'compact retain must be a non-negative integer');
    invariant(index <= this.applied, `compact at ${index} beyond applied ${this.applied}`);
    if (this.snapshot !== null && index <= this.snapshot.meta.index) return this.snapshot;
    const term = this.term(index);
    invariant(term !== undefined, `compact at ${index}: entry already compacted`);
    this.snapshot = { meta: { index, term, conf: this.confs.at(index) }, data };
    const dropTo = index - retain;
    if (dropTo > this.offset) {
      this.offsetTerm = this.term(dropTo)!;
      this.entries.splice(0, dropTo - this.offset);
      this.offset = dropTo;
      this.confs.compactedTo(dropTo);
    }
    return this.snapshot;
  }

  /** Entries not yet handed out for persisting. */
  unstableEntries(): Entry[] {
    return this.stable >= this.lastIndex() ? [] : this.entries.slice(this.stable - this.offset);
  }

  /**
   * The next committed entries to apply (at most `max`): only those durable here. An entry
   * committed by the others' acknowledgements while this node's own write of it still runs waits
   * for that write, so the state machine never holds an entry the log on disk lacks.
   */
  nextCommitted(max: number): Entry[] {
    const from = this.applying + 1;
    const to = Math.min(this.committed, this.persisted, this.applying + max);
    if (to < from) return [];
    return this.entries.slice(from - this.offset - 1, to - this.offset);
  }

  hasNextCommitted(): boolean {
    return this.applying < Math.min(this.committed, this.persisted);
  }
}
