// The node's request paths: what a command, query, event publish or membership change does on
// this node. A follower forwards writes to the leader over the peer link (never onward again, so
// no loops); a refused or lost attempt is retried on the new leader within the request's deadline
// only when retrying cannot apply a command twice (never sent, refused before append, dropped by a
// new leader, or protected by idempotency keys). Linearizable reads go through ReadIndex.
import type { Caller } from '../catga/api.js';
import type { NodeId, RaftStatus } from '../raft/types.js';
import type { PeerTransport } from '../transport/types.js';
import type {
  ClusterView, CommandInput, CommandOutcome, Consistency, EventSubscription, NodeApi, Readiness, WireEvent,
} from '../server/api.js';
import type { RaftDriver } from '../driver/driver.js';
import { CatgaError, asCatgaError } from '../common/errors.js';
import type { PeerContact } from './peer-contact.js';
import { sleep, withDeadline } from './deadline.js';
import { JOIN_ATTEMPT_MS, MemberChanges } from './membership.js';
import { callRpc, JOIN_RPC, MEMBER_RPC, PROPOSE_RPC, QUERY_RPC, serveRpc, TRANSFER_RPC } from './peer-rpc.js';
import type { Logger } from '../common/logger.js';
import type { NodeMetrics } from './metrics.js';

/** What the service needs from the mediator (validation, entry encoding, queries, events). */
export interface MediatorPort {
  /** Validates and encodes commands as one log entry; throws CatgaError 400/403/404 on bad input or a refused caller. */
  encodeCommands(inputs: readonly CommandInput[], ts: number, caller?: Caller): Uint8Array;
  /** The same for the node's own commands (reactor progress), which clients cannot send. */
  encodeOwnCommands(inputs: readonly CommandInput[], ts: number): Uint8Array;
  encodePublish(type: string, data: unknown, ts: number): Uint8Array;
  /** The per-command outcomes of an applied command entry (what `StateMachine.apply` returned). */
  outcomes(applyResult: unknown): CommandOutcome[];
  /** The entry restamped by the leader: its time and its idempotency window (see catga/entry.ts). */
  stamp(data: Uint8Array, ts: number): Uint8Array;
  /** Validates a query before any waiting; throws CatgaError 400/403/404. Returns the query's declared consistency. */
  checkQuery(type: string, payload: unknown, caller?: Caller): Consistency;
  query(type: string, payload: unknown): Promise<CommandOutcome>;
  subscribe(from: number | null, types: ReadonlySet<string> | null, deliver: (events: readonly WireEvent[]) => void, onCompacted: () => void): EventSubscription;
}

/** How long to wait between attempts while there is no leader. */
const RETRY_PAUSE_MS = 25;
/** Most proposals a leader lets wait for a result (local and forwarded), beyond it: 429. */
export const MAX_PENDING_PROPOSALS = 16_384;

export interface ServiceOptions {
  readonly id: NodeId;
  /** This node's storage incarnation (storage/identity.ts). */
  readonly incarnation: string;
  readonly advertisePeer: string;
  readonly driver: RaftDriver;
  readonly transport: PeerTransport;
  readonly mediator: MediatorPort;
  readonly metrics: NodeMetrics;
  readonly log: Logger;
  readonly unsafeLocalLinearizable: boolean;
  readonly contact: PeerContact;
}

export class NodeService implements Omit<NodeApi, 'metrics' | 'isShuttingDown' | 'watchCluster' | 'state' | 'openapi' | 'backup'> {
  private readonly o: ServiceOptions;
  private pendingProposals = 0;
  /** The last time this node stamped on an entry as leader: stamps never go back. */
  private lastStampTs = 0;
  /** The leader's side of member changes (runtime/membership.ts). */
  private readonly members: MemberChanges;

  constructor(o: ServiceOptions) {
    this.o = o;
    this.members = new MemberChanges({ id: o.id, driver: o.driver, log: o.log, notLeader: () => this.notLeader() });
    const t = o.transport;
    serveRpc(t, PROPOSE_RPC, (_from, entry) => this.proposeHere(entry));
    serveRpc(t, QUERY_RPC, async (_from, { type, payload }) => {
      if (!o.driver.isLeader) throw this.notLeader();
      const index = o.driver.applied;
      return { index, outcome: await o.mediator.query(type, payload) };
    });
    serveRpc(t, MEMBER_RPC, (_from, r) => (r.op === 'add' ? this.members.add(r.id, r.address, r.voter, r.deadline, r.incarnation) : this.members.remove(r.id, r.deadline)));
    // A joining node asks any member it can reach; that member finds the leader for it.
    serveRpc(t, JOIN_RPC, (from, { id, address, deadline, incarnation }) => {
      if (id !== from) throw new CatgaError('INVALID_MEMBER', `${from} cannot ask to join as ${id}`, 400);
      return this.addMember(id, address, true, Math.min(deadline, Date.now() + JOIN_ATTEMPT_MS), incarnation);
    });
    serveRpc(t, TRANSFER_RPC, (_from, { to, deadline }) => this.transferHere(to, deadline));
  }

  // ---- commands and events -------------------------------------------------------------------

  async commands(inputs: readonly CommandInput[], deadline: number, caller?: Caller): Promise<{ index: number; outcomes: CommandOutcome[] }> {
    this.refuseOnFullDisk();
    const data = this.o.mediator.encodeCommands(inputs, Date.now(), caller);
    const retrySafe = inputs.every((c) => c.idempotencyKey !== null);
    return this.submit(data, deadline, retrySafe);
  }

  /** One of the node's own commands (see MediatorPort.encodeOwnCommands), routed like a client's. */
  async ownCommand(type: string, payload: unknown, deadline: number): Promise<{ index: number; outcome: CommandOutcome }> {
    this.refuseOnFullDisk();
    const data = this.o.mediator.encodeOwnCommands([{ type, payload, idempotencyKey: null }], Date.now());
    const { index, outcomes } = await this.submit(data, deadline, false);
    return { index, outcome: outcomes[0] as CommandOutcome };
  }

  async publish(type: string, data: unknown, deadline: number): Promise<{ index: number }> {
    this.refuseOnFullDisk();
    const entry = this.o.mediator.encodePublish(type, data, Date.now());
    const { index } = await this.submit(entry, deadline, false);
    return { index };
  }

  /**
   * A node whose disk is full takes no writes, even ones it would only forward: it could not
   * persist them itself, and a 507 tells the client (and whoever watches it) which node to fix.
   */
  private refuseOnFullDisk(): void {
    if (this.o.driver.diskFull) throw new CatgaError('DISK_FULL', `${this.o.id}'s disk is full: it takes no writes until there is room (reads of its state still work); send writes to another member`, 507);
  }

  /**
   * Gets `data` committed and applied by the leader, retrying across leader changes until the
   * deadline. Ambiguous failures (a timeout after the entry may have been appended) are retried
   * only when `retrySafe`; otherwise the client learns the outcome is unknown.
   */
  private submit(data: Uint8Array, deadline: number, retrySafe: boolean): Promise<{ index: number; outcomes: CommandOutcome[] }> {
    return this.onLeader('propose', deadline, () => withDeadline(this.proposeHere(data), deadline, 'command'),
      (leader, left) => callRpc(this.o.transport, leader, PROPOSE_RPC, data, left), (e) => this.mayRetry(e, retrySafe));
  }

  /** Refusals that prove nothing was appended, or any refusal when idempotency keys make retries safe. */
  private mayRetry(e: CatgaError, retrySafe: boolean): boolean {
    switch (e.code) {
      case 'NOT_LEADER': case 'NO_LEADER': case 'TRANSFER_IN_PROGRESS': case 'PROPOSAL_DROPPED': case 'PEER_UNAVAILABLE': case 'PEER_OVERLOADED':
        return true;
      case 'PEER_TIMEOUT': case 'PEER_LOST': case 'TIMEOUT': case 'OUTCOME_UNKNOWN':
        return retrySafe;
      default:
        return false;
    }
  }

  /**
   * Proposes on this leader and answers with the commands' outcomes only: a forwarded answer
   * carries no more than the caller returns (not the entry's events).
   */
  private async proposeHere(data: Uint8Array): Promise<{ index: number; outcomes: CommandOutcome[] }> {
    if (!this.o.driver.isLeader) throw this.notLeader();
    if (this.pendingProposals >= MAX_PENDING_PROPOSALS) throw new CatgaError('OVERLOADED', `more than ${MAX_PENDING_PROPOSALS} commands waiting to commit`, 429);
    this.pendingProposals++;
    let applied: { index: number; result: unknown };
    try {
      this.lastStampTs = Math.max(this.lastStampTs, Date.now());
      applied = await this.o.driver.propose(this.o.mediator.stamp(data, this.lastStampTs));
    } finally {
      this.pendingProposals--;
    }
    return { index: applied.index, outcomes: this.o.mediator.outcomes(applied.result) };
  }

  private notLeader(): CatgaError {
    const leader = this.o.driver.softState.leader;
    return new CatgaError('NOT_LEADER', leader ? `the leader is ${leader}` : 'no leader is known', 503, leader);
  }

  // ---- queries -------------------------------------------------------------------------------

  async query(type: string, payload: unknown, requested: Consistency | null, deadline: number, caller?: Caller): Promise<{ index: number; outcome: CommandOutcome; consistency: Consistency }> {
    const { driver, mediator } = this.o;
    const declared = mediator.checkQuery(type, payload, caller);
    const consistency = requested ?? declared;
    const here = async () => {
      const index = driver.applied;
      return { index, outcome: await mediator.query(type, payload) };
    };
    if (consistency === 'local' || (consistency === 'linearizable' && this.o.unsafeLocalLinearizable)) return { ...(await here()), consistency };
    if (consistency === 'linearizable') {
      const index = await this.readIndex(deadline);
      await withDeadline(driver.waitApplied(index), deadline, 'linearizable read');
      return { ...(await here()), consistency };
    }
    const served = await this.onLeader('query', deadline, here,
      (leader, left) => callRpc(this.o.transport, leader, QUERY_RPC, { type, payload }, left));
    return { ...served, consistency };
  }

  private async readIndex(deadline: number): Promise<number> {
    let last: CatgaError | null = null;
    while (Date.now() < deadline) {
      if (this.o.driver.softState.leader === null) { await sleep(RETRY_PAUSE_MS); continue; }
      try {
        return await withDeadline(this.o.driver.readIndex(), deadline, 'linearizable read');
      } catch (err) {
        last = asCatgaError(err);
        if (!last.retryable || last.code === 'TIMEOUT') throw last;
        await sleep(RETRY_PAUSE_MS);
      }
    }
    throw new CatgaError('NO_LEADER', `no leader confirmed a read index within the deadline${last ? ` (last: ${last.code})` : ''}`, 503);
  }

  /**
   * Runs `here` on the leader: locally if this node leads, else through `remote`, retried on
   * leader changes while `retry` says the failure proves a new attempt is safe (by default: the
   * call never reached a leader).
   */
  private async onLeader<T>(what: string, deadline: number, here: () => Promise<T> | T,
    remote: (leader: NodeId, leftMs: number) => Promise<T>,
    retry: (e: CatgaError) => boolean = (e) => e.code === 'NOT_LEADER' || e.code === 'PEER_UNAVAILABLE' || e.code === 'NO_LEADER'): Promise<T> {
    let last: CatgaError | null = null;
    while (Date.now() < deadline) {
      const leader = this.o.driver.softState.leader;
      try {
        if (leader === this.o.id) return await here();
        if (leader === null) { await sleep(RETRY_PAUSE_MS); continue; }
        this.o.metrics.forwarded.inc({ kind: what });
        return await remote(leader, Math.max(1, deadline - Date.now()));
      } catch (err) {
        last = asCatgaError(err);
        if (!retry(last)) throw last;
        // A refusal naming a different leader is followed at once; anything else waits a little.
        await sleep(last.code === 'NOT_LEADER' && last.leader !== null && last.leader !== leader ? 0 : RETRY_PAUSE_MS);
      }
    }
    throw new CatgaError('NO_LEADER', `${what}: no leader within the deadline${last ? ` (last: ${last.code})` : ''}`, 503);
  }

  subscribe(from: number | null, types: ReadonlySet<string> | null, deliver: (events: readonly WireEvent[]) => void, onCompacted: () => void): EventSubscription {
    return this.o.mediator.subscribe(from, types, deliver, onCompacted);
  }

  // ---- cluster view and membership -----------------------------------------------------------

  cluster(): ClusterView {
    const st = this.o.driver.status();
    const isLeader = st.role === 'leader';
    const members = [
      ...st.conf.voters.map((id) => ({ id, voter: true })),
      ...st.conf.learners.map((id) => ({ id, voter: false })),
    ].map(({ id, voter }) => {
      const p = st.progress[id];
      const self = id === st.id;
      return {
        id,
        address: st.conf.addresses[id] ?? '',
        voter,
        matchIndex: self ? st.lastIndex : p?.match ?? 0,
        healthy: self ? true : isLeader ? p?.recentActive ?? false : id === st.leader,
        incarnation: st.conf.incarnations?.[id] ?? null,
      };
    });
    return {
      id: st.id, role: st.role, term: st.term, leader: st.leader, commitIndex: st.commit,
      appliedIndex: this.o.driver.applied, lastLogIndex: st.lastIndex, incarnation: this.o.incarnation, members,
      quorum: this.o.contact.view(st, Date.now()),
    };
  }

  readiness(): Readiness {
    const st = this.o.driver.status();
    const isLeader = st.role === 'leader';
    const appliedIndex = this.o.driver.applied;
    if (st.leader === null) return { ready: false, reason: 'no leader is known', isLeader, appliedIndex };
    if (!(st.id in st.conf.addresses)) return { ready: false, reason: 'this node is not a member yet', isLeader, appliedIndex };
    const recorded = st.conf.incarnations?.[st.id];
    if (recorded !== undefined && recorded !== this.o.incarnation) {
      const reason = `this node's data directory is new (incarnation ${this.o.incarnation}) and the cluster knows it as incarnation ${recorded}: waiting for the leader to replace it`;
      return { ready: false, reason, isLeader, appliedIndex };
    }
    if (appliedIndex < st.commit) return { ready: false, reason: `applied index ${appliedIndex} is behind commit index ${st.commit}`, isLeader, appliedIndex };
    return { ready: true, reason: isLeader ? 'leader' : `following ${st.leader}`, isLeader, appliedIndex };
  }

  /** `incarnation`: the storage incarnation the member speaks as, when it asked itself (join). */
  addMember(id: string, address: string, voter: boolean, deadline: number, incarnation?: string): Promise<{ index: number }> {
    return this.onLeader('member', deadline, () => this.members.add(id, address, voter, deadline, incarnation),
      (leader, left) => callRpc(this.o.transport, leader, MEMBER_RPC, { op: 'add', id, address, voter, deadline, incarnation }, left));
  }

  removeMember(id: string, deadline: number): Promise<{ index: number }> {
    return this.onLeader('member', deadline, () => this.members.remove(id, deadline),
      (leader, left) => callRpc(this.o.transport, leader, MEMBER_RPC, { op: 'remove', id, deadline }, left));
  }

  transferLeadership(to: string | null, deadline: number): Promise<{ leader: string }> {
    const driver = this.o.driver;
    // A pod's preStop hook asks every node: on a follower with no target there is nothing to do.
    if (to === null && !driver.isLeader && driver.softState.leader !== null) return Promise.resolve({ leader: driver.softState.leader });
    return this.onLeader('transfer', deadline, () => this.transferHere(to, deadline),
      (leader, left) => callRpc(this.o.transport, leader, TRANSFER_RPC, { to, deadline }, left));
  }

  private async transferHere(to: string | null, deadline: number): Promise<{ leader: string }> {
    const driver = this.o.driver;
    if (!driver.isLeader) throw this.notLeader();
    const st = driver.status();
    const target = to ?? this.bestTransferTarget(st);
    if (target === null) throw new CatgaError('NO_TRANSFER_TARGET', 'no other voter is healthy enough to take over', 409);
    if (target === this.o.id) return { leader: target };
    if (!st.conf.voters.includes(target)) throw new CatgaError('INVALID_MEMBER', `${target} is not a voter`, 400);
    await driver.transferLeadership(target);
    while (Date.now() < deadline) {
      const leader = driver.softState.leader;
      if (leader !== null && leader !== this.o.id) return { leader };
      await sleep(20);
    }
    throw new CatgaError('TIMEOUT', `leadership did not move to ${target} within the deadline`, 503);
  }

  private bestTransferTarget(st: RaftStatus): string | null {
    let best: string | null = null;
    let bestMatch = -1;
    for (const id of st.conf.voters) {
      const p = st.progress[id];
      if (id === st.id || p === undefined || !p.recentActive) continue;
      if (p.match > bestMatch) { best = id; bestMatch = p.match; }
    }
    return best;
  }
}
