// Log replication messages, both sides: what a leader sends each follower (appends in batches,
// snapshots, heartbeats, the transfer trigger) and how it reacts to their answers (progress,
// fast back-off, pipelining), and how a follower takes appends, heartbeats and snapshots.

import { invariant } from './invariant.js';
import type { RaftLog } from './log.js';
import type { Progress } from './progress.js';
import type { ReadOnly, ReadRequest } from './readonly.js';
import type { AppendRequest, AppendResponse, ConfState, Entry, Heartbeat, HeartbeatResponse, Index, InstallSnapshot, Message, NodeId, RaftConfig, Role, Term } from './types.js';

/** What replication reads and calls of the node it runs in (the Raft class in raft.ts). */
export interface ReplicationHost {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly log: RaftLog;
  readonly term: Term;
  readonly role: Role;
  readonly conf: ConfState;
  readonly progress: ReadonlyMap<NodeId, Progress>;
  readonly transferee: NodeId | null;
  readonly readOnly: ReadOnly;
  send(m: Message): void;
  syncConf(): void;
  maybeCommit(): boolean;
  afterLeaderCommit(): void;
  releaseRead(index: Index, request: ReadRequest): void;
}

const NO_ENTRIES: readonly Entry[] = [];

/**
 * Sends `to` the next batch of entries (or a snapshot when they are compacted away). With
 * `sendIfEmpty`, sends an empty append when there is nothing new (to carry the commit index or
 * to find out where the follower stands). Returns whether anything was sent.
 */
export function sendAppend(r: ReplicationHost, to: NodeId, sendIfEmpty: boolean): boolean {
  const pr = r.progress.get(to);
  if (pr === undefined || pr.isPaused()) return false;
  const prevIndex = pr.next - 1;
  const prevTerm = r.log.term(prevIndex);
  if (prevTerm === undefined) return sendSnapshot(r, to, pr);
  const entries =
    pr.next <= r.log.lastIndex()
      ? r.log.slice(pr.next, r.cfg.maxEntriesPerMessage, r.cfg.maxBytesPerMessage)
      : NO_ENTRIES;
  if (entries.length === 0 && !sendIfEmpty) return false;
  r.send({ type: 'append', from: r.id, to, term: r.term, prevIndex, prevTerm, entries, commit: r.log.committed });
  pr.sentEntries(entries.length > 0 ? entries[entries.length - 1]!.index : undefined);
  pr.sentCommit = r.log.committed;
  return true;
}

function sendSnapshot(r: ReplicationHost, to: NodeId, pr: Progress): boolean {
  const snapshot = r.log.snapshot;
  invariant(snapshot !== null, 'log compacted without a snapshot');
  r.send({ type: 'snapshot', from: r.id, to, term: r.term, snapshot });
  pr.becomeSnapshot(snapshot.meta.index);
  return true;
}

export function sendTimeoutNow(r: ReplicationHost, to: NodeId): void {
  r.send({ type: 'timeoutNow', from: r.id, to, term: r.term });
}

export function bcastAppend(r: ReplicationHost, sendIfEmpty: boolean): void {
  for (const id of r.progress.keys()) sendAppend(r, id, sendIfEmpty);
}

/**
 * A leader tells its followers a new commit index once per Ready, not once per acknowledgement,
 * and not while its own write runs: the appends it sends when the write ends carry it anyway.
 */
function commitToSpread(r: ReplicationHost): boolean {
  return r.role === 'leader' && r.log.persisted >= r.log.stable;
}

/** An append may go to the follower now, and the commit index it carries would move the follower's. */
function commitMoves(r: ReplicationHost, pr: Progress): boolean {
  return !pr.isPaused() && pr.canBumpCommit(r.log.committed);
}

export function commitBumpDue(r: ReplicationHost): boolean {
  if (!commitToSpread(r)) return false;
  for (const pr of r.progress.values()) if (commitMoves(r, pr)) return true;
  return false;
}

/** Sends the commit index to every follower it could move (see commitToSpread). */
export function bumpCommits(r: ReplicationHost): void {
  if (!commitToSpread(r)) return;
  for (const [id, pr] of r.progress) if (commitMoves(r, pr)) sendAppend(r, id, true);
}

export function bcastHeartbeat(r: ReplicationHost, context: string): void {
  for (const [to, pr] of r.progress) {
    // Never more than the follower is known to have: its log may still differ beyond `match`.
    const commit = Math.min(pr.match, r.log.committed);
    r.send({ type: 'heartbeat', from: r.id, to, term: r.term, commit, context });
  }
}

export function handleAppend(r: ReplicationHost, m: AppendRequest): void {
  if (m.prevIndex < r.log.committed) {
    sendAppendResp(r, m.from, r.log.committed, false, 0, 0);
    return;
  }
  const lastNew = r.log.maybeAppend(m.prevIndex, m.prevTerm, m.entries);
  if (lastNew >= 0) {
    r.syncConf();
    r.log.commitTo(Math.min(m.commit, lastNew));
    sendAppendResp(r, m.from, lastNew, false, 0, 0);
    return;
  }
  const hintIndex = r.log.findConflictByTerm(Math.min(m.prevIndex, r.log.lastIndex()), m.prevTerm);
  sendAppendResp(r, m.from, m.prevIndex, true, hintIndex, r.log.term(hintIndex) ?? 0);
}

function sendAppendResp(r: ReplicationHost, to: NodeId, index: Index, reject: boolean, hintIndex: Index, hintTerm: Term): void {
  r.send({ type: 'appendResp', from: r.id, to, term: r.term, index, reject, hintIndex, hintTerm });
}

export function handleHeartbeat(r: ReplicationHost, m: Heartbeat): void {
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()));
  r.send({ type: 'heartbeatResp', from: r.id, to: m.from, term: r.term, context: m.context });
}

export function handleSnapshot(r: ReplicationHost, m: InstallSnapshot): void {
  const { index, term } = m.snapshot.meta;
  if (index <= r.log.committed) {
    sendAppendResp(r, m.from, r.log.committed, false, 0, 0);
  } else if (r.log.matchTerm(index, term)) {
    // We already hold the snapshot's last entry, hence everything before it: just commit.
    r.log.commitTo(index);
    sendAppendResp(r, m.from, index, false, 0, 0);
  } else {
    r.log.restore(m.snapshot);
    r.syncConf();
    sendAppendResp(r, m.from, index, false, 0, 0);
  }
}

export function handleAppendResp(r: ReplicationHost, m: AppendResponse, pr: Progress): void {
  pr.recentActive = true;
  if (m.reject) {
    // Fast back-off: skip every entry of a term the follower cannot have.
    const probeFrom = r.log.findConflictByTerm(m.hintIndex, m.hintTerm);
    if (pr.maybeDecreaseTo(m.index, probeFrom)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, m.from, true);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) return;
  if (pr.state === 'probe') {
    pr.becomeReplicate();
  } else if (pr.state === 'snapshot') {
    if (pr.match >= pr.pendingSnapshot || pr.match + 1 >= r.log.firstIndex()) {
      pr.becomeProbe();
      pr.becomeReplicate();
    }
  } else {
    pr.inflights.freeUpTo(m.index);
  }
  if (r.maybeCommit()) {
    r.afterLeaderCommit();
    if (r.role !== 'leader') return;
  } else if (wasPaused) {
    sendAppend(r, m.from, false);
  }
  // Pipelining: fill the in-flight window.
  while (sendAppend(r, m.from, false));
  if (m.from === r.transferee && pr.match === r.log.lastIndex()) sendTimeoutNow(r, m.from);
}

export function handleHeartbeatResp(r: ReplicationHost, m: HeartbeatResponse, pr: Progress): void {
  pr.recentActive = true;
  pr.probeSent = false;
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
  if (pr.match < r.log.lastIndex()) sendAppend(r, m.from, true);
  if (m.context === '') return;
  for (const read of r.readOnly.ack(m.context, m.from, r.conf.voters)) r.releaseRead(read.index, read.request);
}
