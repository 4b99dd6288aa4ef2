// An in-memory Raft log image: a snapshot point plus the contiguous entries after (or, when a
// compaction retained some, around) it, with the persistence rules of a Ready applied to it.
// Used as a node's view of its own log (what the checker inspects) and as the in-memory durable store.
import type { Entry, Index, Snapshot, Term } from '../raft/types.js';

export class SimLog {
  private snap: Snapshot | null = null;
  /** entries[k] has index firstEntryIndex + k; contiguous. */
  private entries: Entry[] = [];
  private firstEntryIndex: Index = 1;

  static from(snapshot: Snapshot | null, entries: readonly Entry[]): SimLog {
    const log = new SimLog();
    if (snapshot !== null) log.installSnapshot(snapshot);
    if (entries.length > 0) log.append(entries);
    return log;
  }

  get snapshot(): Snapshot | null {
    return this.snap;
  }

  get snapshotIndex(): Index {
    return this.snap === null ? 0 : this.snap.meta.index;
  }

  get lastIndex(): Index {
    const last = this.firstEntryIndex + this.entries.length - 1;
    return Math.max(last, this.snapshotIndex);
  }

  /** Term at `index`, 0 for index 0, undefined when the index is neither in the log nor the snapshot point. */
  term(index: Index): Term | undefined {
    if (index === 0) return 0;
    const entry = this.entry(index);
    if (entry !== undefined) return entry.term;
    if (this.snap !== null && index === this.snap.meta.index) return this.snap.meta.term;
    return undefined;
  }

  entry(index: Index): Entry | undefined {
    return this.entries[index - this.firstEntryIndex];
  }

  /** Entries strictly after the snapshot point, as a restart hands them to the core. */
  entriesAfterSnapshot(): Entry[] {
    const from = Math.max(this.snapshotIndex + 1, this.firstEntryIndex);
    return this.entries.slice(from - this.firstEntryIndex);
  }

  /**
   * Writes `batch` (contiguous): an entry at an index already held replaces it and every later one.
   * Returns how many held entries past the batch's end were dropped by that rule.
   */
  append(batch: readonly Entry[]): number {
    const first = batch[0];
    if (first === undefined) return 0;
    const oldLast = this.lastIndex;
    if (first.index > oldLast + 1) {
      throw new RangeError(`log gap: batch starts at ${first.index}, log ends at ${oldLast}`);
    }
    if (this.entries.length === 0) {
      this.firstEntryIndex = first.index;
    } else if (first.index < this.firstEntryIndex) {
      this.entries = [];
      this.firstEntryIndex = first.index;
    } else {
      this.entries.length = first.index - this.firstEntryIndex;
    }
    for (const entry of batch) this.entries.push(entry);
    const newLast = first.index + batch.length - 1;
    return Math.max(0, oldLast - newLast);
  }

  /** A snapshot received from a leader replaces the whole log. */
  installSnapshot(snapshot: Snapshot): void {
    this.snap = snapshot;
    this.entries = [];
    this.firstEntryIndex = snapshot.meta.index + 1;
  }

  /** A snapshot this node took: entries at or below `compactTo` go, later ones stay. */
  compact(snapshot: Snapshot, compactTo: Index): void {
    if (snapshot.meta.index > this.snapshotIndex) this.snap = snapshot;
    const drop = compactTo - this.firstEntryIndex + 1;
    if (drop > 0) {
      this.entries = this.entries.slice(Math.min(drop, this.entries.length));
      this.firstEntryIndex = compactTo + 1;
    }
  }
}
