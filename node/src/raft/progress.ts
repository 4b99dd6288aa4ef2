// What a leader knows about one follower's log: the match and next indexes, and the replication
// state. `probe`: one append at a time until the follower's position is found; `replicate`:
// optimistic pipelining inside a bounded in-flight window; `snapshot`: waiting for a snapshot to
// be installed, nothing else is sent.

import { Inflights } from './inflights.js';
import { invariant } from './invariant.js';
import type { Index, PeerProgress } from './types.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match: Index = 0;
  next: Index;
  state: ProgressState = 'probe';
  /** In probe state: an append is out and unanswered, so the next one waits (for a reply or a heartbeat reply). */
  probeSent = false;
  /** In snapshot state: the index of the snapshot sent. */
  pendingSnapshot: Index = 0;
  /** In snapshot state: a whole election timeout passed since the snapshot was sent. */
  snapshotStale = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** The incarnation the follower's answers carried (null before the first, or without incarnations). */
  incarnation: string | null = null;
  /** The commit index the last append sent to the follower carried. */
  sentCommit: Index = 0;
  readonly inflights: Inflights;

  constructor(next: Index, maxInflight: number, public voter: boolean) {
    invariant(next >= 1, 'progress next index must be ≥ 1');
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    // After a snapshot, the follower has at least the snapshot: probe from just past it.
    const from = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.reset('probe');
    this.next = from;
  }

  becomeReplicate(): void {
    this.reset('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: Index): void {
    this.reset('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  private reset(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotStale = false;
    this.inflights.reset();
  }

  /** A successful append answer up to `index`: returns false when it is stale (no news). */
  maybeUpdate(index: Index): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejected append of `rejected` (its prevIndex), with the leader's guess `probeFrom` of the
   * last index the follower may match. Returns false when the rejection is stale.
   */
  maybeDecreaseTo(rejected: Index, probeFrom: Index): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, probeFrom + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append sent with entries up to `last` (0 entries: `last` is undefined). */
  sentEntries(last: Index | undefined): void {
    if (this.state === 'replicate') {
      if (last !== undefined) {
        this.next = last + 1;
        this.inflights.add(last);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /**
   * Whether an append carrying commit index `commit` could move the follower's commit: not once
   * an earlier one carried a commit covering everything sent to it (etcd's CanBumpCommit).
   */
  canBumpCommit(commit: Index): boolean {
    return commit > this.sentCommit && this.sentCommit < this.next - 1;
  }

  /** No append may be sent now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  view(): PeerProgress {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      inflight: this.inflights.size,
      recentActive: this.recentActive,
      incarnation: this.incarnation,
      voter: this.voter,
    };
  }
}
