// One seeded simulation run: real Raft cores on a virtual clock and network, driven through
// alternating phases. A fault phase mixes client traffic, ReadIndex reads, crashes and restarts,
// partitions, loss, duplication, long delays, membership changes, leadership transfers,
// compactions and disk wipes (a wiped node comes back empty as a new incarnation and is replaced
// through the leader, as its join loop asks in production); a heal phase removes every fault and must, within a bound, produce a leader that
// commits a fresh proposal on every live member and answers a ReadIndex read. The run stops at
// the first violation; the same seed and options always replay the same events.
import { defaultRaftConfig } from '../raft/index.js';
import type { ConfChange, ConfState, Message, NodeId, RaftConfig, RaftCore, Term } from '../raft/types.js';
import { SafetyChecker, PROPOSAL_ID_BYTES, type Violation } from './checker.js';
import { memoryStore, type DurableStore, type StoreFactory } from './durable.js';
import { corruptMessage } from './garbage.js';
import { CLEAN_LINKS, SimNetwork, TICK_UNITS, MAX_SIM_NODES } from './network.js';
import { drawFaultProfile, HEAL_PROFILE, type FaultProfile } from './profile.js';
import { SimNode, type SimContext } from './node.js';
import { Prng } from './prng.js';
import { EventQueue, type SimEvent } from './queue.js';
import { applyConfChange, EMPTY_CONF } from './statemachine.js';
import { Trace } from './trace.js';

/** Deliberate bugs the core can be asked to carry (test-only), to show the simulator catches them. */
export type CoreFaults = NonNullable<RaftConfig['faults']>;

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
  readonly faults: CoreFaults | null;
  /** Makes each node's durable store; the in-memory store when absent. */
  readonly store?: StoreFactory;
}

export interface SeedStats {
  readonly ticks: number;
  readonly events: number;
  readonly maxCommit: number;
  readonly electedTerms: number;
  readonly proposalsAccepted: number;
  readonly readsIssued: number;
  readonly crashes: number;
  readonly confChanges: number;
  readonly transfers: number;
  readonly compactions: number;
  readonly heals: number;
  readonly wipes: number;
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
const MIN_FAULT_TICKS = 80;
const MAX_FAULT_TICKS = 300;
const MIN_VOTERS = 3;
const MAX_VOTERS = 5;
const MAX_LEARNERS = 1;
const MAX_BATCH = 8;
const MAX_PAD_BYTES = 24;
/** Ticks a node keeps running after its removal commits, before the simulator retires it. */
const MAX_RETIRE_DELAY_TICKS = 30;

/** The incarnation of a node's first disk; later ones are numbered in the order of wipes. */
function firstDisk(id: NodeId): string {
  return `${id}.1`;
}

interface LivenessProbe {
  readonly healTick: number;
  write: { readonly index: number; readonly term: Term; readonly leader: NodeId } | null;
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
  private finished = false;
  private stats = {
    events: 0, proposalsAccepted: 0, readsIssued: 0, crashes: 0, confChanges: 0, transfers: 0,
    compactions: 0, heals: 0, wipes: 0,
  };

  constructor(private readonly options: SimOptions) {
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
      for (const id of this.initialConf.voters) await this.spawn(id, this.initialConf);
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
    await this.scheduledActions(tick);
    if (this.probe === null) await this.faultActions();
    else await this.healActions(this.probe);
    await this.drainAll();
    while (this.queue.peekTime() < end && !this.checker.failed) {
      const event = this.queue.pop() as SimEvent;
      this.time = event.at;
      this.stats.events++;
      const pending = this.handle(event);
      if (pending !== undefined) await pending;
    }
    this.time = end;
    this.trackMembership(tick);
    if (this.probe === null && tick + 1 >= this.phaseEnd) this.startHeal(tick + 1);
  }

  private handle(event: SimEvent): Promise<void> | undefined {
    const msg = event.msg;
    if (msg === null) {
      const node = this.nodes.get(event.node);
      if (node === undefined || node.core === null || node.incarnation !== event.incarnation) return undefined;
      node.core.tick();
      const skew = this.profile.clockSkew > 0 && this.prng.chance(this.profile.clockSkew) ? this.prng.range(-3, 3) : 0;
      this.queue.push(event.at + TICK_UNITS + skew, null, node.id, node.incarnation);
      return node.drain();
    }
    const node = this.nodes.get(msg.to);
    if (node === undefined || node.core === null) {
      this.trace.record(this.time, 'lost', msg.to, msg, 'down');
      return undefined;
    }
    if (this.network.isCut(msg.from, msg.to)) {
      this.trace.record(this.time, 'cut', msg.to, msg, 'in flight');
      return undefined;
    }
    if (this.profile.garbage > 0 && this.prng.chance(this.profile.garbage)) this.stepGarbage(node.core, msg);
    this.trace.record(this.time, 'deliver', msg.to, msg, '');
    const accepted = node.core.step(msg);
    if (!accepted.ok) this.trace.record(this.time, 'refused', msg.to, msg, accepted.code);
    return node.drain();
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
      return this.options.faults === null ? config : { ...config, faults: this.options.faults };
    };
  }

  private newStore(id: NodeId): DurableStore {
    const storeRandom = this.storePrng.fork();
    return (this.options.store ?? memoryStore)(id, () => storeRandom.next());
  }

  private async spawn(id: NodeId, bootstrap: ConfState | null): Promise<void> {
    this.network.register(id);
    const node = new SimNode(id, bootstrap, this.newStore(id), this.coreConfig(id), this, firstDisk(id));
    this.nodes.set(id, node);
    await this.boot(node);
  }

  private async boot(node: SimNode): Promise<void> {
    const started = node.start();
    if (started !== undefined) await started;
    this.queue.push(this.time + this.prng.range(1, TICK_UNITS), null, node.id, node.incarnation);
    const drained = node.drain();
    if (drained !== undefined) await drained;
  }

  private async restart(node: SimNode): Promise<void> {
    this.pendingRestarts.delete(node.id);
    if (node.live || node.retired) return;
    this.trace.record(this.time, 'restart', node.id, null, `incarnation ${node.incarnation + 1}`);
    await this.boot(node);
  }

  private crash(node: SimNode, restartAt: number | null, how = ''): void {
    this.stats.crashes++;
    const when = restartAt === null ? 'retired' : `restart at tick ${restartAt}`;
    this.trace.record(this.time, 'crash', node.id, null, how === '' ? when : `${how}; ${when}`);
    node.crash();
    if (restartAt !== null) this.pendingRestarts.set(node.id, restartAt);
  }

  /** Carries out what the tick's client and fault actions left for the cores to say. */
  private async drainAll(): Promise<void> {
    for (const node of this.nodes.values()) {
      const drained = node.drain();
      if (drained !== undefined) await drained;
    }
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

  private async scheduledActions(tick: number): Promise<void> {
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
      if (at <= tick && node !== undefined) await this.restart(node);
    }
  }

  // ---- phases -----------------------------------------------------------------------------------

  private startFaultPhase(): void {
    const p = this.prng;
    const remaining = this.options.steps - this.tickNo - LIVENESS_BOUND_TICKS;
    if (remaining < MIN_FAULT_TICKS && this.tickNo > 0) {
      this.finished = true;
      return;
    }
    const length = Math.max(1, Math.min(remaining, p.range(MIN_FAULT_TICKS, MAX_FAULT_TICKS)));
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
      if (!node.live && !node.retired) this.pendingRestarts.set(node.id, tick);
    }
    this.probe = { healTick: tick, write: null, written: false, read: null, readAnswered: false };
    this.trace.record(this.time, 'phase', '-', null, 'heal');
  }

  private async faultActions(): Promise<void> {
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
    if (p.chance(profile.confChange)) await this.changeMembership();
    if (p.chance(profile.transfer)) this.transferLeadership();
    if (p.chance(profile.compact)) await this.compactSomewhere();
    if (p.chance(profile.wipe)) this.wipeSomewhere();
    if (p.chance(profile.wipeAcked)) this.wipeAckedThenCrashLeader();
    this.replaceWiped();
  }

  private async healActions(probe: LivenessProbe): Promise<void> {
    const p = this.prng;
    this.replaceWiped();
    if (p.chance(HEAL_PROFILE.propose)) this.clientPropose();
    if (p.chance(HEAL_PROFILE.read)) this.clientRead(this.pickLive());
    if (p.chance(HEAL_PROFILE.compact)) await this.compactSomewhere();
    this.checkLiveness(probe);
  }

  /**
   * After a heal: a leader of the highest term commits a fresh proposal, every live member applies
   * it, and a ReadIndex read on the leader is answered; all within LIVENESS_BOUND_TICKS.
   */
  private checkLiveness(probe: LivenessProbe): void {
    const leader = this.leader();
    if (probe.write !== null && !probe.written) {
      const committed = this.checker.committedEntry(probe.write.index);
      if (committed !== undefined && committed.term === probe.write.term) {
        probe.written = this.everyMemberApplied(probe.write.index);
      } else if (committed !== undefined || leader === null || leader.term !== probe.write.term) {
        probe.write = null; // superseded by a later leader: propose again
      }
    }
    if (probe.write === null && leader !== null && this.leadsHighestTerm(leader)) {
      const result = this.propose(leader, 1);
      if (result !== null) probe.write = { index: result.index, term: result.term, leader: leader.id };
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

  crashBeforeSend(node: SimNode, becameLeader: boolean, leaderProgress: boolean): boolean {
    const profile = this.profile;
    const p = this.prng;
    const hit =
      (becameLeader && profile.crashOnElected > 0 && p.chance(profile.crashOnElected)) ||
      (leaderProgress && node.role === 'leader' && profile.crashOnProgress > 0 && p.chance(profile.crashOnProgress)) ||
      (profile.crashBeforeSend > 0 && p.chance(profile.crashBeforeSend));
    if (hit) this.crash(node, this.tickNo + p.range(1, 12), 'after persisting, before sending');
    return hit;
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
    if (target !== null) this.propose(target, p.chance(0.1) ? p.range(2, MAX_BATCH) : 1);
  }

  /** Proposes `count` fresh entries on `node`; returns where the last one landed, or null if refused. */
  private propose(node: SimNode, count: number): { index: number; term: Term } | null {
    const core = node.core;
    if (core === null) return null;
    const first = this.nextProposalId;
    const batch: Uint8Array[] = [];
    for (let i = 0; i < count; i++) batch.push(this.proposalData(this.nextProposalId++));
    const result = count === 1 ? core.propose(batch[0] as Uint8Array) : core.proposeBatch(batch);
    if (!result.ok) {
      this.trace.record(this.time, 'propose', node.id, null, `p${first}+${count} ${result.code}`);
      return null;
    }
    this.stats.proposalsAccepted += count;
    this.trace.record(this.time, 'propose', node.id, null, `p${first}+${count} at ${result.index}/${result.term}`);
    return { index: result.index, term: result.term };
  }

  private proposalData(id: number): Uint8Array {
    const data = new Uint8Array(PROPOSAL_ID_BYTES + this.prng.int(MAX_PAD_BYTES + 1));
    data[0] = id >>> 24;
    data[1] = (id >>> 16) & 0xff;
    data[2] = (id >>> 8) & 0xff;
    data[3] = id & 0xff;
    return data;
  }

  /** Starts a ReadIndex read on `node`; returns its context when the core accepted it. */
  private clientRead(node: SimNode | null): string | null {
    if (node === null || node.core === null) return null;
    const context = `r${this.nextReadId++}`;
    const accepted = node.core.readIndex(context);
    this.trace.record(this.time, 'read', node.id, null, `${context}${accepted.ok ? '' : ` ${accepted.code}`}`);
    if (!accepted.ok) return null;
    this.stats.readsIssued++;
    this.checker.onReadIssued(context);
    return context;
  }

  // ---- faults -------------------------------------------------------------------------------------

  private changeLinks(): void {
    const ids = [...this.nodes.values()].filter((n) => !n.retired).map((n) => n.id);
    const description = this.network.randomPartition(ids, this.leader()?.id ?? null, this.prng);
    this.trace.record(this.time, 'links', '-', null, description);
  }

  private async changeMembership(): Promise<void> {
    const leader = this.leader();
    if (leader === null || leader.core === null) return;
    const p = this.prng;
    const status = leader.core.status();
    const { voters, learners } = status.conf;
    const options: (() => Promise<void> | void)[] = [];
    if (learners.length < MAX_LEARNERS && voters.length < MAX_VOTERS && this.nodes.size < MAX_SIM_NODES) {
      options.push(() => this.addLearner(leader));
    }
    for (const learner of learners) {
      const progress = status.progress[learner];
      const node = this.nodes.get(learner);
      // Usually only a caught-up learner is promoted; sometimes a lagging one (it must not cost the quorum for long).
      const caughtUp = progress !== undefined && progress.match >= status.commit;
      // As the service does: the incarnation recorded when it was added, else the one it answers with.
      const incarnation = status.conf.incarnations?.[learner] ?? progress?.incarnation ?? null;
      if (voters.length < MAX_VOTERS && node?.live === true && incarnation !== null && (caughtUp || p.chance(0.3))) {
        options.push(() => void this.proposeConf(leader, { type: 'promote', node: learner, incarnation }));
      }
      options.push(() => void this.proposeConf(leader, { type: 'remove', node: learner }));
    }
    if (voters.length > MIN_VOTERS) {
      options.push(() => void this.proposeConf(leader, { type: 'remove', node: p.pick(voters) }));
    }
    if (options.length === 0) return;
    const pending = p.pick(options)();
    if (pending !== undefined) await pending;
  }

  private async addLearner(leader: SimNode): Promise<void> {
    const id = `n${this.nextNodeNumber}`;
    // Joining nodes name their incarnation; an operator's add may not (it is recorded at promotion).
    const cc: ConfChange = this.prng.chance(0.5)
      ? { type: 'addLearner', node: id, address: `sim:${id}`, incarnation: firstDisk(id) }
      : { type: 'addLearner', node: id, address: `sim:${id}` };
    if (this.proposeConf(leader, cc)) {
      this.nextNodeNumber++;
      await this.spawn(id, null);
    }
  }

  private proposeConf(leader: SimNode, cc: ConfChange): boolean {
    const core = leader.core;
    if (core === null) return false;
    if ((cc.type === 'remove' || cc.type === 'promote') && !this.intactQuorumHolds(null, applyConfChange(core.status().conf, cc))) {
      this.trace.record(this.time, 'conf', leader.id, null, `${cc.type} ${cc.node} skipped: it would leave fewer voters with their disks than a quorum`);
      return false;
    }
    const result = core.proposeConfChange(cc);
    this.trace.record(this.time, 'conf', leader.id, null, `${cc.type} ${cc.node}${result.ok ? ` at ${result.index}/${result.term}` : ` ${result.code}`}`);
    if (!result.ok) return false;
    this.stats.confChanges++;
    return true;
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
        if (this.proposeConf(leader, { type: 'promote', node: id, incarnation: node.diskIncarnation })) this.wipedVoters.delete(id);
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
    const accepted = leader.core.transferLeadership(to);
    this.trace.record(this.time, 'transfer', leader.id, null, `to ${to}${accepted.ok ? '' : ` ${accepted.code}`}`);
    if (accepted.ok) this.stats.transfers++;
  }

  private async compactSomewhere(): Promise<void> {
    const node = this.pickLive();
    if (node === null) return;
    const pending = node.compact(this.prng.range(0, 4));
    this.stats.compactions++;
    if (pending !== undefined) await pending;
  }
}
