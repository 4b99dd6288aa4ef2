// Membership, the one owner on the node: whether a fresh node bootstraps (the first
// configuration, the probe of the other first members, restored clusters), joining an existing
// cluster (the join loop, learning where the members listen), answering other nodes' probes, and
// the peer directory the transport dials. `runtime/node.ts` creates one `Membership` and calls it
// at each step of the start. `MemberChanges` is the leader's side: adding, replacing, promoting and
// removing members, asked by a joining node's JOIN_RPC or by the admin API and routed to the
// leader by `runtime/service.ts`.
//
// Who adds a node: a node that must join asks the cluster itself (auto-join, CATGA_AUTO_JOIN,
// true by default: static peers, catga dev, a lone node's successors). Under the Kubernetes
// operator its pods run with CATGA_AUTO_JOIN=false (operator/src/specs/statefulset.ts) and the
// operator alone adds, replaces and promotes them; a node with auto-join off never sends a join.
import type { ConfChange, ConfState, NodeId, RaftStatus } from '../raft/types.js';
import type { PeerTransport } from '../transport/types.js';
import type { RaftDriver } from '../driver/driver.js';
import type { Logger } from '../common/logger.js';
import { asCatgaError, CatgaError } from '../common/errors.js';
import { initialConfiguration, parsePodName, waitForInitialMembers } from '../membership/index.js';
import type { NodeConfig } from './config.js';
import { PeerDirectory } from './peer-directory.js';
import { callRpc, JOIN_RPC, PROBE_RPC, serveRpc, type RestoredStart } from './peer-rpc.js';
import { sleep, withDeadline } from './deadline.js';

const PROBE_TIMEOUT_MS = 1_000;
/** How long one join attempt may take on the member that serves it. */
export const JOIN_ATTEMPT_MS = 2_000;
/** A learner is promoted only once it is this close to the leader's last index. */
export const PROMOTE_MAX_LAG = 64;
/** How often a joining node asks again. */
const JOIN_INTERVAL_MS = 1_000;

/** A first member's answer to the bootstrap probe. */
type ProbeAnswer =
  | { readonly kind: 'established'; readonly restored: RestoredStart | null }
  | { readonly kind: 'fresh'; readonly incarnation: string; readonly restoredFrom: string | null }
  | { readonly kind: 'unreachable' };

async function probe(transport: PeerTransport, id: NodeId): Promise<ProbeAnswer> {
  try {
    const reply = await callRpc(transport, id, PROBE_RPC, null, PROBE_TIMEOUT_MS);
    return reply.established ? { kind: 'established', restored: reply.restoredStart } : { kind: 'fresh', incarnation: reply.incarnation, restoredFrom: reply.restoredFrom };
  } catch {
    return { kind: 'unreachable' };
  }
}

/**
 * Asks every other first member whether it already belongs to a running cluster. A fresh node must
 * then join instead of bootstrapping: after a scale-down below the first size and a scale-up, or
 * after a disk was wiped, a first member comes back empty, and bootstrapping it would start a
 * second cluster (or let the empty disk vote as the member it was). Bootstrapping needs every other
 * first member to answer "fresh", with its incarnation: the first configuration records them all,
 * so every member derives the same one. Members restored from a backup bootstrap only with members
 * restored from the same backup (`restoredFrom`: its checksum; null for an empty directory).
 * A restored member whose peers already started the restored cluster (they probed it as fresh, then
 * went on before its own next probe) takes the first configuration they started with, when it came
 * from the same backup and names this member with its incarnation: it is one of those first members.
 */
export async function freshIncarnations(transport: PeerTransport, peers: PeerDirectory, seeds: Record<NodeId, string>, self: { readonly id: NodeId; readonly incarnation: string },
  restoredFrom: string | null, log: Logger): Promise<{ readonly kind: 'fresh'; readonly incarnations: Record<NodeId, string> } | { readonly kind: 'restoredCluster'; readonly conf: ConfState } | { readonly kind: 'established' }> {
  const others = Object.keys(seeds).filter((id) => id !== self.id);
  peers.setSeeds(seeds);
  for (let attempt = 0; ; attempt++) {
    const answers = await Promise.all(others.map((id) => probe(transport, id)));
    for (const a of answers) {
      if (a.kind === 'established' && restoredFrom !== null && a.restored?.from === restoredFrom && a.restored.conf.incarnations?.[self.id] === self.incarnation) {
        return { kind: 'restoredCluster', conf: a.restored.conf };
      }
    }
    if (answers.some((a) => a.kind === 'established')) return { kind: 'established' };
    const incarnations: Record<NodeId, string> = {};
    answers.forEach((a, i) => { if (a.kind === 'fresh' && a.restoredFrom === restoredFrom) incarnations[others[i]!] = a.incarnation; });
    if (Object.keys(incarnations).length === others.length) return { kind: 'fresh', incarnations };
    if (attempt % 10 === 0) {
      const mismatched = others.filter((_, i) => { const a = answers[i]!; return a.kind === 'fresh' && a.restoredFrom !== restoredFrom; });
      if (mismatched.length > 0) log.warn('bootstrap_backup_mismatch', { members: mismatched, restoredFrom, reason: 'these first members were not restored from the same backup as this one: restore every first member from the same backup' });
      log.info('bootstrap_waiting_for_members', { members: others, answers: answers.map((a) => a.kind) });
    }
    await sleep(Math.min(2_000, 100 * (attempt + 1)));
  }
}

/**
 * While a node joins, it asks a seed every second where the members listen: until its log tells
 * it, the leader may be a member it was never told of (added after the snapshot it installed), and
 * without its address it cannot answer the leader. Returns a function that stops it.
 */
function learnMemberAddresses(transport: PeerTransport, seeds: Record<NodeId, string>, learn: (addresses: Record<NodeId, string>) => void): () => void {
  const ids = Object.keys(seeds);
  let round = 0;
  const timer = setInterval(() => {
    const id = ids[round++ % Math.max(1, ids.length)];
    if (id === undefined) return;
    callRpc(transport, id, PROBE_RPC, null, PROBE_TIMEOUT_MS).then((reply) => {
      if (Object.keys(reply.addresses).length > 0) learn(reply.addresses);
    }, () => { /* the next round asks the next seed */ });
  }, 1_000);
  return () => clearInterval(timer);
}

/** Bootstrap configuration for a node with an empty data directory, or null to join instead. */
async function firstConfiguration(cfg: NodeConfig, incarnation: string, restoredFrom: string | null, log: Logger, transport: PeerTransport, peers: PeerDirectory): Promise<{ conf: ConfState | null; seeds: Record<NodeId, string> }> {
  const conf = firstMembers(cfg);
  if (conf === null) {
    // A lone node: it is its own cluster.
    return { conf: { voters: [cfg.nodeId], learners: [], addresses: { [cfg.nodeId]: cfg.advertisePeer }, incarnations: { [cfg.nodeId]: incarnation } }, seeds: {} };
  }
  const seeds: Record<NodeId, string> = { ...conf.addresses };
  if (!conf.voters.includes(cfg.nodeId)) return { conf: null, seeds };
  if (cfg.dnsName !== null) await waitForInitialMembers(conf, { dnsServer: cfg.dnsServer, dnsName: cfg.dnsName, log: (event: string, fields: object) => log.info(event, fields as Record<string, unknown>) });
  const found = await freshIncarnations(transport, peers, seeds, { id: cfg.nodeId, incarnation }, restoredFrom, log);
  if (found.kind === 'established') {
    log.info('bootstrap_skipped', { reason: 'a first member already belongs to a running cluster: joining it' });
    return { conf: null, seeds };
  }
  if (found.kind === 'restoredCluster') {
    log.info('bootstrap_restored_cluster_running', { voters: found.conf.voters, reason: 'the other first members started the restored cluster with this member in it' });
    return { conf: found.conf, seeds };
  }
  return { conf: { ...conf, incarnations: { ...found.incarnations, [cfg.nodeId]: incarnation } }, seeds };
}

interface JoinOptions {
  readonly id: NodeId;
  readonly address: string;
  /** This node's storage incarnation: a member known by another one is replaced (its disk was wiped). */
  readonly incarnation: string;
  /** Members to ask (their peer addresses are already known to the transport). */
  readonly seeds: readonly NodeId[];
  readonly driver: RaftDriver;
  readonly transport: PeerTransport;
  readonly log: Logger;
}

/**
 * Joining an existing cluster: a node that is not in the first configuration, or whose disk was
 * wiped, asks the members it knows to add it (or replace its former incarnation), first as a
 * learner, then as a voter once it has caught up. Level-triggered: it repeats until it is a voter,
 * surviving leader changes and restarts; Membership stops it as soon as it sees itself a voter, so
 * a removal that follows at once is never undone.
 */
/** Starts the join loop; returns a function that stops it. */
function startJoining(o: JoinOptions): () => void {
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | null = null;

  const round = async (): Promise<void> => {
    timer = null;
    if (stopped) return;
    const seeds = o.seeds.filter((s) => s !== o.id);
    const leader = o.driver.softState.leader;
    const target = leader !== null && leader !== o.id ? leader : seeds[attempt++ % Math.max(1, seeds.length)];
    if (target !== undefined) {
      const request = { id: o.id, address: o.address, incarnation: o.incarnation, deadline: Date.now() + JOIN_ATTEMPT_MS };
      try {
        await callRpc(o.transport, target, JOIN_RPC, request, JOIN_ATTEMPT_MS + 500);
      } catch (err) {
        const code = asCatgaError(err).code;
        if (code !== 'NOT_CAUGHT_UP') o.log.debug('join_attempt_refused', { via: target, code, err });
      }
    }
    if (!stopped) timer = setTimeout(() => void round(), JOIN_INTERVAL_MS);
  };
  timer = setTimeout(() => void round(), 0);
  return () => { stopped = true; if (timer) clearTimeout(timer); };
}

export interface MembershipOptions {
  readonly cfg: NodeConfig;
  /** This node's storage incarnation (storage/identity.ts). */
  readonly incarnation: string;
  /** The backup this data directory was restored from (its checksum), null otherwise. */
  readonly restoredFrom: string | null;
  readonly transport: PeerTransport;
  readonly log: Logger;
}

/** The node's membership, called by runtime/node.ts at each step of the start and on every configuration. */
export class Membership {
  /** The one owner of the transport's peer set: the configuration's members, plus the seeds probed before bootstrapping and asked while joining. */
  readonly peers: PeerDirectory;
  private seeds: Record<NodeId, string> = {};
  private joining = false;
  private stopJoinLoops: () => void = () => {};
  /** Answers fresh nodes deciding whether to bootstrap; set once the core runs. */
  private established: () => boolean = () => false;
  private memberAddresses: () => Readonly<Record<NodeId, string>> = () => ({});
  /** Set when this process starts a restored cluster: a first member still probing takes the same configuration. */
  private restoredStart: RestoredStart | null = null;

  constructor(private readonly o: MembershipOptions) {
    this.peers = new PeerDirectory(o.cfg.nodeId, (p) => o.transport.setPeers(p));
    serveRpc(o.transport, PROBE_RPC, () => ({
      established: this.established(), incarnation: o.incarnation, restoredFrom: o.restoredFrom, addresses: { ...this.memberAddresses() }, restoredStart: this.restoredStart,
    }));
  }

  /** Before the core exists: the configuration a fresh node bootstraps with, or null (it joins, or has a log already). */
  async firstConfiguration(fresh: boolean): Promise<ConfState | null> {
    const { cfg, incarnation, restoredFrom, log, transport } = this.o;
    if (!fresh) {
      this.seeds = { ...firstMembers(cfg)?.addresses };
      return null;
    }
    const first = await firstConfiguration(cfg, incarnation, restoredFrom, log, transport, this.peers);
    this.seeds = first.seeds;
    return first.conf;
  }

  /** This process started a restored cluster with `start`: probing first members are told so. */
  startedRestoredCluster(start: RestoredStart): void {
    this.restoredStart = start;
  }

  /**
   * Once the core exists: whether this node must join. A brand-new node outside the first
   * configuration joins; so does a learner that restarted before its promotion, or before its first
   * snapshot arrived (it knows no configuration, so no peer to answer the leader on), and a node the
   * configuration knows by another incarnation (its disk was wiped: it asks to be replaced). A node
   * removed from the configuration stays out: removal is explicit.
   */
  decideJoining(startConf: ConfState, fresh: boolean, bootstrap: ConfState | null): boolean {
    const { cfg, incarnation, log } = this.o;
    this.joining = (fresh && bootstrap === null) || startConf.learners.includes(cfg.nodeId) || startConf.voters.length === 0 ||
      (startConf.voters.includes(cfg.nodeId) && !this.admitted(startConf));
    if (fresh && bootstrap === null && firstMembers(cfg)?.voters.includes(cfg.nodeId) === true) {
      log.warn('joining_with_empty_disk', { incarnation, reason: 'this first member has an empty data directory and the cluster already runs: it neither votes nor counts until the leader replaces its former incarnation' });
    }
    if (this.joining) this.peers.setSeeds(this.seeds);
    return this.joining;
  }

  private admitted(c: ConfState): boolean {
    return c.voters.includes(this.o.cfg.nodeId) && (this.o.cfg.unsafeIgnoreIncarnations || c.incarnations?.[this.o.cfg.nodeId] === this.o.incarnation);
  }

  /** The driver's configuration changed (or was recovered). */
  onConf(c: ConfState): void {
    // Joining ends the moment this node is a voter: a later removal (which can follow within the
    // join loop's interval) must not be undone by one more join request.
    if (this.joining && this.admitted(c)) {
      this.stopJoining();
      this.peers.setSeeds({});
      this.o.log.info('join_complete', { voters: c.voters });
    }
    this.peers.setMembers(c.addresses);
  }

  /** A snapshot arrived: a member that knows no configuration yet learns where the others listen from it (the leader may be one it was never told about). */
  onSnapshotConf(conf: ConfState): void {
    if (this.joining) this.peers.setSeeds({ ...this.seeds, ...conf.addresses });
  }

  /**
   * The driver runs: probes are answered from its log (`established`: an elected leader has
   * written to it), and a node that must join starts asking, when auto-join is on.
   */
  running(driver: RaftDriver, established: () => boolean): void {
    const { cfg, incarnation, transport, log } = this.o;
    this.established = established;
    this.memberAddresses = () => driver.status().conf.addresses;
    // The probed seeds stay dialled until the configuration names the members (onConf, at start).
    if (!this.joining) this.peers.setSeeds({});
    if (!this.joining || !cfg.autoJoin) return;
    const stopJoin = startJoining({ id: cfg.nodeId, address: cfg.advertisePeer, incarnation, seeds: Object.keys(this.seeds), driver, transport, log });
    const stopLearning = learnMemberAddresses(transport, this.seeds, (addresses) => { if (this.joining) this.peers.setSeeds({ ...this.seeds, ...addresses }); });
    this.stopJoinLoops = () => { stopJoin(); stopLearning(); };
  }

  get isJoining(): boolean {
    return this.joining;
  }

  /** Stops asking to join (at shutdown, or once this node is a voter). */
  stopJoining(): void {
    this.joining = false;
    this.stopJoinLoops();
  }

  close(): void {
    this.stopJoining();
    this.peers.close();
  }
}

export interface MemberChangeHost {
  readonly id: NodeId;
  readonly driver: RaftDriver;
  readonly log: Logger;
  /** The refusal of a node that is not (or no longer) the leader. */
  notLeader(): CatgaError;
}

/** The leader's side of membership: each change proposed on this leader, answered once committed. */
export class MemberChanges {
  constructor(private readonly h: MemberChangeHost) {}

  /**
   * Level-triggered: adds `id` as a learner if absent (or updates its address), replaces it when it
   * speaks as another incarnation than the one recorded (its disk was wiped: the new disk enters as a
   * learner), and, when a voter is wanted, promotes it once it has caught up, recording the
   * incarnation it answers with. Calling it again is harmless.
   */
  async add(id: string, address: string, voter: boolean, deadline: number, claimed?: string): Promise<{ index: number }> {
    const driver = this.h.driver;
    if (id === this.h.id) throw new CatgaError('INVALID_MEMBER', `${id} is this leader`, 400);
    for (;;) {
      if (!driver.isLeader) throw this.h.notLeader();
      const st = driver.status();
      const speaksAs = claimed ?? driver.staleIncarnationOf(id);
      const recorded = st.conf.incarnations?.[id];
      let cc: ConfChange | null = null;
      const known = id in st.conf.addresses;
      if (!known) cc = speaksAs === undefined ? { type: 'addLearner', node: id, address } : { type: 'addLearner', node: id, address, incarnation: speaksAs };
      else if (speaksAs !== undefined && speaksAs !== recorded && (recorded !== undefined || st.conf.voters.includes(id))) {
        cc = { type: 'replace', node: id, address, incarnation: speaksAs };
      } else if (st.conf.addresses[id] !== address) cc = { type: 'updateAddress', node: id, address };
      else if (voter && st.conf.learners.includes(id) && this.caughtUp(st, id)) {
        const incarnation = recorded ?? st.progress[id]?.incarnation ?? undefined;
        cc = incarnation === undefined ? { type: 'promote', node: id } : { type: 'promote', node: id, incarnation };
      }
      if (cc !== null) {
        const index = await withDeadline(driver.proposeConfChange(cc), deadline, 'membership change');
        this.h.log.info('member_change', { change: cc.type, member: id, index, ...(cc.type === 'replace' ? { formerIncarnation: recorded ?? null, incarnation: cc.incarnation } : {}) });
        continue;
      }
      const done = !voter || st.conf.voters.includes(id);
      if (done) return this.committedConf(st, deadline);
      if (Date.now() >= deadline) throw new CatgaError('NOT_CAUGHT_UP', `${id} was added as a learner but has not caught up yet; it is promoted when it has (retry)`, 503);
      await sleep(50);
    }
  }

  /**
   * A configuration shows on the leader once appended, before it commits: "already done" is only
   * answered once everything appended by then (the configuration entry with it) has committed.
   */
  private async committedConf(st: RaftStatus, deadline: number): Promise<{ index: number }> {
    const driver = this.h.driver;
    while (driver.status().commit < st.lastIndex) {
      if (!driver.isLeader) throw this.h.notLeader();
      if (Date.now() >= deadline) throw new CatgaError('TIMEOUT', 'membership change: appended, not yet committed within the deadline (the outcome is unknown)', 503);
      await sleep(20);
    }
    return { index: st.lastIndex };
  }

  private caughtUp(st: RaftStatus, id: string): boolean {
    const p = st.progress[id];
    return p !== undefined && p.match + PROMOTE_MAX_LAG >= st.lastIndex && p.recentActive;
  }

  async remove(id: string, deadline: number): Promise<{ index: number }> {
    const driver = this.h.driver;
    if (!driver.isLeader) throw this.h.notLeader();
    const st = driver.status();
    if (!(id in st.conf.addresses)) return this.committedConf(st, deadline);
    // Removing the leader itself needs no transfer first: the core commits the removal without
    // counting itself, then steps down and hands over to a caught-up voter. (A transfer first
    // could be undone by the next election, which the removed leader may win again.)
    const index = await withDeadline(driver.proposeConfChange({ type: 'remove', node: id }), deadline, 'membership change');
    this.h.log.info('member_change', { change: 'remove', member: id, index });
    return { index };
  }
}

/**
 * The first configuration every member derives alike: the first CATGA_BOOTSTRAP_EXPECT static
 * peers, or ordinals 0..n-1 of the DNS name; null for a lone node with neither.
 */
function firstMembers(cfg: NodeConfig): ConfState | null {
  const listed = Object.keys(cfg.staticPeers);
  if (listed.length > 0) {
    const voters = listed.slice(0, cfg.bootstrapExpect);
    return { voters, learners: [], addresses: Object.fromEntries(voters.map((id) => [id, cfg.staticPeers[id]!])) };
  }
  if (cfg.dnsName === null) return null;
  return initialConfiguration(parsePodName(cfg.nodeId).name, cfg.bootstrapExpect, cfg.dnsName, cfg.peerPort);
}
