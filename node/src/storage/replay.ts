// Replays WAL records, in order, into the state they describe: hard state, snapshot mark and the
// contiguous run of live entries. Pure (no I/O): recovery feeds it and the tests drive it directly.
//
// Rules: the last hard state record wins; a snapshot mark makes every entry at or below its index
// dead (a `reset` mark, from a leader's snapshot, kills the whole log before it); an entry record at
// an index already present replaces it and every later entry (that is how a conflicting suffix is
// truncated: no separate record, no rewrite of the file). An entry beyond the last + 1 is a gap.
// Entries below the run (in segments compaction removed) are unknown, not missing: the first entry
// record seen may start anywhere, and an entry below the run's first index replaces the whole run.
// `finish` then checks that the run joins the final snapshot: if the unknown part was not covered
// by it, entries are missing. (A gap above the run's last entry can never be valid.)
import type { Entry, HardState } from '../raft/types.js';
import type { SnapshotMark, WalRecord } from './codec.js';
import { StorageError } from './errors.js';

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: null, commit: 0 };

interface Where {
  readonly file: string;
  readonly offset: number;
}

export interface Replayed {
  readonly hardState: HardState;
  readonly mark: SnapshotMark | null;
  /** Live entries after the mark, contiguous from mark.index + 1 (or from 1 with no mark). */
  readonly entries: Entry[];
}

function missing(where: Where, what: string): StorageError {
  return new StorageError('STORAGE_MISSING_SEGMENT', `${what}: found at ${where.file} byte offset ${where.offset}; refusing to start, data left untouched`, where);
}

export class LogReplay {
  private hardState: HardState = EMPTY_HARD_STATE;
  private mark: SnapshotMark | null = null;
  private entries: Entry[] = [];
  private sawEntry = false;
  /** Where the current run of entries started, for the error if it does not join the snapshot. */
  private runStart: Where | null = null;

  private get snapIndex(): number {
    return this.mark?.index ?? 0;
  }

  apply(rec: WalRecord, where: Where): void {
    switch (rec.kind) {
      case 'hardState':
        this.hardState = rec.hardState;
        return;
      case 'snapshot':
        this.applyMark(rec.mark);
        return;
      case 'entry':
        this.applyEntry(rec.entry, where);
        return;
    }
  }

  private applyMark(mark: SnapshotMark): void {
    this.mark = mark;
    if (mark.reset) {
      this.entries = [];
      this.runStart = null;
      return;
    }
    const keepFrom = this.entries.findIndex((e) => e.index > mark.index);
    this.entries = keepFrom < 0 ? [] : this.entries.slice(keepFrom);
  }

  private applyEntry(e: Entry, where: Where): void {
    const first = this.sawEntry === false;
    this.sawEntry = true;
    if (e.index <= this.snapIndex) return; // covered by the snapshot
    const n = this.entries.length;
    if (n === 0) {
      if (e.index !== this.snapIndex + 1 && !first) throw missing(where, `log gap: entry ${e.index} follows index ${this.snapIndex}`);
      this.entries.push(e);
      this.runStart = where;
      return;
    }
    const lo = this.entries[0]!.index;
    const hi = this.entries[n - 1]!.index;
    if (e.index > hi + 1) throw missing(where, `log gap: entry ${e.index} follows entry ${hi}`);
    if (e.index < lo) {
      this.entries = [e];
      this.runStart = where;
      return;
    }
    this.entries.length = e.index - lo;
    this.entries.push(e);
  }

  finish(): Replayed {
    const head = this.entries[0];
    if (head !== undefined && head.index !== this.snapIndex + 1) {
      throw missing(this.runStart!, `entries ${this.snapIndex + 1}..${head.index - 1} are missing (a removed or lost segment)`);
    }
    return { hardState: this.hardState, mark: this.mark, entries: this.entries };
  }
}
