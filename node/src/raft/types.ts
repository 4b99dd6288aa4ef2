// The Raft core's vocabulary: ids, log entries, configuration, wire messages, and the Ready batch
// the core hands to its driver. Everything here is plain data: the core, the storage, the peer
// codec and the simulator all speak it, and nothing in it touches I/O.

/** A node's stable identity: the pod name in Kubernetes (`X-0`), `n1`… in `catga dev`. */
export type NodeId = string;

/** Term 0 and index 0 mean "none": the log's first real entry has index 1. */
export type Term = number;
export type Index = number;

export type EntryType = 'normal' | 'conf';

/**
 * One log entry. A `normal` entry with empty `data` is the no-op a new leader appends to commit
 * its term. A `conf` entry's `data` is an encoded `ConfChange` (see `encodeConfChange`).
 */
export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The part of a node's state that must be on disk before it answers any message. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly commit: Index;
}

/** A cluster configuration: who votes, who only learns, and where each member listens (peer port). */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** Peer address (`host:port`) of every voter and learner. */
  readonly addresses: Readonly<Record<NodeId, string>>;
  /**
   * The storage incarnation each member was admitted with (see RaftConfig.incarnation). A member
   * whose messages carry another incarnation lost its disk: it is not the member that voted and
   * stored entries, and nothing it says counts until it is replaced. Absent: none recorded.
   */
  readonly incarnations?: Readonly<Record<NodeId, string>>;
}

/**
 * A single-server membership change. `addLearner` adds a non-voting member; `promote` turns a
 * caught-up learner into a voter; `remove` removes a voter or learner. (`addVoter` is not offered:
 * a new member always enters as a learner first, so it can never stall a quorum while it catches up.)
 * `replace` is for a member that came back with an empty disk (a new incarnation): the old
 * incarnation leaves the voters and the new one enters as a learner, in one step that changes the
 * voter set by one member only. `incarnation` on `addLearner`/`promote` records the member's
 * incarnation (a learner added by an operator may have none until its promotion).
 */
export type ConfChange =
  | { readonly type: 'addLearner'; readonly node: NodeId; readonly address: string; readonly incarnation?: string }
  | { readonly type: 'promote'; readonly node: NodeId; readonly incarnation?: string }
  | { readonly type: 'replace'; readonly node: NodeId; readonly address: string; readonly incarnation: string }
  | { readonly type: 'remove'; readonly node: NodeId }
  | { readonly type: 'updateAddress'; readonly node: NodeId; readonly address: string };

export interface SnapshotMeta {
  readonly index: Index;
  readonly term: Term;
  readonly conf: ConfState;
}

/** A state machine image covering every entry up to and including `meta.index`. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

export type Role = 'follower' | 'candidate' | 'precandidate' | 'leader';

/** Volatile state worth reporting (metrics, /v1/cluster, readiness); never persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly term: Term;
}

/** The answer to `readIndex(ctx)`: once `appliedIndex >= index`, a read for `ctx` is linearizable. */
export interface ReadState {
  readonly index: Index;
  readonly context: string;
}

// ---- Wire messages ------------------------------------------------------------------------------
// Every message carries `from`, `to` and the sender's `term`. A message of a lower term than the
// receiver's is answered or dropped per the Raft rules; a higher term makes the receiver step down
// (except for pre-votes, which never change terms).

export interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
  /** The sender's storage incarnation (RaftConfig.incarnation); absent from cores run without one. */
  readonly inc?: string;
}

/** Vote request: real (`vote`) or pre-vote (`preVote`, sent with term + 1, changes no state). */
export interface VoteRequest extends Envelope {
  readonly type: 'vote' | 'preVote';
  readonly lastLogIndex: Index;
  readonly lastLogTerm: Term;
  /** Set when the campaign follows a `timeoutNow`: voters ignore their leader lease for it. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'voteResp' | 'preVoteResp';
  readonly reject: boolean;
}

export interface AppendRequest extends Envelope {
  readonly type: 'append';
  readonly prevIndex: Index;
  readonly prevTerm: Term;
  readonly entries: readonly Entry[];
  readonly commit: Index;
}

/**
 * On success `index` is the last index the follower now matches. On rejection `index` echoes the
 * rejected `prevIndex`, and (`hintIndex`, `hintTerm`) let the leader skip a whole conflicting term
 * at once: the follower's last index ≤ prevIndex whose term is ≤ the leader's prevTerm.
 */
export interface AppendResponse extends Envelope {
  readonly type: 'appendResp';
  readonly index: Index;
  readonly reject: boolean;
  readonly hintIndex: Index;
  readonly hintTerm: Term;
}

/** Leader liveness and commit propagation; `context` carries a ReadIndex round, '' if none. */
export interface Heartbeat extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: Index;
  readonly context: string;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeatResp';
  readonly context: string;
}

export interface InstallSnapshot extends Envelope {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

/** Leadership transfer: the target campaigns at once, skipping pre-vote and its election timeout. */
export interface TimeoutNow extends Envelope {
  readonly type: 'timeoutNow';
}

/** A follower's ReadIndex request forwarded to the leader, and the leader's answer. */
export interface ReadIndexRequest extends Envelope {
  readonly type: 'readIndex';
  readonly context: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'readIndexResp';
  readonly context: string;
  /** 0 with `reject` when the leader cannot serve it (not leader any more, no commit in its term). */
  readonly index: Index;
  readonly reject: boolean;
}

export type Message =
  | VoteRequest
  | VoteResponse
  | AppendRequest
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

// ---- The core's output ---------------------------------------------------------------------------

/**
 * What the driver must do, in this order, before calling `advance()`:
 *  1. persist `snapshot` (if any; it replaces the whole log: drop EVERY persisted entry, also those
 *     after the snapshot index), then `entries` (an entry at an index already on disk replaces it
 *     and everything after it), then `hardState` (if any) — durably (fsync);
 *  2. send `messages`;
 *  3. install `snapshot` into the state machine (if any), then apply `committedEntries` in order
 *     (they are all durable here already, so they may be applied while step 1 runs);
 *  4. hand `readStates` to waiting readers (each is served once applied index ≥ its index);
 *  5. call `advance()`.
 * Or, for a Ready without a snapshot: do 2–4 while step 1 runs, call `handOff()` instead of
 * `advance()` (the next Ready may then be taken), and `persisted(index, term)` once the save is
 * durable. Saves must complete in the order their Readies were taken. The core counts a leader's
 * own entries toward commit, and hands out entries for applying, only as far as they are durable,
 * so sending and stepping acknowledgements meanwhile is safe; but `messages` that promise
 * durability (votes, a follower's acknowledgements) must still wait for their save.
 * `softState` is set when role, leader or term changed since the previous Ready.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly snapshot: Snapshot | null;
  readonly entries: readonly Entry[];
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
}

/** Errors the core returns (never throws) for requests a caller may retry elsewhere or later. */
export type RaftErrorCode =
  | 'NOT_LEADER'
  | 'TRANSFER_IN_PROGRESS'
  | 'CONF_CHANGE_PENDING'
  | 'INVALID_CONF_CHANGE'
  | 'UNCOMMITTED_LIMIT'
  | 'INVALID_MESSAGE'
  | 'NO_LEADER'
  /** `transferLeadership` to a node that is not a voter of the current configuration. */
  | 'INVALID_TRANSFER_TARGET'
  /** Too many ReadIndex requests are waiting on this leader (see MAX_PENDING_READS). */
  | 'READ_INDEX_LIMIT'
  /** A message from a member's former incarnation (it lost its disk): dropped, it counts for nothing. */
  | 'STALE_INCARNATION';

export interface RaftError {
  readonly ok: false;
  readonly code: RaftErrorCode;
  readonly message: string;
  readonly leader: NodeId | null;
}

export type Proposed = { readonly ok: true; readonly index: Index; readonly term: Term } | RaftError;
export type Accepted = { readonly ok: true } | RaftError;

/** Configuration of one core instance. Ticks are abstract: the driver decides their length. */
export interface RaftConfig {
  readonly id: NodeId;
  /** Base election timeout; each node draws its timeout from [electionTicks, 2 * electionTicks). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Seeded uniform source in [0, 1): the only randomness the core ever sees. */
  readonly random: () => number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Bound on append messages in flight to one follower (pipelining window). */
  readonly maxInflight: number;
  /** Bound on the entries one append message carries (batching), by count and by bytes. */
  readonly maxEntriesPerMessage: number;
  readonly maxBytesPerMessage: number;
  /** Bound on proposed but uncommitted bytes on a leader; beyond it `propose` answers UNCOMMITTED_LIMIT. */
  readonly maxUncommittedBytes: number;
  /**
   * This node's storage incarnation: a random id its data directory got when it was created.
   * With one set, the node votes and campaigns only while the configuration records it with this
   * incarnation (a node whose disk was wiped never stands in for the member it was), and every
   * message it sends carries it. Without one (unit tests of the bare algorithm) neither applies.
   */
  readonly incarnation?: string;
  /**
   * TEST-ONLY deliberate bugs, so the simulator can prove it catches them. Never set by the
   * runtime. `grantVoteWithoutLogCheck`: votes ignore the candidate's log (breaks leader
   * completeness). `commitPreviousTermByCount`: a leader commits entries of earlier terms by
   * counting replicas (the Raft paper's figure 8 bug). `ignoreIncarnations`: a node votes, campaigns
   * and is counted whatever its incarnation (a wiped disk stands in for the member it was).
   */
  readonly faults?: {
    readonly grantVoteWithoutLogCheck?: boolean;
    readonly commitPreviousTermByCount?: boolean;
    readonly ignoreIncarnations?: boolean;
  };
}

/** What a node starts from: what storage recovered (all empty on a brand-new node). */
export interface RaftRestore {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot (or from index 1), contiguous, as persisted. */
  readonly entries: readonly Entry[];
  /** Configuration for a brand-new cluster: ignored when the restored state holds any configuration. */
  readonly bootstrap: ConfState | null;
  /** Index already applied by the state machine (the snapshot index on a fresh start). */
  readonly applied: Index;
}

export interface PeerProgress {
  readonly match: Index;
  readonly next: Index;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly inflight: number;
  /** Heard from within the last election timeout (what check-quorum counts). */
  readonly recentActive: boolean;
  readonly voter: boolean;
  /** The incarnation the member's answers carried, null before any. */
  readonly incarnation: string | null;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commit: Index;
  readonly applied: Index;
  readonly firstIndex: Index;
  readonly lastIndex: Index;
  readonly conf: ConfState;
  /** Only on the leader: one row per member other than itself. */
  readonly progress: Readonly<Record<NodeId, PeerProgress>>;
  readonly transferee: NodeId | null;
}

/**
 * The core's surface. A pure, deterministic state machine: the same calls in the same order with
 * the same `random` give the same Ready batches, byte for byte.
 */
export interface RaftCore {
  readonly id: NodeId;
  tick(): void;
  /** Feeds one received message. Malformed or out-of-range messages are refused, state untouched. */
  step(msg: Message): Accepted;
  propose(data: Uint8Array): Proposed;
  /**
   * Appends several entries at once (one batch, contiguous indexes); all or none. The answer's
   * `index` is that of the LAST entry: entry i of n is at `index - n + 1 + i`.
   */
  proposeBatch(data: readonly Uint8Array[]): Proposed;
  proposeConfChange(cc: ConfChange): Proposed;
  /** Starts a linearizable read; the answer arrives as a ReadState with the same context. */
  readIndex(context: string): Accepted;
  transferLeadership(to: NodeId): Accepted;
  /** Starts an election now (tests, and `catga dev` bootstrap of a single node). */
  campaign(): void;
  /**
   * The driver took a snapshot of the state machine at `index` (≤ applied): the core keeps it to
   * send to followers that fell behind, discards log entries up to `index - retain`, and returns
   * the snapshot with its metadata (term and configuration as of `index`) for the driver to persist.
   */
  compact(index: Index, data: Uint8Array, retain: number): Snapshot;
  hasReady(): boolean;
  ready(): Ready;
  /** Acknowledges the last `ready()`: what it asked to persist is durable and applied. */
  advance(): void;
  /**
   * Acknowledges the last `ready()` (which has no snapshot) while its save still runs: its
   * committed entries are applied, its messages sent. `persisted` reports the save later.
   */
  handOff(): void;
  /** The log up to `index`, whose entry there has `term`, is durable (a save handed off earlier finished). */
  persisted(index: Index, term: Term): void;
  status(): RaftStatus;
}
