// One simulated node: a real Raft core driven by the production driver (driver/driver.ts) on the
// simulator's virtual clock, over a durable store behind a faulty disk and the virtual network.
// The driver's storage, transport and state machine are the seams where every durable and
// visible effect is reported to the safety checker; a crash cuts them all at once, so whatever the
// crashed life still runs (a save in flight, a half-done Ready) reaches nothing.
import assert from 'node:assert/strict';
import { createRaft } from '../raft/index.js';
import type { ConfChange, ConfState, Entry, HardState, Index, Message, NodeId, RaftConfig, RaftCore, RaftStatus, Role, Snapshot, SoftState, Term } from '../raft/types.js';
import { RaftDriver, type DriverFaults } from '../driver/driver.js';
import type { Logger } from '../common/logger.js';
import type { DriverTimers } from '../driver/timers.js';
import type { SafetyChecker } from './checker.js';
import { SimDisk } from './disk.js';
import { EMPTY_HARD_STATE, type DurableStore } from './durable.js';
import { SimLog } from './log.js';
import { TICK_UNITS, type SimNetwork } from './network.js';
import { SimStateMachine } from './statemachine.js';
import type { Trace } from './trace.js';

/** What a node needs from the simulation around it. */
export interface SimContext {
  readonly checker: SafetyChecker;
  readonly network: SimNetwork;
  readonly trace: Trace;
  readonly driverFaults: DriverFaults | null;
  /** Current virtual time. */
  now(): number;
  /** The virtual clock for one life of `node`: its timers die with that life. */
  timers(node: SimNode, life: number): DriverTimers;
  /** A read state for `context` reached its node. */
  readAnswered(context: string): void;
  /**
   * Asked once a save is durable and recorded, before the rest of its Ready (sending, applying)
   * happens: the simulator may crash the node right there.
   */
  afterSave(node: SimNode, becameLeader: boolean, leaderProgress: boolean): void;
  /** The driver stopped on a storage failure (a failed fsync): the node is down. */
  storageFailed(node: SimNode, err: unknown): void;
}

/** The driver's snapshot policy for one node (drawn per seed and node). */
export interface SnapshotPolicy {
  readonly snapshotEntries: number;
  readonly snapshotBytes: number;
  readonly snapshotRetain: number;
}

/** The outcome of a client call on a node: its value, or the error code it was refused with. */
export type Outcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: string };

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const never = new Promise<never>(() => undefined);

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : String(err);
}

export class SimNode {
  core: RaftCore | null = null;
  private driver: RaftDriver | null = null;
  private deliver: ((m: Message) => void) | null = null;
  /** Lives started so far: effects of an earlier life are discarded. */
  incarnation = 0;
  /** Retired nodes were removed from the cluster and stay down. */
  retired = false;
  /** What this node has durably persisted (completed saves), as the checker sees it. */
  log = new SimLog();
  hardState: HardState = EMPTY_HARD_STATE;
  sm: SimStateMachine;
  role: Role = 'follower';
  term: Term = 0;
  leader: NodeId | null = null;
  readonly disk = new SimDisk(() => never);
  /** The leader's snapshot the current Ready saves, which the state machine then restores. */
  private installing: Snapshot | null = null;
  /** Highest index this life reported to the checker as committed. */
  private reportedCommit: Index = 0;
  /** Recovering from the store (asynchronously): neither up nor down, and not to be started again. */
  starting = false;
  /** Bumped by each asynchronous start and by a wipe: a recovery that finishes after a wipe is dropped. */
  private startAttempt = 0;

  constructor(
    readonly id: NodeId,
    /** The initial configuration for an initial member, null for a node added later (or wiped). */
    private bootstrap: ConfState | null,
    private store: DurableStore,
    private readonly config: () => RaftConfig,
    private readonly policy: () => SnapshotPolicy,
    private readonly ctx: SimContext,
    /** The storage incarnation of the node's current disk (ConfState.incarnations). */
    public diskIncarnation: string,
  ) {
    this.sm = new SimStateMachine();
  }

  /**
   * The node (down) loses its disk: it comes back empty, as a new incarnation, and never
   * bootstraps. A node still recovering from the old disk starts over on the new one.
   */
  wipe(store: DurableStore, diskIncarnation: string): void {
    if (this.core !== null) throw new Error(`wipe of ${this.id} while it runs`);
    const wasStarting = this.starting;
    this.startAttempt++;
    this.starting = false;
    this.store = store;
    this.diskIncarnation = diskIncarnation;
    this.bootstrap = null;
    this.log = new SimLog();
    this.hardState = EMPTY_HARD_STATE;
    this.sm = new SimStateMachine();
    this.disk.heal();
    if (wasStarting) this.start();
  }

  get live(): boolean {
    return this.core !== null;
  }

  private alive(life: number): boolean {
    return this.core !== null && this.incarnation === life;
  }

  status(): RaftStatus | null {
    return this.core?.status() ?? null;
  }

  /** Starts (or restarts) from exactly what the store recovers (at once, or once its promise settles). */
  start(): void {
    assert.ok(this.core === null && !this.starting, `start of ${this.id} while it runs or starts`);
    const recovered = this.store.recover();
    if (!(recovered instanceof Promise)) {
      this.boot(recovered.hardState, recovered.snapshot, recovered.entries);
      return;
    }
    const attempt = ++this.startAttempt;
    this.starting = true;
    recovered.then(
      (r) => {
        if (attempt !== this.startAttempt) return;
        this.starting = false;
        this.boot(r.hardState, r.snapshot, r.entries);
      },
      (err: unknown) => this.ctx.checker.fail('UNEXPECTED_EXCEPTION', this.id, `recovery failed: ${String(err)}`),
    );
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
    this.installing = null;
    this.reportedCommit = hardState.commit;
    const life = ++this.incarnation;
    const timers = this.ctx.timers(this, life);
    this.disk.restart(timers.sleep);
    const core = createRaft({ ...this.config(), incarnation: this.diskIncarnation }, {
      hardState,
      snapshot,
      entries,
      bootstrap: this.bootstrap,
      applied: this.sm.index,
    });
    this.core = core;
    const driver = new RaftDriver({
      core,
      storage: {
        save: (s, e, h) => this.save(life, s, e, h),
        saveSnapshot: (s, compactTo) => this.saveSnapshot(life, s, compactTo),
      },
      transport: {
        send: (m) => this.send(life, m),
        onMessage: (handler) => { this.deliver = handler; },
      },
      stateMachine: {
        applyBatch: (batch) => this.apply(life, batch),
        snapshot: (index) => this.alive(life) ? this.snapshotAt(index) : null,
        restore: (data, index) => this.restore(life, data, index),
        sync: () => Promise.resolve(),
      },
      log: quiet,
      timers,
      startId: `${life}`,
      tickMs: TICK_UNITS,
      ...this.policy(),
      applied: this.sm.index,
      onSoftState: (s) => { if (this.alive(life)) this.changeRole(s); },
      onConf: () => undefined,
      onFatal: (err) => { if (this.alive(life)) this.ctx.storageFailed(this, err); },
      ...(this.ctx.driverFaults === null ? {} : { faults: this.ctx.driverFaults }),
    });
    this.driver = driver;
    driver.start();
  }

  /** Stops the node: volatile state is gone, the store keeps only what was durable. */
  crash(): void {
    this.core = null;
    this.driver = null;
    this.deliver = null;
    this.store.crash();
    this.role = 'follower';
    this.leader = null;
    this.ctx.checker.onDown(this.id);
  }

  /** A message from the network reaches the node's driver. */
  receive(msg: Message): void {
    this.deliver?.(msg);
  }

  // ---- client calls (each answers through `done`, unless the node crashes first) ----------------

  propose(data: Uint8Array, done: (o: Outcome<Index>) => void): void {
    this.call((d) => d.propose(data).then((r) => r.index), done);
  }

  read(done: (o: Outcome<Index>) => void): void {
    this.call((d) => d.readIndex(), done);
  }

  proposeConfChange(cc: ConfChange, done: (o: Outcome<Index>) => void): void {
    this.call((d) => d.proposeConfChange(cc), done);
  }

  transferLeadership(to: NodeId, done: (o: Outcome<void>) => void): void {
    this.call((d) => d.transferLeadership(to), done);
  }

  /** Asks the driver for a snapshot (and compaction behind it) at its next turn. */
  requestSnapshot(): void {
    this.driver?.requestSnapshot();
  }

  private call<T>(start: (d: RaftDriver) => Promise<T>, done: (o: Outcome<T>) => void): void {
    const driver = this.driver;
    if (driver === null) {
      done({ ok: false, code: 'DOWN' });
      return;
    }
    const life = this.incarnation;
    start(driver).then(
      (value) => { if (this.alive(life)) done({ ok: true, value }); },
      (err: unknown) => { if (this.alive(life)) done({ ok: false, code: codeOf(err) }); },
    );
  }

  // ---- the driver's seams -----------------------------------------------------------------------

  private save(life: number, snapshot: Snapshot | null, entries: readonly Entry[], hard: HardState | null): Promise<void> {
    if (!this.alive(life)) return never;
    if (snapshot !== null) this.installing = snapshot;
    return this.disk
      .write(() => (this.alive(life) ? this.store.save(snapshot, entries, hard) : never))
      .then(() => { if (this.alive(life)) this.saved(snapshot, entries, hard); });
  }

  /** A save is durable: record it, then let the simulator crash the node before the rest of the Ready. */
  private saved(snapshot: Snapshot | null, entries: readonly Entry[], hard: HardState | null): void {
    const { checker, trace } = this.ctx;
    const core = this.core as RaftCore;
    if (snapshot !== null) {
      trace.record(this.ctx.now(), 'snapshot', this.id, null, `install ${snapshot.meta.index}/${snapshot.meta.term}`);
      this.log.installSnapshot(snapshot);
    }
    if (entries.length > 0) {
      checker.onPersistEntries(this.id, this.log, entries);
      if (checker.failed) return;
      const dropped = this.log.append(entries);
      if (dropped > 0) this.checkCoreAgreesOnLastIndex(core, dropped);
    }
    if (hard !== null) {
      const prev = this.hardState;
      checker.onHardState(this.id, prev, hard);
      if (hard.commit > prev.commit) checker.onCommit(this.id, hard.term, prev.commit, hard.commit, this.log);
      this.hardState = hard;
    }
    if (checker.failed) return;
    const st = core.status();
    const becameLeader = st.role === 'leader' && (this.role !== 'leader' || st.term !== this.term);
    this.ctx.afterSave(this, becameLeader, st.role === 'leader' && entries.length > 0);
  }

  private saveSnapshot(life: number, snapshot: Snapshot, compactTo: Index): Promise<void> {
    if (!this.alive(life)) return never;
    this.ctx.checker.onSnapshot(this.id, snapshot, SimStateMachine.fromSnapshot(snapshot), snapshot.meta.index);
    this.ctx.trace.record(this.ctx.now(), 'compact', this.id, null, `at ${snapshot.meta.index} to ${compactTo}`);
    return this.disk
      .write(() => (this.alive(life) ? this.store.saveSnapshot(snapshot, compactTo) : never))
      .then(() => { if (this.alive(life)) this.log.compact(snapshot, compactTo); });
  }

  private send(life: number, msg: Message): void {
    if (!this.alive(life)) return;
    const outcome = this.ctx.network.send(msg, this.ctx.now());
    if (outcome !== 'queued') this.ctx.trace.record(this.ctx.now(), outcome, this.id, msg, '');
  }

  /** Committed entries reach the state machine: each must be committed, durable here, and next in order. */
  private apply(life: number, entries: readonly Entry[]): readonly unknown[] {
    const checker = this.ctx.checker;
    if (!this.alive(life) || checker.failed) return [];
    const st = (this.core as RaftCore).status();
    const last = (entries[entries.length - 1] as Entry).index;
    if (last > this.reportedCommit) {
      checker.onCommit(this.id, st.term, this.reportedCommit, last, this.log);
      this.ctx.trace.record(this.ctx.now(), 'commit', this.id, null, `${last}`);
      this.reportedCommit = last;
    }
    for (const entry of entries) {
      checker.onApply(this.id, entry, this.sm.index, st.commit);
      if (checker.failed) return [];
      this.sm.apply(entry);
      checker.onApplied(this.id, this.sm);
    }
    return [];
  }

  private snapshotAt(index: Index): Uint8Array {
    assert.equal(index, this.sm.index, `snapshot asked at ${index}, applied ${this.sm.index}`);
    return this.sm.encode();
  }

  private restore(life: number, data: Uint8Array, index: Index): void {
    if (!this.alive(life)) return;
    const snapshot = this.installing;
    assert.ok(snapshot !== null && snapshot.meta.index === index && snapshot.data === data, `restore at ${index} of a snapshot this Ready did not save`);
    this.installing = null;
    const appliedBefore = this.sm.index;
    this.sm = SimStateMachine.fromSnapshot(snapshot);
    this.ctx.checker.onSnapshot(this.id, snapshot, this.sm, appliedBefore);
    if (index > this.reportedCommit) this.reportedCommit = index;
  }

  private changeRole(s: SoftState): void {
    if (s.role !== this.role || s.term !== this.term || s.leader !== this.leader) {
      this.ctx.trace.record(this.ctx.now(), 'role', this.id, null, `${s.role} term=${s.term} leader=${s.leader ?? '-'}`);
    }
    this.role = s.role;
    this.term = s.term;
    this.leader = s.leader;
    this.ctx.checker.onRole(this.id, s.role, s.term, this.log);
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
}
