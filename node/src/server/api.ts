// What the HTTP and WebSocket layer needs from a node, and nothing more: the server only parses,
// authenticates, maps errors to status codes and writes JSON; the node does the work.
import type { Caller } from '../catga/api.js';
import type { CatgaError } from '../common/errors.js';
import type { WireEvent } from '../catga/events.js';
import type { Consistency } from '../catga/api.js';
import type { BackupHeader } from '../backup/format.js';

export type { WireEvent };
export { CONSISTENCIES, type Consistency } from '../catga/api.js';

/** A backup being streamed: a pinned view of the applied state read chunk by chunk (runtime/backup-source.ts). */
export interface BackupSource {
  readonly header: BackupHeader;
  /** The next chunk, or null after the last. */
  next(): Uint8Array | null;
  close(): void;
}

export interface CommandInput {
  readonly type: string;
  readonly payload: unknown;
  readonly idempotencyKey: string | null;
}

/** One command's outcome: a value, or the handler's refusal (HTTP 409 with its code). */
export type CommandOutcome = (
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } }
) & {
  /** Set when an idempotency key matched: the index of the entry that first produced this outcome. */
  readonly index?: number;
};

export interface ClusterMemberView {
  readonly id: string;
  readonly address: string;
  readonly voter: boolean;
  readonly matchIndex: number;
  readonly healthy: boolean;
  /** The storage incarnation the configuration records for the member (null: none recorded). */
  readonly incarnation: string | null;
}

/**
 * Whether this node sees a quorum: a leader, when a majority of the voters (itself included) was
 * heard from within the election timeout; any other node, when it heard its leader within it.
 */
export interface QuorumView {
  readonly visible: boolean;
  /** Voters heard from within the election timeout (this node included when it votes). */
  readonly voters: readonly string[];
  readonly reason: string;
}

export interface ClusterView {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastLogIndex: number;
  /** This node's storage incarnation (its data directory's identity). */
  readonly incarnation: string;
  readonly members: readonly ClusterMemberView[];
  readonly quorum: QuorumView;
}

export interface NodeStateView {
  readonly id: string;
  readonly appliedIndex: number;
  /** SHA-256 (hex) of the replicated state at `appliedIndex`: equal on every node at the same index. */
  readonly hash: string;
  /** Per loaded module: the version this node runs and the version active in the cluster. */
  readonly modules: Readonly<Record<string, { readonly running: number; readonly active: number }>>;
}

export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
  readonly isLeader: boolean;
  readonly appliedIndex: number;
}

export interface EventSubscription {
  close(): void;
}

/**
 * Throws CatgaError for anything a client should see as an error status; the message of an
 * unexpected error is logged and answered as 500 INTERNAL.
 */
export interface NodeApi {
  /** Validates every command before anything reaches the log (throws 400/404 CatgaError). */
  /** `caller`: who sent them, for the behaviours' edge checks (absent: the application itself). */
  commands(commands: readonly CommandInput[], deadline: number, caller?: Caller): Promise<{ index: number; outcomes: CommandOutcome[] }>;
  /** `consistency` null: the query's declared default; the answer says which one served it. */
  query(type: string, payload: unknown, consistency: Consistency | null, deadline: number, caller?: Caller): Promise<{ index: number; outcome: CommandOutcome; consistency: Consistency }>;
  publish(type: string, data: unknown, deadline: number): Promise<{ index: number }>;
  /**
   * Replays retained events after `from` (all retained if null) and then follows live ones, in log
   * order, filtered by `types`. Throws EVENTS_COMPACTED when `from` is older than what is retained;
   * `onCompacted` is called if the feed breaks later (a snapshot from the leader replaced the
   * state this node was following): the subscriber must resume.
   * `deliver` gets batches (one per driver turn), synchronously from the apply path: it must only
   * queue them.
   */
  subscribe(from: number | null, types: ReadonlySet<string> | null, deliver: (events: readonly WireEvent[]) => void, onCompacted: () => void): EventSubscription;
  cluster(): ClusterView;
  /**
   * Waits for this node's view of role, leader, term or members to change past version `since`
   * (at once when it already has), until `deadline` or `signal`; answers the version reached and
   * what its last change changed.
   */
  watchCluster(since: number, deadline: number, signal: AbortSignal): Promise<{ version: number; changed: readonly string[] }>;
  /** The OpenAPI 3.1 document of the loaded modules, serialized once. */
  openapi(): string;
  /** `incarnation`: the storage incarnation the member runs as (an operator that saw its volume replaced). */
  addMember(id: string, address: string, voter: boolean, deadline: number, incarnation?: string): Promise<{ index: number }>;
  removeMember(id: string, deadline: number): Promise<{ index: number }>;
  transferLeadership(to: string | null, deadline: number): Promise<{ leader: string }>;
  /** Pins the applied state for a backup (throws 429 BACKUP_IN_PROGRESS when one already streams); the caller closes it. */
  backup(): BackupSource;
  readiness(): Readiness;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** This node's replicated state digest and module versions (`GET /v1/cluster/state`). */
  state(): Promise<NodeStateView>;
  isShuttingDown(): boolean;
}

export type { CatgaError };
