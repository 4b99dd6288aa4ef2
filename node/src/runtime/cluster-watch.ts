// This node's view of who leads and who is a member, as a versioned value that application code
// and clients can watch: every change of role, leader, term or membership bumps the version and is
// handed to listeners (an embedded node's `on('change')`, the reactor runner) and to long polls
// (`GET /v1/cluster?watch=1&since=<version>`). Pure bookkeeping: the driver's callbacks feed it.
import assert from 'node:assert/strict';
import type { ConfState, Role, SoftState } from '../raft/types.js';

export interface ClusterState {
  readonly role: Role;
  readonly leader: string | null;
  readonly term: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}

export type ClusterAspect = 'role' | 'leader' | 'term' | 'members';

export interface ClusterChange {
  /** Increases by one with every change this node sees. */
  readonly version: number;
  readonly state: ClusterState;
  /** What differs from the state of the previous version. */
  readonly changed: readonly ClusterAspect[];
}

export type ClusterListener = (change: ClusterChange) => void;

/** Bound on concurrent long polls of one node; beyond it a poll answers at once. */
export const MAX_CLUSTER_WATCHERS = 1_024;

function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}

export class ClusterWatch {
  private change: ClusterChange;
  private readonly listeners = new Set<ClusterListener>();
  private watchers = 0;

  constructor(soft: SoftState, conf: Pick<ConfState, 'voters' | 'learners'>) {
    this.change = { version: 0, state: { role: soft.role, leader: soft.leader, term: soft.term, voters: [...conf.voters], learners: [...conf.learners] }, changed: [] };
  }

  get current(): ClusterChange {
    return this.change;
  }

  softState(s: SoftState): void {
    this.set({ ...this.change.state, role: s.role, leader: s.leader, term: s.term });
  }

  conf(c: Pick<ConfState, 'voters' | 'learners'>): void {
    this.set({ ...this.change.state, voters: [...c.voters], learners: [...c.learners] });
  }

  private set(next: ClusterState): void {
    const prev = this.change.state;
    const changed: ClusterAspect[] = [];
    if (next.role !== prev.role) changed.push('role');
    if (next.leader !== prev.leader) changed.push('leader');
    if (next.term !== prev.term) changed.push('term');
    if (!sameMembers(next.voters, prev.voters) || !sameMembers(next.learners, prev.learners)) changed.push('members');
    if (changed.length === 0) return;
    this.change = Object.freeze({ version: this.change.version + 1, state: Object.freeze(next), changed: Object.freeze(changed) });
    for (const listener of [...this.listeners]) listener(this.change);
  }

  /** Calls `listener` with every later change; returns the unsubscribe. */
  on(listener: ClusterListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The first version after `since`: at once when there is one already, else when it comes, or the
   * current one after `timeoutMs` (or when `signal` aborts, or when too many polls wait).
   */
  next(since: number, timeoutMs: number, signal?: AbortSignal): Promise<ClusterChange> {
    assert.ok(Number.isSafeInteger(since) && timeoutMs >= 0, 'ClusterWatch.next: bad arguments');
    if (this.change.version > since || this.watchers >= MAX_CLUSTER_WATCHERS || signal?.aborted === true) return Promise.resolve(this.change);
    this.watchers++;
    return new Promise((resolve) => {
      const finish = (): void => {
        this.watchers--;
        clearTimeout(timer);
        off();
        signal?.removeEventListener('abort', finish);
        resolve(this.change);
      };
      const off = this.on(finish);
      const timer = setTimeout(finish, timeoutMs);
      signal?.addEventListener('abort', finish);
    });
  }
}
