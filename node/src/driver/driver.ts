// The Raft driver: the one owner of a node's Raft core. It turns timers, received messages,
// proposals and read requests into core calls, and each Ready into I/O in the order Raft needs
// (persist, then send, then apply, then advance; a leader overlaps its own save with the rest).
// Every core call happens inside `run()`, so the core is only ever touched by one logical thread;
// callers get promises that settle when their entry is applied or their read index is known. Time
// comes from `DriverTimers`: the simulator runs this same driver on a virtual clock (sim/node.ts),
// so the persist/send/apply policy below is what its safety checker sees.
import { strict as assert } from 'node:assert';
import type {
  ConfChange, ConfState, Entry, HardState, Index, InstallSnapshot, Message, NodeId, RaftCore, RaftStatus, Ready, Snapshot, SoftState, Term,
} from '../raft/types.js';
import type { RaftStorage } from '../storage/types.js';
import type { PeerTransport } from '../transport/types.js';
import type { Logger } from '../common/logger.js';
import { CatgaError } from '../common/errors.js';
import type { DriverTimers } from './timers.js';

/** The replicated state machine as the driver sees it (the mediator implements it). */
export interface StateMachine {
  /**
   * Applies committed entries (all of a Ready's, any type) as one batch that is atomic in the state
   * engine with the last one's index; returns, per entry, what its proposer is answered.
   */
  applyBatch(entries: readonly Entry[]): readonly unknown[];
  /**
   * Snapshot data for the core at `index` (the applied index): a small descriptor, the state
   * streams apart. Null when the state machine is not at `index` right now (a snapshot from the
   * leader is being swapped in): try again later.
   */
  snapshot(index: Index): Uint8Array | null;
  /** The core installed snapshot `data` at `index`: the state machine must hold exactly that state now. */
  restore(data: Uint8Array, index: Index): void;
  /** Resolves once the applied state is durable: the log may then be compacted behind it. */
  sync(): Promise<void>;
}

/**
 * Deliberate bugs in the persist/send policy (test-only): the simulator must catch each
 * (test/unit/sim/catches-bugs.test.ts), which shows it checks the policy this driver carries out.
 */
export interface DriverFaults {
  /** Every node sends a Ready's messages (votes, acknowledgements) before its save is durable. */
  readonly sendBeforeSave?: boolean;
  /** A leader reports its entries persisted when their save starts: acknowledgements count them before they are durable. */
  readonly leaderSkipsSaveWait?: boolean;
}

export interface DriverOptions {
  readonly core: RaftCore;
  readonly storage: Pick<RaftStorage, 'save' | 'saveSnapshot'>;
  readonly transport: Pick<PeerTransport, 'send' | 'onMessage'>;
  readonly stateMachine: StateMachine;
  readonly log: Logger;
  readonly timers: DriverTimers;
  /**
   * Unique to this start of the node (random in a node; the life number in the simulator). Read
   * contexts carry it: an answer to a read of an earlier start, delivered late, would otherwise
   * match a read of this one by its counter and answer it with an older index.
   */
  readonly startId: string;
  readonly tickMs: number;
  readonly snapshotEntries: number;
  /** Also snapshot once the entries applied since the last snapshot hold this many bytes. */
  readonly snapshotBytes: number;
  /** Entries kept in the log behind a snapshot, for followers slightly behind; at most snapshotBytes / 4 of them. */
  readonly snapshotRetain: number;
  /** Index the state machine already reflects at start (the recovered snapshot's index). */
  readonly applied: Index;
  readonly onSoftState?: (s: SoftState) => void;
  /** A message from peer `from` arrived (peer-contact.ts). */
  readonly onHeard?: (from: NodeId) => void;
  /** The configuration changed (and once at start): the node points the transport at the members. */
  readonly onConf: (c: ConfState) => void;
  readonly onSnapshotTaken?: () => void;
  /** A snapshot message whose data must arrive first: true holds it back (see `deliverSnapshot`). Gets the applied index. */
  readonly interceptSnapshot?: (m: InstallSnapshot, applied: Index) => boolean;
  /** Called when storage fails: the node must stop (a failed fsync cannot be retried safely). */
  readonly onFatal: (err: unknown) => void;
  readonly faults?: DriverFaults;
}

/** The answer to a proposal whose entry a later leader replaced: it was not, and will not be, applied. */
function proposalDropped(): CatgaError {
  return new CatgaError('PROPOSAL_DROPPED', 'a new leader replaced the entry before it committed; it was not applied', 503);
}

/** Most proposals taken into one core call; the rest wait for the next turn of the loop. */
export const MAX_PROPOSALS_PER_TURN = 4096;
/** Most received messages stepped per turn, so ticks and Ready processing are never starved. */
export const MAX_MESSAGES_PER_TURN = 8192;
/** Most reads waiting on one node; beyond it reads are refused as overloaded. */
export const MAX_PENDING_READS = 65_536;
/** While the disk is full, how often the save that hit it is tried again. */
export const DISK_FULL_RETRY_MS = 1_000;

interface ProposalWaiter {
  readonly term: Term;
  readonly resolve: (v: { index: Index; result: unknown }) => void;
  readonly reject: (e: unknown) => void;
}

interface PendingProposal {
  readonly data: Uint8Array;
  readonly resolve: (v: { index: Index; result: unknown }) => void;
  readonly reject: (e: unknown) => void;
}

interface PendingRead {
  readonly resolve: (index: Index) => void;
  readonly reject: (e: unknown) => void;
}

interface ApplyWaiter {
  readonly index: Index;
  readonly resolve: () => void;
}

type Control =
  | { readonly kind: 'conf'; readonly cc: ConfChange; readonly resolve: (i: Index) => void; readonly reject: (e: unknown) => void }
  | { readonly kind: 'transfer'; readonly to: NodeId; readonly resolve: () => void; readonly reject: (e: unknown) => void }
  | { readonly kind: 'campaign' };

export class RaftDriver {
  private readonly core: RaftCore;
  private readonly o: DriverOptions;
  private inbox: Message[] = [];
  private proposals: PendingProposal[] = [];
  private controls: Control[] = [];
  private readsQueued: PendingRead[] = [];
  private readonly readsInFlight = new Map<string, PendingRead[]>();
  private readSeq = 0;
  private readonly waiters = new Map<Index, ProposalWaiter>();
  private applyWaiters: ApplyWaiter[] = [];
  private ticksDue = 0;
  private stopTicks: (() => void) | null = null;
  private scheduled = false;
  private running = false;
  private stopped = false;
  private failed: unknown = null;
  private appliedIndex: Index;
  /** Term of the last entry this driver persisted (or of the snapshot saved), 0 before any. */
  private lastPersistedTerm: Term = 0;
  private snapshotIndex: Index;
  private statusCache: RaftStatus | null = null;
  private soft: SoftState;
  private confKey = '';
  /** The configuration object last published: the core keeps one object per configuration, so an unchanged one is skipped without serialising it. */
  private lastConf: ConfState | null = null;
  /** The hard state last made durable, and a newer commit-only one not yet written (see handleReady). */
  private persistedHard: HardState;
  private unsyncedHard: HardState | null = null;
  /**
   * A leader's save that runs while the loop goes on (see handleReady), null when none. It never
   * rejects: a failure stops the driver. New proposals wait for it and form the next batch.
   */
  private inFlightSave: Promise<void> | null = null;
  /** The last entry of a handed-off save that finished, reported to the core at the next turn. */
  private savedUpTo: { readonly index: Index; readonly term: Term } | null = null;
  private idleResolvers: Array<() => void> = [];
  /** A save hit a full disk and is being retried: new proposals are refused with 507 DISK_FULL. */
  private diskFullSince: number | null = null;
  /** Members heard speaking as another incarnation than the configuration records (wiped disks). */
  private readonly staleIncarnations = new Map<NodeId, string>();
  /** A snapshot taken at `index` whose state the engine is still making durable, then compacted to. */
  private pendingCompaction: { readonly index: Index; readonly data: Uint8Array; readonly retain: number; synced: boolean } | null = null;
  /**
   * Data bytes of each entry applied after `snapshotIndex`, in order, and their sum: the log held
   * in memory (by the core) and on disk grows with them, so they also trigger a snapshot.
   */
  private appliedSizes: number[] = [];
  private appliedBytes = 0;
  private snapshotRequested = false;

  constructor(o: DriverOptions) {
    this.o = o;
    this.core = o.core;
    this.appliedIndex = o.applied;
    this.snapshotIndex = o.applied;
    const st = this.core.status();
    this.soft = { role: st.role, leader: st.leader, term: st.term };
    this.persistedHard = { term: st.term, vote: st.vote, commit: st.commit };
  }

  start(): void {
    this.o.transport.onMessage((m) => this.receive(m));
    this.stopTicks = this.o.timers.every(this.o.tickMs, () => { this.ticksDue++; this.schedule(); });
    this.publishConf();
    this.schedule();
  }

  /** Cached per turn: status() is called by every request and every scrape. */
  status(): RaftStatus {
    if (this.statusCache === null) this.statusCache = this.core.status();
    return this.statusCache;
  }

  get applied(): Index { return this.appliedIndex; }
  get persistedTerm(): Term { return this.lastPersistedTerm; }

  /**
   * The incarnation `id` was last heard speaking as, when the configuration records another one:
   * the member lost its disk and waits to be replaced (service.ts). Undefined otherwise.
   */
  staleIncarnationOf(id: NodeId): string | undefined {
    const seen = this.staleIncarnations.get(id);
    return seen !== undefined && this.status().conf.incarnations?.[id] !== seen ? seen : undefined;
  }
  get softState(): SoftState { return this.soft; }
  get isLeader(): boolean { return this.soft.role === 'leader'; }

  receive(m: Message): void {
    if (this.stopped) return;
    this.o.onHeard?.(m.from);
    if (this.inbox.length >= MAX_MESSAGES_PER_TURN * 4) return; // Raft tolerates loss
    if (m.type === 'snapshot' && this.o.interceptSnapshot?.(m, this.appliedIndex) === true) return;
    this.inbox.push(m);
    this.schedule();
  }

  /** Takes a snapshot at the next turn even if fewer than `snapshotEntries` entries were applied since the last. */
  requestSnapshot(): void {
    this.snapshotRequested = true;
    this.schedule();
  }

  /** A held-back snapshot message whose state is now in the state machine: the core may take it. */
  deliverSnapshot(m: InstallSnapshot): void {
    if (this.stopped) return;
    this.inbox.push(m);
    this.schedule();
  }

  /** Appends `data` through Raft; resolves once it is committed and applied here, with its result. */
  propose(data: Uint8Array): Promise<{ index: Index; result: unknown }> {
    return new Promise((resolve, reject) => {
      const err = this.refusal();
      if (err) return reject(err);
      this.proposals.push({ data, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves with an index that, once applied, makes a local read linearizable. */
  readIndex(): Promise<Index> {
    return new Promise((resolve, reject) => {
      const err = this.refusal();
      if (err) return reject(err);
      if (this.readsQueued.length + this.readsInFlightCount() >= MAX_PENDING_READS) {
        return reject(new CatgaError('OVERLOADED', 'too many reads in flight', 429));
      }
      this.readsQueued.push({ resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once the local state machine has applied `index`. */
  waitApplied(index: Index): Promise<void> {
    if (this.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => this.applyWaiters.push({ index, resolve }));
  }

  proposeConfChange(cc: ConfChange): Promise<Index> {
    return this.enqueueControl<Index>((resolve, reject) => ({ kind: 'conf', cc, resolve, reject }));
  }

  transferLeadership(to: NodeId): Promise<void> {
    return this.enqueueControl<void>((resolve, reject) => ({ kind: 'transfer', to, resolve, reject }));
  }

  /** Queues the control `make` builds around the promise's settlers, or rejects at once when the driver refuses work. */
  private enqueueControl<T>(make: (resolve: (value: T) => void, reject: (e: unknown) => void) => Control): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const err = this.refusal();
      if (err) return reject(err);
      this.controls.push(make(resolve, reject));
      this.schedule();
    });
  }

  campaign(): void {
    this.controls.push({ kind: 'campaign' });
    this.schedule();
  }

  /** Resolves when no Ready is being processed (graceful shutdown flushes through this). */
  idle(): Promise<void> {
    if (this.failed !== null || (!this.running && !this.scheduled && this.inFlightSave === null)) return Promise.resolve();
    return new Promise((r) => this.idleResolvers.push(r));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTicks?.();
    this.stopTicks = null;
    await this.idle();
    if (this.unsyncedHard !== null && this.failed === null) {
      await this.o.storage.save(null, [], this.unsyncedHard);
      this.unsyncedHard = null;
    }
    const err = new CatgaError('SHUTTING_DOWN', 'the node is shutting down', 503);
    this.failAll(err);
  }

  private refusal(): CatgaError | null {
    if (this.failed !== null) return new CatgaError('NODE_FAILED', 'the node stopped after a storage failure', 503);
    if (this.stopped) return new CatgaError('SHUTTING_DOWN', 'the node is shutting down', 503);
    if (this.diskFullSince !== null) return new CatgaError('DISK_FULL', 'this node\'s disk is full: it takes no writes until there is room (reads of its state still work)', 507);
    return null;
  }

  /** Whether a save is waiting for room on a full disk. */
  get diskFull(): boolean { return this.diskFullSince !== null; }

  /**
   * Runs a save; a full disk is not fatal: the same save is tried again every DISK_FULL_RETRY_MS
   * (the storage wrote nothing of it) until it fits or the node stops. The Ready stays unadvanced
   * meanwhile, so nothing that depends on it is sent, applied or acknowledged.
   */
  private async saveWhenRoom(save: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await save();
        if (this.diskFullSince !== null) {
          this.o.log.warn('disk_space_back', { fullForMs: this.o.timers.now() - this.diskFullSince });
          this.diskFullSince = null;
        }
        return;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'STORAGE_NO_SPACE' || this.stopped) throw err;
        if (this.diskFullSince === null) {
          this.diskFullSince = this.o.timers.now();
          this.o.log.error('disk_full', { reason: (err as Error).message, retryEveryMs: DISK_FULL_RETRY_MS });
          for (const p of this.proposals.splice(0)) p.reject(this.refusal());
        }
        await this.o.timers.sleep(DISK_FULL_RETRY_MS);
      }
    }
  }

  private readsInFlightCount(): number {
    let n = 0;
    for (const rs of this.readsInFlight.values()) n += rs.length;
    return n;
  }

  private schedule(): void {
    if (this.scheduled || this.running || this.failed !== null) return;
    this.scheduled = true;
    this.o.timers.soon(() => { this.scheduled = false; void this.run(); });
  }

  private async run(): Promise<void> {
    if (this.running || this.failed !== null) return;
    this.running = true;
    try {
      for (;;) {
        this.statusCache = null;
        this.feedCore();
        if (!this.core.hasReady()) break;
        await this.handleReady(this.core.ready());
        this.statusCache = null;
        this.afterAdvance();
        await this.maybeSnapshot();
      }
      if (this.pendingCompaction?.synced === true || this.snapshotRequested) await this.maybeSnapshot();
    } catch (err) {
      this.fail(err);
    } finally {
      this.running = false;
      this.statusCache = null;
    }
    if (this.failed !== null) return;
    const proposing = this.inFlightSave === null && (this.proposals.length > 0 || this.controls.length > 0);
    const more = this.inbox.length > 0 || proposing || this.readsQueued.length > 0 || this.ticksDue > 0 || this.savedUpTo !== null;
    if (more && !this.stopped) this.schedule();
    else if (this.inFlightSave === null) for (const r of this.idleResolvers.splice(0)) r();
  }

  /**
   * Hands everything that arrived since the last turn to the core. Proposals and controls wait
   * while a leader's save runs: they would only queue behind it, and together they make one batch.
   */
  private feedCore(): void {
    const core = this.core;
    if (this.savedUpTo !== null) {
      core.persisted(this.savedUpTo.index, this.savedUpTo.term);
      this.savedUpTo = null;
    }
    for (; this.ticksDue > 0; this.ticksDue--) core.tick();

    const inbox = this.inbox;
    const n = Math.min(inbox.length, MAX_MESSAGES_PER_TURN);
    for (let i = 0; i < n; i++) {
      const m = inbox[i]!;
      const res = core.step(m);
      if (res.ok) continue;
      if (res.code === 'INVALID_MESSAGE') this.o.log.warn('raft_message_refused', { from: m.from, type: m.type, reason: res.message });
      else if (res.code === 'STALE_INCARNATION' && m.inc !== undefined && this.staleIncarnations.get(m.from) !== m.inc) {
        this.staleIncarnations.set(m.from, m.inc);
        this.o.log.warn('member_disk_replaced', { member: m.from, incarnation: m.inc, reason: res.message });
      }
    }
    this.inbox = n === inbox.length ? [] : inbox.slice(n);

    if (this.inFlightSave === null) for (const c of this.controls.splice(0)) this.control(c);

    if (this.proposals.length > 0 && this.inFlightSave === null) {
      const batch = this.proposals.length <= MAX_PROPOSALS_PER_TURN ? this.proposals : this.proposals.slice(0, MAX_PROPOSALS_PER_TURN);
      this.proposals = batch === this.proposals ? [] : this.proposals.slice(MAX_PROPOSALS_PER_TURN);
      const res = batch.length === 1 ? core.propose(batch[0]!.data) : core.proposeBatch(batch.map((p) => p.data));
      if (!res.ok) {
        const err = CatgaError.fromRaft(res);
        for (const p of batch) p.reject(err);
      } else {
        const first = res.index - batch.length + 1;
        for (let i = 0; i < batch.length; i++) {
          const p = batch[i]!;
          this.awaitApply(first + i, { term: res.term, resolve: p.resolve, reject: p.reject });
        }
      }
    }

    if (this.readsQueued.length > 0) {
      const ctx = `${this.o.startId}.${++this.readSeq}`;
      const readers = this.readsQueued;
      this.readsQueued = [];
      const res = core.readIndex(ctx);
      if (!res.ok) {
        const err = CatgaError.fromRaft(res);
        for (const r of readers) r.reject(err);
      } else {
        this.readsInFlight.set(ctx, readers);
      }
    }
  }

  private control(c: Control): void {
    if (c.kind === 'campaign') { this.core.campaign(); return; }
    if (c.kind === 'conf') {
      const res = this.core.proposeConfChange(c.cc);
      if (!res.ok) { c.reject(CatgaError.fromRaft(res)); return; }
      this.awaitApply(res.index, { term: res.term, resolve: () => c.resolve(res.index), reject: c.reject });
      return;
    }
    const res = this.core.transferLeadership(c.to);
    if (res.ok) c.resolve(); else c.reject(CatgaError.fromRaft(res));
  }

  /**
   * Persist, send, apply, then acknowledge the Ready. Refinements of the plain order, from the
   * Raft literature and etcd:
   *  - a hard state whose only change is the commit index needs no fsync (etcd's MustSync rule):
   *    a lost commit index is learnt again from the leader. It is written with the next save.
   *  - committed entries are applied while the save runs: the core hands out only entries already
   *    durable here (etcd applies beside its WAL write too).
   *  - a leader does not wait for its own save (Raft dissertation §10.2.1, etcd's asynchronous
   *    storage writes): it sends its appends at once, hands the Ready off and goes on stepping
   *    acknowledgements and applying what they commit while its fsync runs. Safe because the core
   *    counts the leader's own entries toward commit only once `persisted` reports them, and none
   *    of a leader's messages promises durability. Only while term and vote are unchanged and no
   *    snapshot comes: a vote or a new term is always durable before anyone hears of it. New
   *    proposals wait for the save (feedCore), so there is one save in flight at most, and saves
   *    complete in order.
   */
  private async handleReady(rd: Ready): Promise<void> {
    const hard = rd.hardState;
    const termOrVoteChanged = hard !== null && (hard.term !== this.persistedHard.term || hard.vote !== this.persistedHard.vote);
    const leading = this.soft.role === 'leader' && (rd.softState?.role ?? 'leader') === 'leader';
    if (leading && rd.snapshot === null && !termOrVoteChanged) {
      this.handOff(rd);
      return;
    }
    await this.settleSave();
    const mustSync = rd.snapshot !== null || rd.entries.length > 0 || termOrVoteChanged;
    const sendFirst = this.o.faults?.sendBeforeSave === true;
    const transport = this.o.transport;
    if (sendFirst) for (const m of rd.messages) transport.send(m);
    // A snapshot replaces the state first; otherwise the committed entries go in at once.
    const applyNow = rd.snapshot === null && rd.committedEntries.length > 0;
    if (mustSync) {
      const toWrite = this.hardToWrite(hard);
      const saved = this.saveWhenRoom(() => this.o.storage.save(rd.snapshot, rd.entries, toWrite));
      try {
        if (applyNow) this.applyEntries(rd.committedEntries);
      } catch (err) {
        saved.catch(() => {}); // the apply's failure stops the node; the save's outcome no longer matters
        throw err;
      }
      await saved;
      this.savedThrough(rd.entries, rd.snapshot, toWrite);
    } else {
      if (hard !== null) this.unsyncedHard = hard;
      if (applyNow) this.applyEntries(rd.committedEntries);
    }
    if (!sendFirst) for (const m of rd.messages) transport.send(m);
    this.logSnapshotsSent(rd.messages);
    if (rd.snapshot !== null) {
      this.installSnapshot(rd.snapshot);
      if (rd.committedEntries.length > 0) this.applyEntries(rd.committedEntries);
    }
    this.finishReady(rd);
    this.core.advance();
  }

  /** A leader's Ready: its save (if it has entries) runs on while everything else happens now. */
  private handOff(rd: Ready): void {
    const transport = this.o.transport;
    for (const m of rd.messages) transport.send(m);
    this.logSnapshotsSent(rd.messages);
    if (rd.entries.length > 0) this.startSave(rd.entries, this.hardToWrite(rd.hardState));
    else if (rd.hardState !== null) this.unsyncedHard = rd.hardState;
    if (rd.committedEntries.length > 0) this.applyEntries(rd.committedEntries);
    this.finishReady(rd);
    this.core.handOff();
  }

  /** Starts the save of a handed-off Ready's entries; `savedUpTo` tells the core once it is durable. */
  private startSave(entries: readonly Entry[], hard: HardState | null): void {
    assert.equal(this.inFlightSave, null, 'a leader proposed while its last save was still running');
    const last = entries[entries.length - 1]!;
    const reached = { index: last.index, term: last.term };
    if (this.o.faults?.leaderSkipsSaveWait === true) this.savedUpTo = reached;
    this.inFlightSave = this.saveWhenRoom(() => this.o.storage.save(null, entries, hard)).then(
      () => {
        this.inFlightSave = null;
        this.savedThrough(entries, null, hard);
        this.savedUpTo = reached;
        this.schedule();
      },
      (err: unknown) => {
        this.inFlightSave = null;
        this.fail(err);
      },
    );
  }

  /** The hard state a save writes: the Ready's own, or a commit-only one an earlier Ready left unwritten. */
  private hardToWrite(hard: HardState | null): HardState | null {
    const toWrite = hard ?? this.unsyncedHard;
    this.unsyncedHard = null;
    return toWrite;
  }

  /** Waits for a handed-off save, so the next save follows it on disk; throws if it failed. */
  private async settleSave(): Promise<void> {
    if (this.inFlightSave === null) return;
    await this.inFlightSave;
    if (this.failed !== null) throw this.failed;
  }

  /** Book-keeping once a save is durable: the last persisted term and hard state. */
  private savedThrough(entries: readonly Entry[], snapshot: Snapshot | null, hard: HardState | null): void {
    const last = entries.length > 0 ? entries[entries.length - 1]!.term : snapshot?.meta.term;
    if (last !== undefined) this.lastPersistedTerm = last;
    if (hard !== null) this.persistedHard = hard;
  }

  private logSnapshotsSent(messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type === 'snapshot') this.o.log.info('snapshot_sent', { to: m.to, index: m.snapshot.meta.index, reason: 'the follower needs entries the log no longer holds' });
    }
  }

  /** The end of every Ready: waiting readers learn their index, and the role change is published. */
  private finishReady(rd: Ready): void {
    for (const rs of rd.readStates) {
      const readers = this.readsInFlight.get(rs.context);
      if (readers === undefined) continue;
      this.readsInFlight.delete(rs.context);
      for (const r of readers) r.resolve(rs.index);
    }
    if (rd.softState !== null) this.changeSoftState(rd.softState);
  }

  /**
   * `w` waits for the entry just appended at `index`. A waiter already there belongs to an entry of
   * an earlier term that this node's log no longer holds (a later leader cut it, and this node
   * leads again): that entry will never be applied, so its proposer learns so now.
   */
  private awaitApply(index: Index, w: ProposalWaiter): void {
    this.waiters.get(index)?.reject(proposalDropped());
    this.waiters.set(index, w);
  }

  private installSnapshot(s: Snapshot): void {
    assert.ok(s.meta.index > this.appliedIndex, `snapshot ${s.meta.index} does not advance applied ${this.appliedIndex}`);
    this.o.stateMachine.restore(s.data, s.meta.index);
    this.appliedIndex = s.meta.index;
    this.snapshotIndex = s.meta.index;
    this.appliedSizes = [];
    this.appliedBytes = 0;
    for (const [index, w] of this.waiters) {
      if (index > s.meta.index) continue;
      this.waiters.delete(index);
      w.reject(new CatgaError('OUTCOME_UNKNOWN', 'the entry was covered by a snapshot from the leader before its result was known here', 503));
    }
    this.o.log.info('snapshot_installed', { index: s.meta.index, term: s.meta.term, bytes: s.data.length });
  }

  private applyEntries(entries: readonly Entry[]): void {
    assert.equal(entries[0]!.index, this.appliedIndex + 1, `apply out of order: ${entries[0]!.index} after ${this.appliedIndex}`);
    const results = this.o.stateMachine.applyBatch(entries);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      this.appliedIndex = e.index;
      this.appliedSizes.push(e.data.byteLength);
      this.appliedBytes += e.data.byteLength;
      const w = this.waiters.get(e.index);
      if (w === undefined) continue;
      this.waiters.delete(e.index);
      if (w.term === e.term) w.resolve({ index: e.index, result: results[i] });
      else w.reject(proposalDropped());
    }
  }

  private changeSoftState(s: SoftState): void {
    const prev = this.soft;
    this.soft = s;
    if (prev.role === 'leader' && s.role !== 'leader') {
      // Reads in flight on a deposed leader cannot complete; let their callers retry at once.
      const err = new CatgaError('NOT_LEADER', 'leadership changed during the read', 503);
      for (const rs of this.readsInFlight.values()) for (const r of rs) r.reject(err);
      this.readsInFlight.clear();
    }
    if (prev.leader !== s.leader || prev.term !== s.term) {
      this.o.log.info('raft_state', { role: s.role, leader: s.leader, term: s.term });
    }
    this.o.onSoftState?.(s);
  }

  private afterAdvance(): void {
    if (this.applyWaiters.length > 0) {
      const applied = this.appliedIndex;
      const keep: ApplyWaiter[] = [];
      for (const w of this.applyWaiters) (w.index <= applied ? w.resolve() : keep.push(w));
      this.applyWaiters = keep;
    }
    this.publishConf();
  }

  private publishConf(): void {
    const conf = this.status().conf;
    if (conf === this.lastConf) return;
    this.lastConf = conf;
    const key = JSON.stringify(conf);
    if (key === this.confKey) return;
    this.confKey = key;
    this.o.log.info('raft_configuration', { voters: conf.voters, learners: conf.learners });
    this.o.onConf(conf);
  }

  /**
   * Every `snapshotEntries` applied entries (or `snapshotBytes` of them): pin the state at the applied index (cheap), let the
   * engine make it durable in the background (the loop goes on), and once it is, compact the log
   * behind it. The log is never compacted past what the engine holds on disk.
   */
  private async maybeSnapshot(): Promise<void> {
    const pending = this.pendingCompaction;
    if (pending !== null) {
      if (!pending.synced) return;
      this.pendingCompaction = null;
      // A snapshot installed from the leader meanwhile may already cover it.
      if (pending.index <= this.snapshotIndex) return;
      await this.settleSave(); // the storage compacts a log no save is appending to
      const snap = this.core.compact(pending.index, pending.data, pending.retain);
      await this.saveWhenRoom(() => this.o.storage.saveSnapshot(snap, Math.max(0, pending.index - pending.retain)));
      const covered = this.appliedSizes.splice(0, pending.index - this.snapshotIndex);
      for (const n of covered) this.appliedBytes -= n;
      this.snapshotIndex = pending.index;
      this.o.onSnapshotTaken?.();
      this.o.log.info('snapshot_taken', { index: pending.index });
      return;
    }
    const due = this.appliedIndex - this.snapshotIndex >= this.o.snapshotEntries || this.appliedBytes >= this.o.snapshotBytes ||
      (this.snapshotRequested && this.appliedIndex > this.snapshotIndex);
    this.snapshotRequested = false;
    if (!due) return;
    const data = this.o.stateMachine.snapshot(this.appliedIndex);
    if (data === null) return;
    const next = { index: this.appliedIndex, data, retain: this.retainedEntries(), synced: false };
    this.pendingCompaction = next;
    this.o.stateMachine.sync().then(
      () => { next.synced = true; this.schedule(); },
      (err: unknown) => this.fail(err),
    );
  }

  /** How many entries to keep behind a snapshot at the applied index: snapshotRetain, within a quarter of snapshotBytes. */
  private retainedEntries(): number {
    const budget = this.o.snapshotBytes / 4;
    let bytes = 0;
    let n = 0;
    for (let i = this.appliedSizes.length - 1; i >= 0 && n < this.o.snapshotRetain; i--, n++) {
      bytes += this.appliedSizes[i]!;
      if (bytes > budget) break;
    }
    return n;
  }

  /** Storage failed: every caller is refused and the node must stop. */
  private fail(err: unknown): void {
    if (this.failed !== null) return;
    this.failed = err;
    this.o.log.error('raft_driver_failed', { err });
    this.failAll(new CatgaError('NODE_FAILED', 'the node stopped after a storage failure', 503));
    for (const r of this.idleResolvers.splice(0)) r(); // a failed driver does no more work: stop() must not wait for it
    this.o.onFatal(err);
  }

  private failAll(err: unknown): void {
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    for (const p of this.proposals.splice(0)) p.reject(err);
    for (const r of this.readsQueued.splice(0)) r.reject(err);
    for (const rs of this.readsInFlight.values()) for (const r of rs) r.reject(err);
    this.readsInFlight.clear();
    for (const c of this.controls.splice(0)) if (c.kind !== 'campaign') c.reject(err);
  }
}
