// One simulated node: a real Raft core, its durable store, its state machine, and the driver loop
// that carries out each Ready in the contract's order (persist, send, apply, hand out reads,
// advance), reporting every durable and visible effect to the safety checker.
import { createRaft } from '../raft/index.js';
import type { ConfState, Entry, HardState, NodeId, RaftConfig, RaftCore, Ready, Role, Snapshot, Term } from '../raft/types.js';
import type { SafetyChecker } from './checker.js';
import { EMPTY_HARD_STATE, type DurableStore } from './durable.js';
import { SimLog } from './log.js';
import type { SimNetwork } from './network.js';
import { SimStateMachine } from './statemachine.js';
import type { Trace } from './trace.js';

/** What a node needs from the simulation around it. */
export interface SimContext {
  readonly checker: SafetyChecker;
  readonly network: SimNetwork;
  readonly trace: Trace;
  /** Current virtual time. */
  now(): number;
  /** A read state for `context` reached its node. */
  readAnswered(context: string): void;
  /**
   * Asked once a Ready is durable and recorded, before its messages go out: true crashes the
   * node right there (the process died between fsync and send).
   */
  crashBeforeSend(node: SimNode, becameLeader: boolean, leaderProgress: boolean): boolean;
}

export class SimNode {
  core: RaftCore | null = null;
  incarnation = 0;
  /** Retired nodes were removed from the cluster and stay down. */
  retired = false;
  /** What this node has durably persisted (acknowledged saves), as the checker sees it. */
  log = new SimLog();
  hardState: HardState = EMPTY_HARD_STATE;
  sm: SimStateMachine;
  role: Role = 'follower';
  term: Term = 0;
  leader: NodeId | null = null;

  constructor(
    readonly id: NodeId,
    /** The initial configuration for an initial member, null for a node added later (or wiped). */
    private bootstrap: ConfState | null,
    private store: DurableStore,
    private readonly config: () => RaftConfig,
    private readonly ctx: SimContext,
    /** The storage incarnation of the node's current disk (ConfState.incarnations). */
    public diskIncarnation: string,
  ) {
    this.sm = new SimStateMachine();
  }

  /** The node (down) loses its disk: it comes back empty, as a new incarnation, and never bootstraps. */
  wipe(store: DurableStore, diskIncarnation: string): void {
    if (this.core !== null) throw new Error(`wipe of ${this.id} while it runs`);
    this.store = store;
    this.diskIncarnation = diskIncarnation;
    this.bootstrap = null;
    this.log = new SimLog();
    this.hardState = EMPTY_HARD_STATE;
    this.sm = new SimStateMachine();
  }

  get live(): boolean {
    return this.core !== null;
  }

  /** Starts (or restarts) from exactly what the store recovers. */
  start(): Promise<void> | undefined {
    const recovered = this.store.recover();
    if (recovered instanceof Promise) return recovered.then((r) => this.boot(r.hardState, r.snapshot, r.entries));
    this.boot(recovered.hardState, recovered.snapshot, recovered.entries);
    return undefined;
  }

  private boot(hardState: HardState, snapshot: Snapshot | null, entries: readonly Entry[]): void {
    const checker = this.ctx.checker;
    const recoveredLog = SimLog.from(snapshot, entries);
    if (
      hardState.term !== this.hardState.term ||
      hardState.vote !== this.hardState.vote ||
      hardState.commit !== this.hardState.commit ||
      recoveredLog.lastIndex !== this.log.lastIndex ||
      recoveredLog.term(recoveredLog.lastIndex) !== this.log.term(this.log.lastIndex)
    ) {
      checker.fail(
        'DURABLE_CONTRACT',
        this.id,
        `recovered term ${hardState.term} vote ${hardState.vote} commit ${hardState.commit} last ${recoveredLog.lastIndex}; ` +
          `acknowledged term ${this.hardState.term} vote ${this.hardState.vote} commit ${this.hardState.commit} last ${this.log.lastIndex}`,
      );
    }
    this.log = recoveredLog;
    this.hardState = hardState;
    this.sm = snapshot === null ? new SimStateMachine() : SimStateMachine.fromSnapshot(snapshot);
    this.role = 'follower';
    this.term = hardState.term;
    this.leader = null;
    this.incarnation++;
    this.core = createRaft({ ...this.config(), incarnation: this.diskIncarnation }, {
      hardState,
      snapshot,
      entries,
      bootstrap: this.bootstrap,
      applied: this.sm.index,
    });
  }

  /** Stops the node: volatile state is gone, the store keeps only what was durable. */
  crash(): void {
    this.core = null;
    this.store.crash();
    this.role = 'follower';
    this.leader = null;
    this.ctx.checker.onDown(this.id);
  }

  /** Handles every pending Ready; returns a promise only when the store made persistence asynchronous. */
  drain(): Promise<void> | undefined {
    for (;;) {
      const core = this.core;
      if (core === null || !core.hasReady() || this.ctx.checker.failed) return undefined;
      const rd = core.ready();
      const saved = this.store.save(rd.snapshot, rd.entries, rd.hardState);
      if (saved instanceof Promise) {
        return saved.then(() => {
          if (this.core !== core) return undefined;
          this.finishReady(core, rd);
          return this.drain();
        });
      }
      this.finishReady(core, rd);
    }
  }

  /** The Ready is durable: record it, send its messages, apply, hand out read states, advance. */
  private finishReady(core: RaftCore, rd: Ready): void {
    const { checker, network, trace } = this.ctx;
    const now = this.ctx.now();

    if (rd.snapshot !== null) {
      trace.record(now, 'snapshot', this.id, null, `install ${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
      this.log.installSnapshot(rd.snapshot);
    }
    if (rd.entries.length > 0) {
      checker.onPersistEntries(this.id, this.log, rd.entries);
      if (checker.failed) return;
      const dropped = this.log.append(rd.entries);
      if (dropped > 0) this.checkCoreAgreesOnLastIndex(core, dropped);
    }
    let becameLeader = false;
    if (rd.softState !== null) {
      const soft = rd.softState;
      becameLeader = soft.role === 'leader' && (this.role !== 'leader' || soft.term !== this.term);
      if (soft.role !== this.role || soft.term !== this.term || soft.leader !== this.leader) {
        trace.record(now, 'role', this.id, null, `${soft.role} term=${soft.term} leader=${soft.leader ?? '-'}`);
      }
      this.role = soft.role;
      this.term = soft.term;
      this.leader = soft.leader;
      checker.onRole(this.id, soft.role, soft.term, this.log);
    }
    let commitAdvanced = false;
    if (rd.hardState !== null) {
      const prev = this.hardState;
      const next = rd.hardState;
      checker.onHardState(this.id, prev, next);
      if (next.commit > prev.commit) {
        commitAdvanced = true;
        checker.onCommit(this.id, next.term, prev.commit, next.commit, this.log);
        trace.record(now, 'commit', this.id, null, `${next.commit}`);
      }
      this.hardState = next;
    }
    if (checker.failed || this.ctx.crashBeforeSend(this, becameLeader, commitAdvanced || rd.entries.length > 0)) return;

    for (const msg of rd.messages) {
      const outcome = network.send(msg, now);
      if (outcome !== 'queued') trace.record(now, outcome, this.id, msg, '');
    }

    if (rd.snapshot !== null) {
      const appliedBefore = this.sm.index;
      this.sm = SimStateMachine.fromSnapshot(rd.snapshot);
      checker.onSnapshot(this.id, rd.snapshot, this.sm, appliedBefore);
    }
    for (const entry of rd.committedEntries) {
      checker.onApply(this.id, entry, this.sm.index, this.hardState.commit);
      if (checker.failed) return;
      this.sm.apply(entry);
      checker.onApplied(this.id, this.sm);
    }
    for (const rs of rd.readStates) {
      trace.record(now, 'readState', this.id, null, `${rs.context} index=${rs.index}`);
      checker.onReadState(this.id, rs);
      this.ctx.readAnswered(rs.context);
    }
    if (checker.failed) return;
    core.advance();
  }

  /**
   * Persisting a batch dropped held entries after its end (the "replaces it and every later one"
   * rule); that is only right if the core's own log ends where the batch ends.
   */
  private checkCoreAgreesOnLastIndex(core: RaftCore, dropped: number): void {
    const coreLast = core.status().lastIndex;
    if (coreLast !== this.log.lastIndex) {
      this.ctx.checker.fail(
        'DURABLE_CONTRACT',
        this.id,
        `persisting the Ready's entries dropped ${dropped} later entries; the durable log now ends at ${this.log.lastIndex} but the core's at ${coreLast}`,
      );
    }
  }

  /** Takes a snapshot of the state machine and compacts; returns a promise only for an asynchronous store. */
  compact(retain: number): Promise<void> | undefined {
    const core = this.core;
    if (core === null || this.sm.index <= this.log.snapshotIndex) return undefined;
    const snapshot = core.compact(this.sm.index, this.sm.encode(), retain);
    this.ctx.checker.onSnapshot(this.id, snapshot, this.sm, this.sm.index);
    const compactTo = Math.max(0, snapshot.meta.index - retain);
    this.ctx.trace.record(this.ctx.now(), 'compact', this.id, null, `at ${snapshot.meta.index} retain ${retain}`);
    const saved = this.store.saveSnapshot(snapshot, compactTo);
    if (saved instanceof Promise) return saved.then(() => this.log.compact(snapshot, compactTo));
    this.log.compact(snapshot, compactTo);
    return undefined;
  }
}
