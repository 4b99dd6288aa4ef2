// One seeded simulation run: real Raft cores, each driven by the production driver, on a virtual
// clock, network and disks, through alternating phases. A fault phase mixes client traffic,
// ReadIndex reads, crashes and restarts, partitions, loss, duplication, long delays, membership
// changes, leadership transfers, compactions, disk wipes (a wiped node comes back empty as a new
// incarnation and is replaced through the leader, as its join loop asks in production), slow and
// full disks, failed fsyncs and crashes while a write is in flight; a heal phase removes every
// fault and must, within a bound, produce a leader that commits a fresh proposal on every live
// member and answers a ReadIndex read. The run stops at the first violation; the same seed and
// options always replay the same events.
import { defaultRaftConfig } from '../raft/index.js';
import type { ConfChange, ConfState, Message, NodeId, RaftConfig, RaftCore, Term } from '../raft/types.js';
import type { DriverFaults } from '../driver/driver.js';
import type { DriverTimers } from '../driver/timers.js';
import { SafetyChecker, PROPOSAL_ID_BYTES, type Violation } from './checker.js';
import { FSYNC_FAILED_CODE } from './disk.js';
import { memoryStore, type DurableStore, type StoreFactory } from './durable.js';
import { corruptMessage } from './garbage.js';
import { CLEAN_LINKS, SimNetwork, TICK_UNITS, MAX_SIM_NODES } from './network.js';
import { drawFaultProfile, HEAL_PROFILE, type FaultProfile } from './profile.js';
import { SimNode, type SimContext, type SnapshotPolicy } from './node.js';
import { Prng } from './prng.js';
import { EventQueue, type SimEvent } from './queue.js';
import { applyConfChange, EMPTY_CONF } from './statemachine.js';
import { Trace } from './trace.js';

/** Deliberate bugs the core can be asked to carry (test-only), to show the simulator catches them. */
export type CoreFaults = NonNullable<RaftConfig['faults']>;
/** Deliberate bugs of the core or of the driver's persist/send policy (test-only). */
export type SimFaults = CoreFaults & DriverFaults;
export const DRIVER_FAULT_NAMES = ['sendBeforeSave', 'leaderSkipsSaveWait'] as const satisfies readonly (keyof DriverFaults)[];

function splitFaults(faults: SimFaults | null): { core: CoreFaults | null; driver: DriverFaults | null } {
  if (faults === null) return { core: null, driver: null };
  const core: Record<string, boolean> = {};
  const driver: Record<string, boolean> = {};
  for (const [name, on] of Object.entries(faults)) ((DRIVER_FAULT_NAMES as readonly string[]).includes(name) ? driver : core)[name] = on === true;
  return { core: Object.keys(core).length === 0 ? null : core, driver: Object.keys(driver).length === 0 ? null : driver };
}

/** Lets every promise continuation the last event started run (nothing here waits on real I/O). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface SimOptions {
  readonly seed: number;
  /** Initial voters: 3 or 5. */
  readonly nodes: number;
  /** Upper bound on ticks in the run (it ends earlier once its last heal is verified). */
  readonly steps: number;
  /** How many recent events a violation report carries. */
  readonly traceCapacity: number;
  /** Receives every event as a line (`--trace`), or null. */
  readonly traceSink: ((line: string) => void) | null;
  readonly faults: SimFaults | null;
  /** Makes each node's durable store; the in-memory store when absent. */
  readonly store?: StoreFactory;
}

export interface SeedStats {
  readonly ticks: number;
  readonly events: number;
  readonly maxCommit: number;
  readonly electedTerms: number;
  /** Proposals the driver answered as applied. */
  readonly proposalsAcked: number;
  readonly readsIssued: number;
  readonly crashes: number;
  readonly confChanges: number;
  readonly transfers: number;
  readonly compactions: number;
  readonly heals: number;
  readonly wipes: number;
  readonly diskFaults: number;
}

export interface SeedResult {
  readonly seed: number;
  readonly violation: Violation | null;
  /** Hash of every event: equal for two runs of the same seed and options. */
  readonly fingerprint: string;
  /** The last `traceCapacity` events, oldest first. */
  readonly recent: string[];
  readonly stats: SeedStats;
}

/** Ticks a healed cluster gets to elect a leader, commit a fresh proposal everywhere and serve a read. */
export const LIVENESS_BOUND_TICKS = 400;
/** How long one fault phase lasts, in ticks (the last one is cut short to leave LIVENESS_BOUND_TICKS). */
const FAULT_TICKS = { min: 80, max: 300 } as const;
/** The membership changes the simulator proposes keep 3 to 5 voters, and at most one learner at a time. */
const MEMBERSHIP = { minVoters: 3, maxVoters: 5, maxLearners: 1 } as const;
/** A client's proposal: up to 8 entries in one turn of the driver, each its id and up to 24 random bytes. */
const PROPOSAL = { maxBatch: 8, maxPadBytes: 24 } as const;
/** Ticks a node keeps running after its removal commits, before the simulator retires it. */
const MAX_RETIRE_DELAY_TICKS = 30;

/** The incarnation of a node's first disk; later ones are numbered in the order of wipes. */
function firstDisk(id: NodeId): string {
  return `${id}.1`;
}

interface ProbeWrite {
  readonly leader: NodeId;
  readonly term: Term;
  /** Where it applied on the leader, once the driver answered; null before. */
  index: number | null;
  refused: boolean;
}

interface LivenessProbe {
  readonly healTick: number;
  write: ProbeWrite | null;
  written: boolean;
  read: { readonly context: string; readonly leader: NodeId; readonly term: Term } | null;
  readAnswered: boolean;
}

export async function runSeed(options: SimOptions): Promise<SeedResult> {
  const sim = new Simulation(options);
  await sim.run();
  return sim.result();
}

class Simulation implements SimContext {
  readonly checker = new SafetyChecker();
  readonly driverFaults: DriverFaults | null;
  private readonly coreFaults: CoreFaults | null;
  readonly trace: Trace;
  readonly network: SimNetwork;
  private readonly queue = new EventQueue();
  private readonly prng: Prng;
  private readonly corePrng: Prng;
  private readonly storePrng: Prng;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly initialConf: ConfState;
  private readonly pendingRestarts = new Map<NodeId, number>();
  private readonly pendingRetires = new Map<NodeId, number>();
  private readonly coreTuning: Partial<RaftConfig>;
  private readonly snapshotPolicy: { readonly entries: number; readonly bytes: number };
  private time = 0;
  private tickNo = 0;
  private profile: FaultProfile = HEAL_PROFILE;
  private phaseEnd = 0;
  private probe: LivenessProbe | null = null;
  private committedConf: ConfState;
  private committedConfIndex = 0;
  private nextProposalId = 1;
  private nextReadId = 1;
  private nextNodeNumber: number;
  private nextDiskNumber = 2;
  /** Voters that lost their disk: once replaced and caught up, they are promoted again. */
  private readonly wipedVoters = new Set<NodeId>();
  /** A membership change proposed and not yet answered (by the node, in the life, that took it). */
  private confInFlight: { readonly node: SimNode; readonly life: number } | null = null;
  private finished = false;
  private stats = {
    events: 0, proposalsAcked: 0, readsIssued: 0, crashes: 0, confChanges: 0, transfers: 0,
    compactions: 0, heals: 0, wipes: 0, diskFaults: 0,
  };

  constructor(private readonly options: SimOptions) {
    const faults = splitFaults(options.faults);
    this.coreFaults = faults.core;
    this.driverFaults = faults.driver;
    const root = new Prng(options.seed);
    this.prng = root.fork();
    this.corePrng = root.fork();
    this.storePrng = root.fork();
    this.network = new SimNetwork(root.fork(), this.queue);
    this.trace = new Trace(options.traceCapacity, options.traceSink);
    const voters: NodeId[] = [];
    const addresses: Record<NodeId, string> = {};
    const incarnations: Record<NodeId, string> = {};
    for (let i = 1; i <= options.nodes; i++) {
      voters.push(`n${i}`);
      addresses[`n${i}`] = `sim:n${i}`;
      incarnations[`n${i}`] = firstDisk(`n${i}`);
    }
    this.initialConf = { voters, learners: [], addresses, incarnations };
    this.committedConf = EMPTY_CONF;
    this.nextNodeNumber = options.nodes + 1;
    // Vary the core's batching and pipelining bounds per seed: small windows exercise back-pressure.
    const p = this.prng;
    this.coreTuning = {
      maxInflight: p.range(1, 8),
      maxEntriesPerMessage: p.pick([1, 1, 2, 4, 16, 64]),
      electionTicks: p.pick([6, 10, 10, 15]),
      heartbeatTicks: p.pick([1, 1, 2]),
      preVote: p.chance(0.8),
      checkQuorum: p.chance(0.8),
    };
    // The driver's snapshot policy: by entries (often), by bytes (sometimes), or only when asked.
    this.snapshotPolicy = { entries: p.pick([16, 64, 256, 1e9]), bytes: p.pick([2048, 1e12, 1e12]) };
  }

  now(): number {
    return this.time;
  }

  result(): SeedResult {
    return {
      seed: this.options.seed,
      violation: this.checker.violation,
      fingerprint: this.trace.fingerprint(),
      recent: this.trace.recent(),
      stats: {
        ...this.stats,
        ticks: this.tickNo,
        maxCommit: this.checker.maxCommit,
        electedTerms: this.checker.electedTerms,
      },
    };
  }

  async run(): Promise<void> {
    try {
      for (const id of this.initialConf.voters) this.spawn(id, this.initialConf);
      await settle();
      this.startFaultPhase();
      for (this.tickNo = 0; this.tickNo < this.options.steps && !this.finished; this.tickNo++) {
        await this.runTick();
        if (this.checker.failed) break;
      }
    } catch (err) {
      const e = err as Error;
      this.checker.fail('UNEXPECTED_EXCEPTION', '-', `${e.name}: ${e.message} ${(e.stack ?? '').split('\n').slice(1, 4).join(' | ')}`);
    }
    const v = this.checker.violation;
    if (v !== null) this.trace.record(this.time, 'violation', v.node, null, `${v.invariant}: ${v.detail}`);
  }

  private async runTick(): Promise<void> {
    const tick = this.tickNo;
    const end = (tick + 1) * TICK_UNITS;
    this.scheduledActions(tick);
    if (this.probe === null) this.faultActions();
    else this.healActions(this.probe);
    await settle();
    while (this.queue.peekTime() < end && !this.checker.failed) {
      const event = this.queue.pop() as SimEvent;
      this.time = event.at;
      this.stats.events++;
      this.handle(event);
      // Events of one instant run back to back, as messages read from one socket do; what they
      // started runs before the clock moves on.
      if (this.queue.peekTime() !== this.time) await settle();
    }
    this.time = end;
    this.trackMembership(tick);
    if (this.probe === null && tick + 1 >= this.phaseEnd) this.startHeal(tick + 1);
  }

  private handle(event: SimEvent): void {
    const msg = event.msg;
    if (msg === null) {
      const node = this.nodes.get(event.node);
      if (node?.live && node.incarnation === event.incarnation) event.timer?.();
      return;
    }
    const node = this.nodes.get(msg.to);
    if (node === undefined || node.core === null) {
      this.trace.record(this.time, 'lost', msg.to, msg, 'down');
      return;
    }
    if (this.network.isCut(msg.from, msg.to)) {
      this.trace.record(this.time, 'cut', msg.to, msg, 'in flight');
      return;
    }
    if (this.profile.garbage > 0 && this.prng.chance(this.profile.garbage)) this.stepGarbage(node.core, msg);
    this.trace.record(this.time, 'deliver', msg.to, msg, '');
    node.receive(msg);
  }

  /**
   * The driver's clock for one life of `node`, on the event queue: its ticks (with the phase's
   * clock skew), its "run after this turn" and its sleeps all die with that life.
   */
  timers(node: SimNode, life: number): DriverTimers {
    const queue = this.queue;
    return {
      now: () => this.time,
      every: (ms, fn) => {
        let on = true;
        const arm = (at: number): void => queue.timer(at, node.id, life, () => {
          if (!on) return;
          fn();
          const skew = this.profile.clockSkew > 0 && this.prng.chance(this.profile.clockSkew) ? this.prng.range(-3, 3) : 0;
          arm(this.time + ms + skew);
        });
        arm(this.time + this.prng.range(1, ms));
        return () => { on = false; };
      },
      soon: (fn) => queue.timer(this.time, node.id, life, fn),
      sleep: (ms) => new Promise((resolve) => queue.timer(this.time + ms, node.id, life, resolve)),
    };
  }

  /** Feeds a corrupted copy of `msg`: it must be refused as INVALID_MESSAGE with no state change. */
  private stepGarbage(core: RaftCore, msg: Message): void {
    const { message, how } = corruptMessage(msg, this.prng);
    const statusBefore = JSON.stringify(core.status());
    const readyBefore = core.hasReady();
    const result = core.step(message);
    this.trace.record(this.time, 'garbage', msg.to, msg, how);
    if (result.ok || result.code !== 'INVALID_MESSAGE') {
      this.checker.fail('MESSAGE_VALIDATION', msg.to, `a message with ${how} was not refused as INVALID_MESSAGE (${result.ok ? 'accepted' : result.code})`);
    } else if (JSON.stringify(core.status()) !== statusBefore || core.hasReady() !== readyBefore) {
      this.checker.fail('MESSAGE_VALIDATION', msg.to, `a message with ${how} was refused but changed the core's state`);
    }
  }

  // ---- nodes ------------------------------------------------------------------------------------

  private coreConfig(id: NodeId): () => RaftConfig {
    return () => {
      const random = this.corePrng.fork();
      const config: RaftConfig = { ...defaultRaftConfig(id, () => random.next()), ...this.coreTuning };
      return this.coreFaults === null ? config : { ...config, faults: this.coreFaults };
    };
  }

  /** Each life of a node keeps 0 to 4 entries behind its snapshots (drawn at each start). */
  private nodePolicy(): () => SnapshotPolicy {
    return () => ({ snapshotEntries: this.snapshotPolicy.entries, snapshotBytes: this.snapshotPolicy.bytes, snapshotRetain: this.prng.range(0, 4) });
  }

  private newStore(id: NodeId): DurableStore {
    const storeRandom = this.storePrng.fork();
    return (this.options.store ?? memoryStore)(id, () => storeRandom.next());
  }

  private spawn(id: NodeId, bootstrap: ConfState | null): void {
    this.network.register(id);
    const node = new SimNode(id, bootstrap, this.newStore(id), this.coreConfig(id), this.nodePolicy(), this, firstDisk(id));
    this.nodes.set(id, node);
    node.start();
  }

  private restart(node: SimNode): void {
    this.pendingRestarts.delete(node.id);
    if (node.live || node.starting || node.retired) return;
    this.trace.record(this.time, 'restart', node.id, null, `incarnation ${node.incarnation + 1}`);
    node.start();
  }

  private crash(node: SimNode, restartAt: number | null, how = ''): void {
    this.stats.crashes++;
    const when = restartAt === null ? 'retired' : `restart at tick ${restartAt}`;
    this.trace.record(this.time, 'crash', node.id, null, how === '' ? when : `${how}; ${when}`);
    node.crash();
    if (restartAt !== null) this.pendingRestarts.set(node.id, restartAt);
  }

  private liveNodes(): SimNode[] {
    const live: SimNode[] = [];
    for (const node of this.nodes.values()) if (node.live) live.push(node);
    return live;
  }

  /** The live node that believes it leads the highest term, if any. */
  private leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const node of this.nodes.values()) {
      if (node.live && node.role === 'leader' && (best === null || node.term > best.term)) best = node;
    }
    return best;
  }

  /**
   * Follows the configuration applied furthest along (the latest committed one); nodes whose
   * removal has committed are retired a little later (a removed node may linger briefly).
   */
  private trackMembership(tick: number): void {
    // A learner whose addition committed though its proposer died before answering starts now.
    for (const id of this.committedConf.learners) if (!this.nodes.has(id)) this.spawn(id, null);
    let conf = this.committedConf;
    for (const node of this.nodes.values()) {
      if (node.sm.index > this.committedConfIndex) {
        this.committedConfIndex = node.sm.index;
        conf = node.sm.conf;
      }
    }
    if (conf === this.committedConf) return;
    const previous = this.committedConf;
    this.committedConf = conf;
    for (const id of [...previous.voters, ...previous.learners]) {
      if (!conf.voters.includes(id) && !conf.learners.includes(id) && !this.pendingRetires.has(id)) {
        this.pendingRetires.set(id, tick + this.prng.range(0, MAX_RETIRE_DELAY_TICKS));
      }
    }
  }

  private scheduledActions(tick: number): void {
    for (const [id, at] of this.pendingRetires) {
      if (at > tick) continue;
      this.pendingRetires.delete(id);
      const node = this.nodes.get(id);
      if (node === undefined || node.retired) continue;
      node.retired = true;
      this.pendingRestarts.delete(id);
      this.trace.record(this.time, 'retire', id, null, 'removal committed');
      if (node.live) this.crash(node, null);
    }
    for (const [id, at] of this.pendingRestarts) {
      const node = this.nodes.get(id);
      if (at <= tick && node !== undefined) this.restart(node);
    }
  }

  // ---- phases -----------------------------------------------------------------------------------

  private startFaultPhase(): void {
    const p = this.prng;
    const remaining = this.options.steps - this.tickNo - LIVENESS_BOUND_TICKS;
    if (remaining < FAULT_TICKS.min && this.tickNo > 0) {
      this.finished = true;
      return;
    }
    const length = Math.max(1, Math.min(remaining, p.range(FAULT_TICKS.min, FAULT_TICKS.max)));
    this.phaseEnd = this.tickNo + length;
    const { kind, profile } = drawFaultProfile(p);
    this.profile = profile;
    this.network.faults = this.profile.links;
    this.probe = null;
    this.trace.record(this.time, 'phase', '-', null, `${kind} faults until tick ${this.phaseEnd}`);
  }

  /** Removes every fault: links heal, every crashed member restarts; the liveness clock starts. */
  private startHeal(tick: number): void {
    this.stats.heals++;
    this.profile = HEAL_PROFILE;
    this.network.faults = CLEAN_LINKS;
    this.network.healLinks();
    for (const node of this.nodes.values()) {
      node.disk.heal();
      if (!node.live && !node.retired) this.pendingRestarts.set(node.id, tick);
    }
    this.probe = { healTick: tick, write: null, written: false, read: null, readAnswered: false };
    this.trace.record(this.time, 'phase', '-', null, 'heal');
  }

  private faultActions(): void {
    const p = this.prng;
    const profile = this.profile;
    if (p.chance(profile.propose)) this.clientPropose();
    if (p.chance(profile.read)) this.clientRead(this.pickLive());
    if (p.chance(profile.crash)) {
      const victim = p.chance(0.3) ? this.leader() : this.pickLive();
      if (victim !== null) this.crash(victim, this.tickNo + p.range(3, 80));
    }
    if (profile.churn > 0 && p.chance(profile.churn)) {
      const leader = this.leader();
      if (leader !== null) this.crash(leader, this.tickNo + p.range(1, 20));
    }
    if (p.chance(profile.partition)) this.changeLinks();
    if (p.chance(profile.confChange)) this.changeMembership();
    if (p.chance(profile.transfer)) this.transferLeadership();
    if (p.chance(profile.compact)) this.compactSomewhere();
    if (p.chance(profile.wipe)) this.wipeSomewhere();
    if (p.chance(profile.wipeAcked)) this.wipeAckedThenCrashLeader();
    this.diskFaults(profile);
    this.replaceWiped();
  }

  private healActions(probe: LivenessProbe): void {
    const p = this.prng;
    this.replaceWiped();
    if (p.chance(HEAL_PROFILE.propose)) this.clientPropose();
    if (p.chance(HEAL_PROFILE.read)) this.clientRead(this.pickLive());
    if (p.chance(HEAL_PROFILE.compact)) this.compactSomewhere();
    this.checkLiveness(probe);
  }

  /**
   * Disks go slow (every write takes up to a few election timeouts) and recover, fill up and get
   * room back, fail an fsync (the node stops; it restarts later), and lose power with a write in
   * flight (the node crashes before its save is durable: what it sent first must not count).
   */
  private diskFaults(profile: FaultProfile): void {
    const p = this.prng;
    const nodes = [...this.nodes.values()].filter((n) => !n.retired);
    if (nodes.length === 0) return;
    if (p.chance(profile.slowDisk)) {
      const node = p.pick(nodes);
      node.disk.latency = node.disk.latency > 0 ? 0 : p.pick([1, 3, TICK_UNITS, 5 * TICK_UNITS, 30 * TICK_UNITS]);
      this.noteDisk(node, node.disk.latency > 0 ? `slow: ${node.disk.latency} units a write` : 'fast again');
    }
    if (p.chance(profile.diskFull)) {
      const node = p.pick(nodes);
      node.disk.full = !node.disk.full;
      this.noteDisk(node, node.disk.full ? 'full' : 'room again');
    }
    if (p.chance(profile.fsyncFail)) {
      const node = p.pick(nodes);
      node.disk.failNextWrite = true;
      this.noteDisk(node, 'the next fsync fails');
    }
    if (p.chance(profile.crashMidWrite)) {
      const writing = nodes.filter((n) => n.live && n.disk.inFlight > 0);
      if (writing.length > 0) this.crash(p.pick(writing), this.tickNo + p.range(1, 30), 'power lost with a write in flight');
    }
  }

  private noteDisk(node: SimNode, what: string): void {
    this.stats.diskFaults++;
    this.trace.record(this.time, 'disk', node.id, null, what);
  }

  /**
   * After a heal: a leader of the highest term commits a fresh proposal, every live member applies
   * it, and a ReadIndex read on the leader is answered; all within LIVENESS_BOUND_TICKS.
   */
  private checkLiveness(probe: LivenessProbe): void {
    const leader = this.leader();
    const write = probe.write;
    if (write !== null && !probe.written) {
      if (write.index !== null) {
        probe.written = this.everyMemberApplied(write.index);
      } else if (write.refused || leader === null || leader.id !== write.leader || leader.term !== write.term) {
        probe.write = null; // refused, or its leader was superseded: propose again
      }
    }
    if (probe.write === null && leader !== null && this.leadsHighestTerm(leader)) {
      const next: ProbeWrite = { leader: leader.id, term: leader.term, index: null, refused: false };
      probe.write = next;
      this.propose(leader, 1, (index) => {
        if (index === null) next.refused = true;
        else next.index = index;
      });
    }
    const read = probe.read;
    if (read !== null && !probe.readAnswered && (leader === null || leader.id !== read.leader || leader.term !== read.term)) {
      probe.read = null; // the leader that took the read lost its role: read again on the new one
    }
    if (probe.written && probe.read === null && leader !== null) {
      const context = this.clientRead(leader);
      if (context !== null) probe.read = { context, leader: leader.id, term: leader.term };
    }
    if (probe.written && probe.readAnswered) {
      this.trace.record(this.time, 'phase', '-', null, `healed in ${this.tickNo - probe.healTick} ticks`);
      this.startFaultPhase();
      return;
    }
    if (this.tickNo - probe.healTick >= LIVENESS_BOUND_TICKS) {
      this.checker.fail('LIVENESS', leader?.id ?? '-', `${LIVENESS_BOUND_TICKS} ticks after heal: ${this.describeCluster(probe)}`);
    }
  }

  afterSave(node: SimNode, becameLeader: boolean, leaderProgress: boolean): void {
    const profile = this.profile;
    const p = this.prng;
    const hit =
      (becameLeader && profile.crashOnElected > 0 && p.chance(profile.crashOnElected)) ||
      (leaderProgress && profile.crashOnProgress > 0 && p.chance(profile.crashOnProgress)) ||
      (profile.crashBeforeSend > 0 && p.chance(profile.crashBeforeSend));
    if (hit) this.crash(node, this.tickNo + p.range(1, 12), 'after persisting, before the rest of the Ready');
  }

  storageFailed(node: SimNode, err: unknown): void {
    if ((err as { code?: unknown }).code === FSYNC_FAILED_CODE) {
      this.crash(node, this.tickNo + this.prng.range(3, 30), 'fsync failed: the driver stopped the node');
      return;
    }
    const e = err as Error;
    this.checker.fail('UNEXPECTED_EXCEPTION', node.id, `the driver stopped: ${e.name}: ${e.message} ${(e.stack ?? '').split('\n').slice(1, 4).join(' | ')}`);
  }

  readAnswered(context: string): void {
    if (this.probe !== null && this.probe.read !== null && this.probe.read.context === context) this.probe.readAnswered = true;
  }

  private leadsHighestTerm(leader: SimNode): boolean {
    for (const node of this.nodes.values()) if (node.live && node.term > leader.term) return false;
    return true;
  }

  private everyMemberApplied(index: number): boolean {
    const conf = this.committedConf;
    for (const id of [...conf.voters, ...conf.learners]) {
      const node = this.nodes.get(id);
      if (node !== undefined && !node.retired && (!node.live || node.sm.index < index)) return false;
    }
    return true;
  }

  private describeCluster(probe: LivenessProbe): string {
    const parts: string[] = [];
    for (const node of this.nodes.values()) {
      if (node.retired) continue;
      parts.push(`${node.id}:${node.live ? node.role : 'down'} t${node.term} commit=${node.hardState.commit} applied=${node.sm.index} last=${node.log.lastIndex}`);
    }
    const w = probe.write;
    const write = w === null ? 'no probe accepted' : `probe ${w.index}/${w.term} on ${w.leader}${probe.written ? ' applied everywhere' : ' not yet applied everywhere'}`;
    return `${write}; read ${probe.readAnswered ? 'answered' : 'unanswered'}; ${parts.join(', ')}`;
  }

  // ---- client traffic -----------------------------------------------------------------------------

  private pickLive(): SimNode | null {
    const live = this.liveNodes();
    return live.length === 0 ? null : this.prng.pick(live);
  }

  /** Clients reach any node that believes it leads (stale leaders too), sometimes a follower. */
  private clientPropose(): void {
    const p = this.prng;
    const leaders = this.liveNodes().filter((n) => n.role === 'leader');
    const target = leaders.length > 0 && p.chance(0.85) ? p.pick(leaders) : this.pickLive();
    if (target !== null) this.propose(target, p.chance(0.1) ? p.range(2, PROPOSAL.maxBatch) : 1, () => undefined);
  }

  /**
   * Proposes `count` fresh entries on `node` in one turn of its driver (which batches them);
   * `done` gets where the last one applied there, or null if any was refused.
   */
  private propose(node: SimNode, count: number, done: (index: number | null) => void): void {
    const first = this.nextProposalId;
    this.trace.record(this.time, 'propose', node.id, null, `p${first}+${count}`);
    let answered = 0;
    let last: number | null = 0;
    for (let i = 0; i < count; i++) {
      const id = this.nextProposalId++;
      node.propose(this.proposalData(id), (o) => {
        if (o.ok) this.stats.proposalsAcked++;
        else this.trace.record(this.time, 'refused', node.id, null, `p${id} ${o.code}`);
        last = !o.ok || last === null ? null : Math.max(last, o.value);
        if (++answered === count) done(last);
      });
    }
  }

  private proposalData(id: number): Uint8Array {
    const data = new Uint8Array(PROPOSAL_ID_BYTES + this.prng.int(PROPOSAL.maxPadBytes + 1));
    data[0] = id >>> 24;
    data[1] = (id >>> 16) & 0xff;
    data[2] = (id >>> 8) & 0xff;
    data[3] = id & 0xff;
    return data;
  }

  /**
   * Starts a ReadIndex read on `node`; returns its context. The read index it is answered with
   * must cover every commit known anywhere when it was issued.
   */
  private clientRead(node: SimNode | null): string | null {
    if (node === null || !node.live) return null;
    const context = `r${this.nextReadId++}`;
    this.trace.record(this.time, 'read', node.id, null, context);
    this.stats.readsIssued++;
    this.checker.onReadIssued(context);
    node.read((o) => {
      if (!o.ok) {
        this.trace.record(this.time, 'refused', node.id, null, `${context} ${o.code}`);
        if (this.probe?.read?.context === context) this.probe.read = null;
        return;
      }
      this.trace.record(this.time, 'readState', node.id, null, `${context} index=${o.value}`);
      this.checker.onReadState(node.id, { context, index: o.value });
      this.readAnswered(context);
    });
    return context;
  }

  // ---- faults -------------------------------------------------------------------------------------

  private changeLinks(): void {
    const ids = [...this.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
    const description = this.network.randomPartition(ids, this.leader()?.id ?? null, this.prng);
    this.trace.record(this.time, 'links', '-', null, description);
  }

  private changeMembership(): void {
    const leader = this.leader();
    if (leader === null || leader.core === null) return;
    const p = this.prng;
    const status = leader.core.status();
    const { voters, learners } = status.conf;
    const options: (() => void)[] = [];
    if (learners.length < MEMBERSHIP.maxLearners && voters.length < MEMBERSHIP.maxVoters && this.nodes.size < MAX_SIM_NODES) {
      options.push(() => this.addLearner(leader));
    }
    for (const learner of learners) {
      const progress = status.progress[learner];
      const node = this.nodes.get(learner);
      // Usually only a caught-up learner is promoted; sometimes a lagging one (it must not cost the quorum for long).
      const caughtUp = progress !== undefined && progress.match >= status.commit;
      // As the service does: the incarnation recorded when it was added, else the one it answers with.
      const incarnation = status.conf.incarnations?.[learner] ?? progress?.incarnation ?? null;
      if (voters.length < MEMBERSHIP.maxVoters && node?.live === true && incarnation !== null && (caughtUp || p.chance(0.3))) {
        options.push(() => this.proposeConf(leader, { type: 'promote', node: learner, incarnation }));
      }
      options.push(() => this.proposeConf(leader, { type: 'remove', node: learner }));
    }
    if (voters.length > MEMBERSHIP.minVoters) {
      options.push(() => this.proposeConf(leader, { type: 'remove', node: p.pick(voters) }));
    }
    if (options.length > 0) p.pick(options)();
  }

  /** Adds a learner; its node starts once the leader applied the change (or it committed: trackMembership). */
  private addLearner(leader: SimNode): void {
    const id = `n${this.nextNodeNumber++}`;
    // Joining nodes name their incarnation; an operator's add may not (it is recorded at promotion).
    const cc: ConfChange = this.prng.chance(0.5)
      ? { type: 'addLearner', node: id, address: `sim:${id}`, incarnation: firstDisk(id) }
      : { type: 'addLearner', node: id, address: `sim:${id}` };
    this.proposeConf(leader, cc, () => { if (!this.nodes.has(id)) this.spawn(id, null); });
  }

  /** Whether a membership change the simulator proposed is still waiting for its answer. */
  private confPending(): boolean {
    const c = this.confInFlight;
    if (c?.node.live && c.node.incarnation === c.life && c.node.role === 'leader') return true;
    this.confInFlight = null;
    return false;
  }

  /** Proposes `cc` through `leader`'s driver, one at a time; `applied` runs once the leader applied it. */
  private proposeConf(leader: SimNode, cc: ConfChange, applied: () => void = () => undefined): void {
    const core = leader.core;
    if (core === null || this.confPending()) return;
    if ((cc.type === 'remove' || cc.type === 'promote') && !this.intactQuorumHolds(null, applyConfChange(core.status().conf, cc))) {
      this.trace.record(this.time, 'conf', leader.id, null, `${cc.type} ${cc.node} skipped: it would leave fewer voters with their disks than a quorum`);
      return;
    }
    const inFlight = { node: leader, life: leader.incarnation };
    this.confInFlight = inFlight;
    this.trace.record(this.time, 'conf', leader.id, null, `${cc.type} ${cc.node}`);
    leader.proposeConfChange(cc, (o) => {
      if (this.confInFlight === inFlight) this.confInFlight = null;
      this.trace.record(this.time, 'conf', leader.id, null, `${cc.type} ${cc.node} ${o.ok ? `applied at ${o.value}` : o.code}`);
      if (!o.ok) return;
      this.stats.confChanges++;
      applied();
    });
  }

  /**
   * A node loses its disk (crashing first if it runs) and restarts later, empty, as a new
   * incarnation. Never so that fewer voters with intact disks than a quorum remain in any
   * configuration a live node or the committed history holds: losing a majority of disks is
   * unrecoverable by design (the cluster refuses; raft/incarnation.test.ts and the README).
   */
  private wipeSomewhere(): void {
    const candidates = [...this.nodes.values()].filter((n) => !n.retired && this.keepsIntactQuorum(n.id));
    if (candidates.length > 0) this.wipe(this.prng.pick(candidates));
  }

  private wipeAckedThenCrashLeader(): void {
    const leader = this.leader();
    if (leader === null || leader.core === null) return;
    const st = leader.core.status();
    const acked = Object.entries(st.progress)
      .filter(([id, pr]) => pr.voter && pr.match >= st.commit && this.nodes.get(id)?.retired === false && this.keepsIntactQuorum(id))
      .map(([id]) => this.nodes.get(id) as SimNode);
    // Only when some voter lags behind the commit: the wiped disk was needed for it.
    const lagging = Object.values(st.progress).some((pr) => pr.voter && pr.match < st.commit);
    if (acked.length === 0 || !lagging) return;
    this.wipe(this.prng.pick(acked));
    this.crash(leader, this.tickNo + this.prng.range(20, 80), 'after a follower that acknowledged lost its disk');
  }

  private wipe(victim: SimNode): void {
    const disk = `${victim.id}.${this.nextDiskNumber++}`;
    if (this.committedConf.voters.includes(victim.id)) this.wipedVoters.add(victim.id);
    if (victim.live) this.crash(victim, this.tickNo + this.prng.range(3, 40), `disk wiped: ${disk}`);
    else this.trace.record(this.time, 'crash', victim.id, null, `disk wiped while down: ${disk}`);
    victim.wipe(this.newStore(victim.id), disk);
    this.stats.wipes++;
  }

  /**
   * Whether `victim` may lose its disk: in every configuration known (committed, or held by a live
   * node), the other voters with their recorded disk that are voters in every other known
   * configuration too (a leader that appended its own removal no longer campaigns) still make a quorum.
   */
  private keepsIntactQuorum(victim: NodeId): boolean {
    return this.intactQuorumHolds(victim, null);
  }

  /**
   * Losing disks is survivable only while a quorum of intact voters remains, in every
   * configuration a node may act on (with `proposed`, the one a conf change would add); a lost
   * majority is unrecoverable by design. Disk wipes and the simulator's own membership changes
   * keep within that bound, as an operator's would (the healing `replace` is always allowed).
   */
  private intactQuorumHolds(victim: NodeId | null, proposed: ConfState | null): boolean {
    const confs = [this.committedConf, ...this.liveNodes().map((n) => n.core?.status().conf), proposed]
      .filter((c): c is ConfState => c !== undefined && c !== null && c.voters.length > 0);
    const everywhere = (id: NodeId): boolean => confs.every((c) => c.voters.includes(id));
    for (const conf of confs) {
      if (victim !== null && !conf.voters.includes(victim)) continue;
      const intact = conf.voters.filter((id) => id !== victim && everywhere(id) && this.nodes.get(id)?.diskIncarnation === conf.incarnations?.[id]).length;
      if (intact < Math.floor(conf.voters.length / 2) + 1) return false;
    }
    return true;
  }

  /**
   * What a wiped node's join loop asks of the leader in production (runtime/service.ts): replace
   * the member it was by its new incarnation, then, if it was a voter, promote it once caught up.
   */
  private replaceWiped(): void {
    const leader = this.leader();
    if (leader === null || leader.core === null) return;
    const st = leader.core.status();
    const conf = st.conf;
    for (const id of [...conf.voters, ...conf.learners]) {
      const node = this.nodes.get(id);
      if (node === undefined || !node.live || node.retired || id === leader.id) continue;
      const recorded = conf.incarnations?.[id];
      if (recorded !== node.diskIncarnation && (recorded !== undefined || conf.voters.includes(id))) {
        this.proposeConf(leader, { type: 'replace', node: id, address: `sim:${id}`, incarnation: node.diskIncarnation });
        return;
      }
      const progress = st.progress[id];
      if (this.wipedVoters.has(id) && conf.learners.includes(id) && recorded === node.diskIncarnation && progress !== undefined && progress.match >= st.commit) {
        this.proposeConf(leader, { type: 'promote', node: id, incarnation: node.diskIncarnation }, () => this.wipedVoters.delete(id));
        return;
      }
    }
  }

  private transferLeadership(): void {
    const leader = this.leader();
    if (leader === null || leader.core === null) return;
    const others = leader.core.status().conf.voters.filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const to = this.prng.pick(others);
    this.trace.record(this.time, 'transfer', leader.id, null, `to ${to}`);
    leader.transferLeadership(to, (o) => {
      if (o.ok) this.stats.transfers++;
      else this.trace.record(this.time, 'transfer', leader.id, null, `to ${to} ${o.code}`);
    });
  }

  /** Asks a node's driver for a snapshot now (its policy also takes them every so many entries). */
  private compactSomewhere(): void {
    const node = this.pickLive();
    if (node === null) return;
    node.requestSnapshot();
    this.stats.compactions++;
  }
}
