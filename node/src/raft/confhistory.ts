// Which configuration holds at each point of the log. A configuration takes effect as soon as its
// entry is in the log (appended, not applied), so the history must follow the log exactly: a
// truncated conf entry is forgotten, and compaction folds old changes into the base.
//
// Why on append (Ongaro's dissertation §4.1) and not on apply (etcd's choice):
//  - Safety of single-server changes rests on "old and new majorities overlap", which holds only
//    if every node counts with the newest configuration it has. On apply, each node switches at a
//    different moment (when its state machine gets there), and etcd needs extra rules to stay safe
//    (a leader refuses a new change until it has applied the previous one, and a node must vote
//    and campaign from configurations it has not applied yet). On append, "at most one
//    uncommitted change" plus "the leader has committed an entry of its own term" is the whole rule.
//  - The configuration a node uses becomes a pure function of its log (and snapshot): restart,
//    truncation and snapshot install recompute it the same way, with no extra persisted state.
//  - A removed leader stops counting itself at once and steps down when the removal commits, and a
//    promoted learner counts toward quorum as soon as the leader appends the promotion.
// The price: truncating a conflicting suffix must roll the configuration back (truncatedFrom).

import { applyConfChange, EMPTY_CONF, parseConfChange } from './confchange.js';
import { invariant } from './invariant.js';
import type { ConfState, Entry, Index } from './types.js';

interface ConfPoint {
  readonly index: Index;
  readonly conf: ConfState;
}

export class ConfHistory {
  /** The configuration at `baseIndex`, the log's compaction point. */
  private base: ConfPoint;
  /** One point per conf entry after `baseIndex`, in index order. */
  private readonly points: ConfPoint[] = [];
  /** Bumped whenever the current configuration changes (append, truncation, restore). */
  version = 0;

  constructor(baseIndex: Index, baseConf: ConfState = EMPTY_CONF) {
    this.base = { index: baseIndex, conf: baseConf };
  }

  current(): ConfState {
    return this.points.length > 0 ? this.points[this.points.length - 1]!.conf : this.base.conf;
  }

  /** Index of the newest conf entry in the log, 0 when there is none after the base. */
  lastConfIndex(): Index {
    return this.points.length > 0 ? this.points[this.points.length - 1]!.index : 0;
  }

  /** The configuration in force once the log holds every entry up to `index`. */
  at(index: Index): ConfState {
    invariant(index >= this.base.index, 'configuration asked for below the compaction point');
    for (let i = this.points.length - 1; i >= 0; i--) {
      if (this.points[i]!.index <= index) return this.points[i]!.conf;
    }
    return this.base.conf;
  }

  /** Follows newly appended entries (only conf entries matter). */
  appended(entries: readonly Entry[]): void {
    for (const e of entries) {
      if (e.type !== 'conf') continue;
      const cc = parseConfChange(e.data);
      invariant(cc !== null, `conf entry ${e.index} does not decode`);
      this.points.push({ index: e.index, conf: applyConfChange(this.current(), cc) });
      this.version++;
    }
  }

  /** Forgets conf entries at `from` and after (a conflicting suffix was cut). */
  truncatedFrom(from: Index): void {
    let n = this.points.length;
    while (n > 0 && this.points[n - 1]!.index >= from) n--;
    if (n !== this.points.length) {
      this.points.length = n;
      this.version++;
    }
  }

  /** Folds every change up to `index` into the base (the log was compacted up to `index`). */
  compactedTo(index: Index): void {
    if (index <= this.base.index) return;
    const conf = this.at(index);
    let drop = 0;
    while (drop < this.points.length && this.points[drop]!.index <= index) drop++;
    this.points.splice(0, drop);
    this.base = { index, conf };
  }

  /** Replaces everything with a snapshot's configuration. */
  reset(index: Index, conf: ConfState): void {
    this.base = { index, conf };
    this.points.length = 0;
    this.version++;
  }
}
