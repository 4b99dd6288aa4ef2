// The Raft state machine: roles and terms, elections (pre-vote, check-quorum, leader lease),
// replication driven by per-follower progress, commitment, ReadIndex, leadership transfer and
// membership changes. It does no I/O and reads no clock: time is `tick()`, randomness is the
// injected `config.random`, and every effect leaves through `ready()`.

import { bootstrapChanges, confChangeProblem, encodeConfChange } from './confchange.js';
import { invariant } from './invariant.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { hasQuorum, quorumIndex, voteOutcome } from './quorum.js';
import { ReadOnly, type ReadRequest } from './readonly.js';
import {
  bcastAppend,
  bumpCommits,
  commitBumpDue,
  bcastHeartbeat,
  handleAppend,
  handleAppendResp,
  handleHeartbeat,
  handleHeartbeatResp,
  handleSnapshot,
  sendAppend,
  sendTimeoutNow,
} from './replication.js';
import type {
  Accepted,
  AppendRequest,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  Heartbeat,
  Index,
  InstallSnapshot,
  Message,
  NodeId,
  Proposed,
  RaftConfig,
  RaftCore,
  RaftError,
  RaftErrorCode,
  RaftRestore,
  RaftStatus,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SoftState,
  Term,
  VoteRequest,
  VoteResponse,
} from './types.js';
import { confStateProblem, MAX_READ_CONTEXT_LENGTH, messageProblem } from './validate.js';

/** Most committed entries one Ready hands out for applying (the rest follow in the next Ready). */
export const MAX_COMMITTED_ENTRIES_PER_READY = 4096;

/** Most entries one proposeBatch() may append. */
export const MAX_ENTRIES_PER_PROPOSAL = 65_536;

const OK: Accepted = { ok: true };
const NO_DATA = new Uint8Array(0);

type Campaign = 'preVote' | 'vote';

export class Raft implements RaftCore {
  readonly id: NodeId;
  readonly cfg: RaftConfig;
  readonly log: RaftLog;
  term: Term;
  vote: NodeId | null;
  role: Role = 'follower';
  leader: NodeId | null = null;

  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;

  /** The configuration in force (the newest in the log) and the history version it came from. */
  conf: ConfState;
  confVersion: number;

  /** Leader only: one entry per member other than this node, in configuration order. */
  progress = new Map<NodeId, Progress>();
  /** (Pre-)candidate only: answers received. */
  readonly votes = new Map<NodeId, boolean>();
  transferee: NodeId | null = null;
  /** Leader only: index of the newest conf entry it proposed (or its first index as leader). */
  pendingConfIndex: Index = 0;
  uncommittedBytes = 0;
  readonly readOnly = new ReadOnly();

  msgs: Message[] = [];
  readStates: ReadState[] = [];
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** What the last ready() handed out (apply and persist cursors), until advance() or handOff() acknowledges it. */
  private outstanding: { readonly applying: Index; readonly stable: Index; readonly snapshot: boolean } | null = null;
  private readonly matchScratch: number[] = [];

  constructor(config: RaftConfig, restore: RaftRestore) {
    checkConfig(config);
    this.id = config.id;
    this.cfg = config;
    const hs = restore.hardState;
    this.log = new RaftLog(restore.snapshot, restore.entries, hs.commit, restore.applied);
    this.term = hs.term;
    this.vote = hs.vote;
    const hasConf = restore.snapshot !== null || this.log.confs.lastConfIndex() > 0;
    if (!hasConf && restore.bootstrap !== null) {
      invariant(this.log.lastIndex() === 0 && hs.term === 0, 'bootstrap configuration given for a non-empty log');
      const problem = confStateProblem(restore.bootstrap);
      invariant(problem === null, `bootstrap configuration: ${problem}`);
      // A brand-new cluster writes its initial configuration as committed term-1 conf entries,
      // identical on every initial member, so members that join later replicate it like any entry.
      const entries: Entry[] = bootstrapChanges(restore.bootstrap).map((cc, i) => ({
        term: 1,
        index: i + 1,
        type: 'conf',
        data: encodeConfChange(cc),
      }));
      this.log.append(entries);
      this.log.commitTo(entries.length);
      this.term = 1;
    }
    this.conf = this.log.confs.current();
    this.confVersion = this.log.confs.version;
    this.prevHard = hs;
    this.resetElectionTimer();
    this.prevSoft = this.softState();
  }

  // ---- Inputs --------------------------------------------------------------------------------

  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  step(msg: Message): Accepted {
    const problem = messageProblem(msg, this.id);
    if (problem !== null) return this.error('INVALID_MESSAGE', problem);
    if (!this.fromCurrentIncarnation(msg)) {
      return this.error('STALE_INCARNATION', `${msg.from} speaks as incarnation ${msg.inc}, the configuration records ${this.conf.incarnations?.[msg.from]}`);
    }
    if (msg.type === 'appendResp' && !msg.reject && msg.term === this.term && this.role === 'leader' && msg.index > this.log.lastIndex()) {
      return this.error('INVALID_MESSAGE', `acknowledges index ${msg.index} beyond the leader's last index`);
    }
    this.stepValid(msg);
    return OK;
  }

  propose(data: Uint8Array): Proposed {
    return this.proposeEntries([data], 'normal');
  }

  proposeBatch(data: readonly Uint8Array[]): Proposed {
    if (data.length === 0) return this.error('INVALID_MESSAGE', 'empty proposal batch');
    if (data.length > MAX_ENTRIES_PER_PROPOSAL) {
      return this.error('UNCOMMITTED_LIMIT', `a batch holds at most ${MAX_ENTRIES_PER_PROPOSAL} entries`);
    }
    return this.proposeEntries(data, 'normal');
  }

  proposeConfChange(cc: ConfChange): Proposed {
    const refused = this.refuseProposal();
    if (refused !== null) return refused;
    if (this.pendingConfIndex > this.log.committed) {
      return this.error('CONF_CHANGE_PENDING', `conf change at ${this.pendingConfIndex} is not committed yet`);
    }
    if (this.log.term(this.log.committed) !== this.term) {
      // Ongaro's fix: a new leader first commits an entry of its own term, so a conf change of an
      // earlier leader that it may not know about cannot combine with this one.
      return this.error('CONF_CHANGE_PENDING', 'leader has not committed an entry in its term yet');
    }
    let data: Uint8Array;
    try {
      data = encodeConfChange(cc);
    } catch {
      return this.error('INVALID_CONF_CHANGE', 'malformed conf change');
    }
    const problem = confChangeProblem(this.conf, cc);
    if (problem !== null) return this.error('INVALID_CONF_CHANGE', problem);
    const result = this.proposeEntries([data], 'conf');
    if (result.ok) this.pendingConfIndex = result.index;
    return result;
  }

  readIndex(context: string): Accepted {
    if (typeof context !== 'string' || context.length > MAX_READ_CONTEXT_LENGTH) {
      return this.error('INVALID_MESSAGE', 'read context is not a string of bounded length');
    }
    if (this.role === 'leader') return this.leaderRead({ requester: this.id, context });
    if (this.leader === null) return this.error('NO_LEADER', 'no known leader to serve the read');
    this.send({ type: 'readIndex', from: this.id, to: this.leader, term: this.term, context });
    return OK;
  }

  transferLeadership(to: NodeId): Accepted {
    if (this.role !== 'leader') return this.error('NOT_LEADER', 'only the leader transfers leadership');
    if (to === this.id) return OK;
    const pr = this.progress.get(to);
    if (pr === undefined || !pr.voter) return this.error('INVALID_TRANSFER_TARGET', `${to} is not a voter`);
    if (this.transferee === to) return OK;
    this.transferee = to;
    // The transfer is abandoned when a whole election timeout passes without it completing.
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) sendTimeoutNow(this, to);
    else sendAppend(this, to, false);
    return OK;
  }

  campaign(): void {
    if (this.role === 'leader') return;
    this.startCampaign(this.cfg.preVote ? 'preVote' : 'vote', false);
  }

  compact(index: Index, data: Uint8Array, retain: number): Snapshot {
    return this.log.compact(index, data, retain);
  }

  // ---- Ready / advance ------------------------------------------------------------------------

  hasReady(): boolean {
    if (this.msgs.length > 0 || this.readStates.length > 0 || commitBumpDue(this)) return true;
    if (this.log.unstableSnapshot !== null || this.log.stable < this.log.lastIndex()) return true;
    if (this.softChanged() || this.hardChanged()) return true;
    return this.log.hasNextCommitted();
  }

  ready(): Ready {
    invariant(this.outstanding === null, 'ready() called again before advance()');
    invariant(this.term >= this.prevHard.term && this.log.committed >= this.prevHard.commit, 'term or commit went backwards');
    bumpCommits(this); // before `stable` moves: not while this leader's own write runs
    const softChanged = this.softChanged();
    const hardChanged = this.hardChanged();
    if (softChanged) this.prevSoft = this.softState();
    if (hardChanged) this.prevHard = this.hardState();
    const snapshot = this.log.unstableSnapshot;
    this.log.unstableSnapshot = null;
    const entries = this.log.unstableEntries();
    this.log.stable = this.log.lastIndex();
    const committedEntries = this.log.nextCommitted(MAX_COMMITTED_ENTRIES_PER_READY);
    if (committedEntries.length > 0) this.log.applying = committedEntries[committedEntries.length - 1]!.index;
    this.outstanding = { applying: this.log.applying, stable: this.log.stable, snapshot: snapshot !== null };
    const messages = this.msgs;
    const readStates = this.readStates;
    this.msgs = [];
    this.readStates = [];
    return {
      softState: softChanged ? this.prevSoft : null,
      hardState: hardChanged ? this.prevHard : null,
      snapshot,
      entries,
      committedEntries,
      messages,
      readStates,
    };
  }

  advance(): void {
    const done = this.outstanding;
    invariant(done !== null, 'advance() without a ready()');
    this.outstanding = null;
    this.log.applied = Math.max(this.log.applied, done.applying);
    // A truncation since ready() lowered `stable`: only what is still in the log counts as persisted.
    this.markPersisted(Math.min(done.stable, this.log.stable));
  }

  handOff(): void {
    const done = this.outstanding;
    invariant(done !== null, 'handOff() without a ready()');
    invariant(!done.snapshot, 'a Ready with a snapshot is acknowledged by advance() only, once the snapshot is durable');
    this.outstanding = null;
    this.log.applied = Math.max(this.log.applied, done.applying);
  }

  persisted(index: Index, term: Term): void {
    // Entries a later leader replaced since they were handed out prove nothing about the log now;
    // the save that wrote the replacements reports them in turn.
    if (this.log.term(index) !== term) return;
    invariant(index <= this.log.stable, `persisted ${index} beyond what was handed out (${this.log.stable})`);
    this.markPersisted(index);
  }

  private markPersisted(index: Index): void {
    if (index <= this.log.persisted) return;
    this.log.persisted = index;
    // The leader's own entries count toward commit only now (see maybeCommit).
    if (this.role === 'leader' && this.maybeCommit()) this.afterLeaderCommit();
  }

  status(): RaftStatus {
    const progress: Record<NodeId, ReturnType<Progress['view']>> = {};
    for (const [id, pr] of this.progress) progress[id] = pr.view();
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      conf: this.conf,
      progress,
      transferee: this.transferee,
    };
  }

  // ---- Terms and roles --------------------------------------------------------------------------

  private stepValid(m: Message): void {
    if (m.term > this.term) {
      if ((m.type === 'vote' || m.type === 'preVote') && !m.transfer && this.inLease()) {
        // Leader lease: we heard from a live leader within the election timeout, so this
        // candidate is not needed (it may be a removed or partitioned node). Ignore it entirely.
        return;
      }
      const keepsTerm = m.type === 'preVote' || (m.type === 'preVoteResp' && !m.reject);
      if (!keepsTerm) {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      this.answerStaleTerm(m);
      return;
    }
    switch (m.type) {
      case 'vote':
      case 'preVote':
        this.handleVoteRequest(m);
        return;
      case 'readIndexResp':
        if (!m.reject) this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        break;
    }
    switch (this.role) {
      case 'leader':
        stepLeader(this, m);
        return;
      case 'candidate':
      case 'precandidate':
        stepCandidate(this, m);
        return;
      case 'follower':
        stepFollower(this, m);
        return;
    }
  }

  /** A message from an older term: tell a stale leader or pre-candidate about our term, drop the rest. */
  private answerStaleTerm(m: Message): void {
    if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
      // Without this, a leader cut off by check-quorum or pre-vote would never learn the new term.
      this.send({
        type: 'appendResp',
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.type === 'append' ? m.prevIndex : 0,
        reject: true,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === 'preVote') {
      this.send({ type: 'preVoteResp', from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  private inLease(): boolean {
    return this.cfg.checkQuorum && this.leader !== null && this.electionElapsed < this.cfg.electionTicks;
  }

  private handleVoteRequest(m: VoteRequest): void {
    const respType = m.type === 'vote' ? 'voteResp' : 'preVoteResp';
    const canVote = this.recognized() &&
      (this.vote === m.from || (this.vote === null && this.leader === null) || (m.type === 'preVote' && m.term > this.term));
    const logOk = this.cfg.faults?.grantVoteWithoutLogCheck === true || this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    if (canVote && logOk) {
      // A granted pre-vote answers in the campaign's future term, so the pre-candidate counts it.
      this.send({ type: respType, from: this.id, to: m.from, term: m.term, reject: false });
      if (m.type === 'vote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, from: this.id, to: m.from, term: this.term, reject: true });
    }
  }

  becomeFollower(term: Term, leader: NodeId | null): void {
    invariant(term >= this.term, 'term never decreases');
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
    }
    this.role = 'follower';
    this.leader = leader;
    this.resetRoleState();
  }

  private becomeLeader(): void {
    invariant(this.role === 'candidate', 'only a candidate becomes leader');
    this.role = 'leader';
    this.leader = this.id;
    this.resetRoleState();
    this.rebuildProgress(true);
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op entry of the new term: committing it commits every earlier entry (figure 8).
    this.appendAndReplicate([{ term: this.term, index: this.log.lastIndex() + 1, type: 'normal', data: NO_DATA }]);
  }

  private resetRoleState(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetElectionTimer();
    this.votes.clear();
    this.transferee = null;
    this.readOnly.clear();
    this.progress.clear();
    this.uncommittedBytes = 0;
    this.pendingConfIndex = 0;
  }

  private resetElectionTimer(): void {
    const r = this.cfg.random();
    invariant(r >= 0 && r < 1, 'config.random must return a number in [0, 1)');
    this.randomizedElectionTimeout = this.cfg.electionTicks + Math.floor(r * this.cfg.electionTicks);
  }

  private promotable(): boolean {
    return this.conf.voters.includes(this.id) && this.recognized();
  }

  /**
   * Whether this node starts elections: as a voter of its latest configuration, or of the committed
   * one when only uncommitted entries of its own log remove it. Such a node may hold entries no
   * other voter has (its removal, proposed while it led, for one), so every other candidate loses
   * its vote and, without it campaigning, nobody is ever elected. It wins with a majority of the
   * configuration without it (its own vote does not count there), commits its removal and hands
   * over (afterLeaderCommit). Safety does not depend on who campaigns: votes are counted in the
   * candidate's latest configuration, whose majorities meet those of the one before.
   */
  private mayCampaign(): boolean {
    if (!this.recognized()) return false;
    return this.conf.voters.includes(this.id) || this.log.confs.at(this.log.committed).voters.includes(this.id);
  }

  /**
   * Whether this node may vote and campaign: not when the configuration it knows records it with
   * another incarnation (its disk was wiped: the member it was may have voted and acknowledged
   * entries it no longer has). An empty disk knows no configuration yet and may answer a vote
   * request, but its vote counts only where the candidate's configuration records its incarnation
   * (fromCurrentIncarnation): that is, once it was re-admitted and is merely behind, when liveness
   * needs its vote like any lagging voter's.
   */
  private recognized(): boolean {
    if (this.cfg.incarnation === undefined || this.cfg.faults?.ignoreIncarnations === true) return true;
    const recorded = this.conf.incarnations?.[this.id];
    return recorded === undefined || recorded === this.cfg.incarnation;
  }

  /**
   * False for an answer that would count (a vote, an acknowledgement) from another incarnation than
   * the one its sender's membership records here: the sender lost its disk. Requests and a leader's
   * traffic pass whatever their incarnation: a receiver whose configuration lags may not know yet
   * that a member was replaced, and only a recognized node campaigns (so every leader was admitted).
   */
  private fromCurrentIncarnation(m: Message): boolean {
    if (m.inc === undefined || this.cfg.faults?.ignoreIncarnations === true) return true;
    if (m.type !== 'voteResp' && m.type !== 'preVoteResp' && m.type !== 'appendResp' && m.type !== 'heartbeatResp') return true;
    const recorded = this.conf.incarnations?.[m.from];
    return recorded === undefined || recorded === m.inc;
  }

  private startCampaign(kind: Campaign, transfer: boolean): void {
    if (!this.mayCampaign()) return;
    if (kind === 'preVote') {
      // A pre-candidate keeps its term and vote: the campaign only asks whether it could win.
      this.role = 'precandidate';
      this.leader = null;
      this.resetRoleState();
    } else {
      this.becomeFollower(this.term + 1, null);
      this.role = 'candidate';
      this.vote = this.id;
    }
    this.votes.set(this.id, true);
    if (this.tallyVotes()) return;
    const campaignTerm = kind === 'preVote' ? this.term + 1 : this.term;
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const id of this.conf.voters) {
      if (id === this.id) continue;
      this.send({ type: kind, from: this.id, to: id, term: campaignTerm, lastLogIndex, lastLogTerm, transfer });
    }
  }

  /** Acts on the votes so far; returns true when the campaign ended (won or lost). */
  tallyVotes(): boolean {
    switch (voteOutcome(this.conf.voters, this.votes)) {
      case 'won':
        if (this.role === 'precandidate') this.startCampaign('vote', false);
        else this.becomeLeader();
        return true;
      case 'lost':
        this.becomeFollower(this.term, null);
        return true;
      case 'pending':
        return false;
    }
  }

  // ---- Ticks ------------------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (this.mayCampaign() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.startCampaign(this.cfg.preVote ? 'preVote' : 'vote', false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !hasQuorum(this.conf.voters, (id) => id === this.id || this.progress.get(id)?.recentActive === true)) {
        this.becomeFollower(this.term, null);
        return;
      }
      for (const pr of this.progress.values()) {
        pr.recentActive = false;
        if (pr.state === 'snapshot') {
          // A snapshot unanswered for a whole election timeout was probably lost: probe again.
          if (pr.snapshotStale) pr.becomeProbe();
          else pr.snapshotStale = true;
        }
      }
      this.transferee = null;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      bcastHeartbeat(this, this.readOnly.newestRound());
    }
  }

  // ---- Leader: proposals and commitment -----------------------------------------------

  private refuseProposal(): RaftError | null {
    if (this.role !== 'leader') return this.error('NOT_LEADER', 'not the leader');
    if (this.transferee !== null) return this.error('TRANSFER_IN_PROGRESS', `leadership is moving to ${this.transferee}`);
    // A leader that appended its own removal only finishes committing it, then hands over.
    if (!this.promotable()) return this.error('TRANSFER_IN_PROGRESS', 'this leader is being removed: leadership moves once the removal commits');
    return null;
  }

  private proposeEntries(data: readonly Uint8Array[], type: Entry['type']): Proposed {
    const refused = this.refuseProposal();
    if (refused !== null) return refused;
    let bytes = 0;
    for (const d of data) {
      if (!(d instanceof Uint8Array)) return this.error('INVALID_MESSAGE', 'proposal data must be bytes');
      bytes += d.byteLength;
    }
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.cfg.maxUncommittedBytes) {
      return this.error('UNCOMMITTED_LIMIT', `${this.uncommittedBytes} bytes already wait for commit`);
    }
    const first = this.log.lastIndex() + 1;
    const entries: Entry[] = new Array<Entry>(data.length);
    for (let i = 0; i < data.length; i++) entries[i] = { term: this.term, index: first + i, type, data: data[i]! };
    this.uncommittedBytes += bytes;
    this.appendAndReplicate(entries);
    // The index of the LAST entry (a single proposal's own index): see RaftCore.proposeBatch.
    return { ok: true, index: first + data.length - 1, term: this.term };
  }

  private appendAndReplicate(entries: readonly Entry[]): void {
    this.log.append(entries);
    this.syncConf();
    if (this.maybeCommit()) this.afterLeaderCommit();
    if (this.role === 'leader') bcastAppend(this, false);
  }

  /** Advances the commit index to what a majority of voters has, if that entry is of this term. */
  maybeCommit(): boolean {
    const matches = this.matchScratch;
    matches.length = 0;
    // The leader counts its own log only as far as advance() confirmed it durable, so a commit
    // never rests on an entry still in the leader's unflushed write. That makes it safe for a
    // driver to send a leader's messages before or while persisting its entries (dissertation
    // §10.2.1): neither a single voter nor a leader with one early ack announces a commit that a
    // crash could undo.
    for (const id of this.conf.voters) matches.push(id === this.id ? this.log.persisted : (this.progress.get(id)?.match ?? 0));
    const index = quorumIndex(matches);
    if (index <= this.log.committed) return false;
    // Figure 8: an entry of an earlier term is never committed by counting replicas; it commits
    // only when an entry of the current term above it does.
    if (this.cfg.faults?.commitPreviousTermByCount !== true && this.log.term(index) !== this.term) return false;
    const before = this.log.committed;
    this.log.commitTo(index);
    for (let i = before + 1; i <= index; i++) {
      const e = this.log.entry(i);
      if (e.term === this.term) this.uncommittedBytes -= e.data.byteLength;
    }
    invariant(this.uncommittedBytes >= 0, 'uncommitted byte count went negative');
    if (this.log.term(before) !== this.term) this.serveDeferredReads();
    return true;
  }

  /**
   * After the commit index moved: step down if this leader was removed (the followers hear of the
   * commit at the next Ready otherwise: see bumpCommits). A removed leader tells everyone at once
   * and hands over to a voter that has its whole log, rather than leave the cluster leaderless
   * for an election timeout (the message is only a hint: if it is lost, the election timeout
   * still elects someone).
   */
  afterLeaderCommit(): void {
    if (!this.promotable() && this.log.committed >= this.log.confs.lastConfIndex()) {
      bcastAppend(this, true); // the last word of a leader that removed itself
      const successor = this.caughtUpVoter();
      this.becomeFollower(this.term, null);
      if (successor !== null) sendTimeoutNow(this, successor);
    }
  }

  /** Leader: a voter whose log matches this one to the end, preferring one heard from recently. */
  private caughtUpVoter(): NodeId | null {
    let best: NodeId | null = null;
    for (const id of this.conf.voters) {
      const pr = this.progress.get(id);
      if (pr === undefined || pr.match !== this.log.lastIndex()) continue;
      if (best === null || (pr.recentActive && this.progress.get(best)?.recentActive !== true)) best = id;
    }
    return best;
  }

  // ---- Leader: reads ------------------------------------------------------------------------------

  leaderRead(request: ReadRequest): Accepted {
    if (this.readOnly.full()) return this.error('READ_INDEX_LIMIT', 'too many reads are pending');
    if (this.log.term(this.log.committed) !== this.term) {
      // Until an entry of this term commits, this leader's commit index may be behind the
      // cluster's: the read waits for the no-op to commit.
      this.readOnly.defer(request);
      return OK;
    }
    if (this.conf.voters.length === 1 && this.conf.voters[0] === this.id) {
      this.releaseRead(this.log.committed, request);
      return OK;
    }
    const round = this.readOnly.start(request, this.log.committed, this.term, this.id, this.promotable());
    bcastHeartbeat(this, round);
    return OK;
  }

  private serveDeferredReads(): void {
    for (const request of this.readOnly.takeDeferred()) this.leaderRead(request);
  }

  releaseRead(index: Index, request: ReadRequest): void {
    if (request.requester === this.id) {
      this.readStates.push({ index, context: request.context });
    } else {
      this.send({ type: 'readIndexResp', from: this.id, to: request.requester, term: this.term, context: request.context, index, reject: false });
    }
  }

  handleVoteResponse(m: VoteResponse): void {
    const expected = this.role === 'precandidate' ? 'preVoteResp' : 'voteResp';
    if (m.type !== expected) return;
    // A granted pre-vote carries the campaign term; anything else is from an older campaign.
    if (m.type === 'preVoteResp' && !m.reject && m.term !== this.term + 1) return;
    if (!this.votes.has(m.from)) this.votes.set(m.from, !m.reject);
    this.tallyVotes();
  }

  timeoutNow(): void {
    this.startCampaign('vote', true);
  }

  // ---- Configuration --------------------------------------------------------------------------

  /** Picks up a configuration change caused by the last log mutation (append, truncation, restore). */
  syncConf(): void {
    if (this.log.confs.version === this.confVersion) return;
    this.confVersion = this.log.confs.version;
    this.conf = this.log.confs.current();
    if (this.role !== 'leader') return;
    this.rebuildProgress(false);
    if (this.transferee !== null && !this.conf.voters.includes(this.transferee)) this.transferee = null;
  }

  /** Leader: one Progress per member other than itself, keeping what it knew of existing ones. */
  private rebuildProgress(fresh: boolean): void {
    const old = fresh ? new Map<NodeId, Progress>() : this.progress;
    const next = new Map<NodeId, Progress>();
    const add = (id: NodeId, voter: boolean): void => {
      if (id === this.id) return;
      let pr = old.get(id);
      const recorded = this.conf.incarnations?.[id];
      // A replaced member is a new one: what the leader knew of its former incarnation is void.
      if (pr !== undefined && recorded !== undefined && pr.incarnation !== null && pr.incarnation !== recorded) pr = undefined;
      if (pr === undefined) {
        pr = new Progress(this.log.lastIndex() + 1, this.cfg.maxInflight, voter);
        // A new member counts as active until the next check-quorum round judges it.
        pr.recentActive = true;
      }
      pr.voter = voter;
      next.set(id, pr);
    };
    for (const id of this.conf.voters) add(id, true);
    for (const id of this.conf.learners) add(id, false);
    this.progress = next;
  }

  /**
   * The leader's progress for the sender of `m`. An answer from another incarnation than the one
   * the progress was built from (a member with no recorded incarnation lost its disk) starts the
   * progress over: its match index described a log that no longer exists.
   */
  progressOf(m: Message): Progress | undefined {
    let pr = this.progress.get(m.from);
    if (pr === undefined || m.inc === undefined || pr.incarnation === m.inc) return pr;
    if (pr.incarnation !== null) {
      const fresh = new Progress(this.log.lastIndex() + 1, this.cfg.maxInflight, pr.voter);
      fresh.recentActive = pr.recentActive;
      this.progress.set(m.from, fresh);
      pr = fresh;
    }
    pr.incarnation = m.inc;
    return pr;
  }

  // ---- Output helpers -----------------------------------------------------------------------------

  send(m: Message): void {
    this.msgs.push(this.cfg.incarnation === undefined ? m : { ...m, inc: this.cfg.incarnation });
  }

  private error(code: RaftErrorCode, message: string): RaftError {
    return { ok: false, code, message, leader: this.leader };
  }

  private softChanged(): boolean {
    const p = this.prevSoft;
    return p.role !== this.role || p.leader !== this.leader || p.term !== this.term;
  }

  private hardChanged(): boolean {
    const p = this.prevHard;
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.log.committed;
  }

  private softState(): SoftState {
    return { role: this.role, leader: this.leader, term: this.term };
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }
}

// ---- Per-role message handling ------------------------------------------------------------------
// Vote requests and read answers are handled before these, identically in every role.

function stepLeader(r: Raft, m: Message): void {
  switch (m.type) {
    case 'appendResp': {
      const pr = r.progressOf(m);
      if (pr !== undefined) handleAppendResp(r, m, pr);
      return;
    }
    case 'heartbeatResp': {
      const pr = r.progressOf(m);
      if (pr !== undefined) handleHeartbeatResp(r, m, pr);
      return;
    }
    case 'readIndex': {
      const request = { requester: m.from, context: m.context };
      const accepted = r.leaderRead(request);
      if (!accepted.ok) {
        r.send({ type: 'readIndexResp', from: r.id, to: m.from, term: r.term, context: m.context, index: 0, reject: true });
      }
      return;
    }
    default:
      // Same-term appends cannot come from another leader; late votes and others are moot.
      return;
  }
}

/** The messages only the leader of a term sends. */
type FromLeader = AppendRequest | Heartbeat | InstallSnapshot;

function isFromLeader(m: Message): m is FromLeader {
  return m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
}

/** Handles a message from the leader, once the caller has recognised `m.from` as the leader of its term. */
function handleFromLeader(r: Raft, m: FromLeader): void {
  if (m.type === 'append') handleAppend(r, m);
  else if (m.type === 'heartbeat') handleHeartbeat(r, m);
  else handleSnapshot(r, m);
}

function stepCandidate(r: Raft, m: Message): void {
  if (isFromLeader(m)) {
    r.becomeFollower(m.term, m.from);
    handleFromLeader(r, m);
  } else if (m.type === 'voteResp' || m.type === 'preVoteResp') {
    r.handleVoteResponse(m);
  }
}

function stepFollower(r: Raft, m: Message): void {
  if (isFromLeader(m)) {
    r.electionElapsed = 0;
    r.leader = m.from;
    handleFromLeader(r, m);
  } else if (m.type === 'timeoutNow') {
    r.timeoutNow();
  }
}

// ---- Small pure helpers ---------------------------------------------------------------------------

function checkConfig(c: RaftConfig): void {
  const positive = (n: number): boolean => Number.isSafeInteger(n) && n > 0;
  invariant(typeof c.id === 'string' && c.id.length > 0, 'config.id must be a non-empty string');
  invariant(positive(c.electionTicks) && positive(c.heartbeatTicks), 'tick counts must be positive integers');
  invariant(c.heartbeatTicks < c.electionTicks, 'heartbeatTicks must be below electionTicks');
  invariant(positive(c.maxInflight) && positive(c.maxEntriesPerMessage), 'batch limits must be positive integers');
  invariant(positive(c.maxBytesPerMessage) && positive(c.maxUncommittedBytes), 'byte limits must be positive integers');
  invariant(typeof c.random === 'function', 'config.random must be a function');
}

