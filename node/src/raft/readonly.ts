// ReadIndex bookkeeping on a leader: each read is a round that records the commit index when it
// arrived and is confirmed once a majority of voters answered a heartbeat carrying its round id.
// Confirming a round confirms every older one too (rounds are queued in order). Reads that arrive
// before the leader committed an entry of its own term wait in a separate queue.

import { invariant } from './invariant.js';
import { majority } from './quorum.js';
import type { Index, NodeId } from './types.js';

/** Most reads a leader holds at once (waiting for a commit in its term, or for a heartbeat quorum). */
export const MAX_PENDING_READS = 10_000;

/** A read request: `requester` is the leader itself or the follower that forwarded it. */
export interface ReadRequest {
  readonly requester: NodeId;
  readonly context: string;
}

interface ReadRound {
  readonly id: string;
  readonly index: Index;
  readonly request: ReadRequest;
  readonly acks: Set<NodeId>;
}

export interface ConfirmedRead {
  readonly index: Index;
  readonly request: ReadRequest;
}

export class ReadOnly {
  private rounds: ReadRound[] = [];
  private readonly byId = new Map<string, ReadRound>();
  private waitingForCommit: ReadRequest[] = [];
  private nextRound = 1;

  size(): number {
    return this.rounds.length + this.waitingForCommit.length;
  }

  full(): boolean {
    return this.size() >= MAX_PENDING_READS;
  }

  /** Parks a read until the leader has committed an entry in its term. */
  defer(request: ReadRequest): void {
    invariant(!this.full(), 'read queue overflow');
    this.waitingForCommit.push(request);
  }

  takeDeferred(): ReadRequest[] {
    const out = this.waitingForCommit;
    this.waitingForCommit = [];
    return out;
  }

  /** Opens a round for `request` at commit index `index`; returns the heartbeat context to send. */
  start(request: ReadRequest, index: Index, term: number, self: NodeId, selfVotes: boolean): string {
    invariant(this.rounds.length < MAX_PENDING_READS, 'read queue overflow');
    const id = `${term}.${this.nextRound++}`;
    const round: ReadRound = { id, index, request, acks: new Set() };
    if (selfVotes) round.acks.add(self);
    this.rounds.push(round);
    this.byId.set(id, round);
    return id;
  }

  /**
   * A voter answered the heartbeat of round `id`. Returns the reads this confirms (in order), or
   * an empty list.
   */
  ack(id: string, from: NodeId, voters: readonly NodeId[]): ConfirmedRead[] {
    const round = this.byId.get(id);
    if (round === undefined) return [];
    round.acks.add(from);
    let acked = 0;
    for (const v of voters) if (round.acks.has(v)) acked++;
    if (acked < majority(voters.length)) return [];
    const done: ConfirmedRead[] = [];
    let n = 0;
    for (const r of this.rounds) {
      done.push({ index: r.index, request: r.request });
      this.byId.delete(r.id);
      n++;
      if (r === round) break;
    }
    this.rounds.splice(0, n);
    return done;
  }

  /**
   * Id of the newest unconfirmed round, '' if none. Regular heartbeats carry it, so a round whose
   * own heartbeats were lost is still confirmed by a later heartbeat quorum.
   */
  newestRound(): string {
    return this.rounds.length > 0 ? this.rounds[this.rounds.length - 1]!.id : '';
  }

  /** Leadership lost: every pending read is dropped (readers retry; see RaftCore.readIndex). */
  clear(): void {
    this.rounds = [];
    this.byId.clear();
    this.waitingForCommit = [];
  }
}
