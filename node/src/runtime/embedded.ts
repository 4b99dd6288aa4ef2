// A node inside the application's own process (`import { startNode } from 'catga'`): the public
// face of runtime/node.ts for application code. It takes the settings of `catga node` as an object
// plus module definitions, and offers the mediator as the HTTP API would: `send` and `query` take
// the same paths as a request to this node (validated here, forwarded to the leader from a
// follower, retried across a failover within the deadline), answering Results instead of throwing;
// `cluster()`, `onClusterChange` and `clusterChanges()` show role, leader, term and membership.
import type { Behavior, ModuleDefinition } from '../catga/api.js';
import { commandRefusalStatus, queryRefusalStatus } from '../catga/result.js';
import type { ClusterView, CommandOutcome, Consistency } from '../server/api.js';
import type { ClusterChange, ClusterListener } from './cluster-watch.js';
import { configFromSettings, type NodeSettings } from './config.js';
import { asCatgaError } from '../common/errors.js';
import { startNode as startRuntimeNode } from './node.js';

/** What `send`, `publish` and `query` answer: the handler's value with the entry's index, or why not. */
export type Reply<T = unknown> =
  | { readonly ok: true; readonly value: T; readonly index: number }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly status: number };

export interface SendOptions {
  /** A retried send with the same key (and type and payload) applies once and answers the first result. */
  readonly idempotencyKey?: string;
  /** Deadline of this call (default: the node's request timeout). */
  readonly timeoutMs?: number;
}

export interface QueryOptions {
  /** Default: the query's declared consistency (`local` when it declares none). */
  readonly consistency?: Consistency;
  readonly timeoutMs?: number;
}

export interface EmbeddedNodeOptions {
  /** The settings of `catga node` (`nodeId`, `dataDir`, `httpPort`, `peerPort`, `staticPeers`, …). */
  readonly settings: NodeSettings;
  /** The application's modules, loaded after the builtins. */
  readonly modules?: readonly ModuleDefinition[];
  /**
   * Behaviours around every module's commands and queries (outermost first, outside each module's
   * own `behaviors`). Command behaviours run inside apply on every node: deterministic results only.
   */
  readonly behaviors?: readonly Behavior[];
  /** Where settings the object leaves out are read (default: none; pass `process.env` for CATGA_*). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface CatgaNode {
  readonly id: string;
  /** The port of this node's HTTP API (clients, probes, metrics). */
  readonly httpPort: number;
  send<T = unknown>(type: string, payload: unknown, options?: SendOptions): Promise<Reply<T>>;
  query<T = unknown>(type: string, payload: unknown, options?: QueryOptions): Promise<Reply<T>>;
  publish(type: string, data: unknown, options?: { readonly timeoutMs?: number }): Promise<Reply<null>>;
  /** This node's view of the cluster, as `GET /v1/cluster` shows it. */
  cluster(): ClusterView;
  /** Calls `listener` on every change of role, leader, term or members; returns the unsubscribe. */
  onClusterChange(listener: ClusterListener): () => void;
  /** The changes as an async iterator (the latest view after each; a burst may come as one). Ends at close. */
  clusterChanges(): AsyncIterableIterator<ClusterChange>;
  /** Graceful stop: hands leadership over, flushes and closes. */
  close(): Promise<void>;
}

/** Idempotency keys of embedded sends are their own scope: no HTTP client shares one. */
const KEY_SCOPE = 'app';
/** How long one wait of `clusterChanges` lasts before it looks again. */
const CHANGE_WAIT_MS = 60_000;

/** `status`: the HTTP status the same refusal gets over the API (commands and queries differ). */
function replyOf<T>(index: number, outcome: CommandOutcome, status: (code: string) => number): Reply<T> {
  if (outcome.ok) return { ok: true, value: outcome.value as T, index };
  const { code, message } = outcome.error;
  return { ok: false, code, message, status: status(code) };
}

async function settle<T>(call: () => Promise<Reply<T>>): Promise<Reply<T>> {
  try {
    return await call();
  } catch (err) {
    const e = asCatgaError(err);
    return { ok: false, code: e.code, message: e.message, status: e.status };
  }
}

/** Starts a node in this process. Throws ConfigError for bad settings, LoadError/DefinitionError for bad modules. */
export async function startNode(options: EmbeddedNodeOptions): Promise<CatgaNode> {
  const cfg = configFromSettings(options.settings, options.env);
  const running = await startRuntimeNode(cfg, { modules: options.modules ?? [], behaviors: options.behaviors ?? [] });
  const { api, watch } = running;
  const closing = new AbortController();
  const deadline = (timeoutMs: number | undefined): number => Date.now() + (timeoutMs ?? cfg.requestTimeoutMs);
  return {
    id: cfg.nodeId,
    httpPort: running.httpPort,
    send: <T>(type: string, payload: unknown, o: SendOptions = {}) => settle<T>(async () => {
      const idempotencyKey = o.idempotencyKey === undefined ? null : `${KEY_SCOPE}:${o.idempotencyKey}`;
      const { index, outcomes } = await api.commands([{ type, payload, idempotencyKey }], deadline(o.timeoutMs));
      const outcome = outcomes[0] as CommandOutcome;
      return replyOf<T>(outcome.index ?? index, outcome, commandRefusalStatus);
    }),
    query: <T>(type: string, payload: unknown, o: QueryOptions = {}) => settle<T>(async () => {
      const { index, outcome } = await api.query(type, payload, o.consistency ?? null, deadline(o.timeoutMs));
      return replyOf<T>(index, outcome, queryRefusalStatus);
    }),
    publish: (type, data, o = {}) => settle(async () => {
      const { index } = await api.publish(type, data, deadline(o.timeoutMs));
      return { ok: true, value: null, index };
    }),
    cluster: () => api.cluster(),
    onClusterChange: (listener) => watch.on(listener),
    async *clusterChanges() {
      let since = watch.current.version;
      while (!closing.signal.aborted) {
        const change = await watch.next(since, CHANGE_WAIT_MS, closing.signal);
        if (change.version === since) continue;
        since = change.version;
        yield change;
      }
    },
    async close() {
      closing.abort();
      await running.shutdown('closed by the application');
    },
  };
}
