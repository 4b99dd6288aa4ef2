// The untyped Catga client: commands, batches, queries, event publishing and resumable
// subscriptions against any node(s) of a cluster, speaking the HTTP API contract exactly.
// Every call is non-throwing: it answers the contract's body (`{ok:true,value,index}` or
// `{ok:false,error:{code,message}}`, plus the HTTP `status`, 0 when no server answered).
import { Requester, type ClientResponse } from './requests.js';
import { Subscription, type ClientEvent, type SubscribeOptions } from './subscription.js';


export const DEFAULT_TIMEOUT_MS = 10_000;

export type Consistency = 'local' | 'leader' | 'linearizable';

export interface CatgaClientOptions {
  /** Node base URLs, e.g. `http://10.0.0.1:8080`; calls start at the last one that answered. */
  readonly endpoints: readonly string[];
  /** Bearer token (CATGA_API_TOKENS). */
  readonly token?: string;
  /** Overall deadline of one call, retries included. */
  readonly timeoutMs?: number;
  /** Longest pause between WebSocket reconnects. */
  readonly reconnectMaxMs?: number;
  /** WebSocket ping interval; a connection without a pong for one interval is replaced. */
  readonly heartbeatMs?: number;
}

export interface CallOptions {
  /** Overrides the client's timeoutMs for this call. */
  readonly timeoutMs?: number;
}

export interface SendOptions extends CallOptions {
  /**
   * Defaults to a fresh random UUID, reused by this call's retries, so a command is applied at most
   * once even when a retry follows a lost answer. `false` sends none: such a command is retried
   * only when it certainly never reached a node.
   */
  readonly idempotencyKey?: string | false;
}

export interface BatchCommand {
  readonly type: string;
  readonly payload: unknown;
  readonly idempotencyKey?: string | false;
}

/** One command's result inside a batch answer. */
export type BatchItem<T = unknown> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: { readonly code: string; readonly message: string } };

export interface QueryOptions extends CallOptions {
  /** Default `local` on the server. */
  readonly consistency?: Consistency;
}

export class CatgaClient {
  readonly endpoints: readonly URL[];
  private readonly timeoutMs: number;
  private readonly requester: Requester;
  private readonly lifetime = new AbortController();
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly options: CatgaClientOptions) {
    if (options.endpoints.length === 0) throw new TypeError('CatgaClient needs at least one endpoint');
    this.endpoints = options.endpoints.map((endpoint) => new URL(endpoint));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.requester = new Requester(this.endpoints, options.token, this.lifetime.signal);
  }

  /** POST /v1/commands/{type}. */
  send<T = unknown>(type: string, payload: unknown, options: SendOptions = {}): Promise<ClientResponse<T>> {
    const key = options.idempotencyKey ?? crypto.randomUUID();
    return this.requester.call<T>({
      path: `/v1/commands/${encodeURIComponent(type)}`,
      body: JSON.stringify(payload ?? {}),
      headers: key === false ? {} : { 'idempotency-key': key },
      repeatable: key !== false,
      deadline: this.deadline(options),
    });
  }

  /** POST /v1/commands: one log append; `value` holds one result per command, in order. */
  sendBatch(commands: readonly BatchCommand[], options: CallOptions = {}): Promise<ClientResponse<BatchItem[]>> {
    let repeatable = true;
    const wire = commands.map((command) => {
      const key = command.idempotencyKey ?? crypto.randomUUID();
      if (key === false) repeatable = false;
      return key === false ? { type: command.type, payload: command.payload } : { type: command.type, payload: command.payload, idempotencyKey: key };
    });
    return this.requester.call<BatchItem[]>({ path: '/v1/commands', body: JSON.stringify({ commands: wire }), repeatable, deadline: this.deadline(options) });
  }

  /** POST /v1/queries/{type}?consistency=… */
  query<T = unknown>(type: string, payload: unknown = {}, options: QueryOptions = {}): Promise<ClientResponse<T>> {
    const consistency = options.consistency === undefined ? '' : `?consistency=${options.consistency}`;
    return this.requester.call<T>({ path: `/v1/queries/${encodeURIComponent(type)}${consistency}`, body: JSON.stringify(payload ?? {}), repeatable: true, deadline: this.deadline(options) });
  }

  /**
   * POST /v1/events/{type}. Not idempotent: retried only when the node certainly did not append it
   * (connection refused, 429, or a 503 other than TIMEOUT/OUTCOME_UNKNOWN).
   */
  publish<T = unknown>(type: string, data: unknown, options: CallOptions = {}): Promise<ClientResponse<T>> {
    return this.requester.call<T>({ path: `/v1/events/${encodeURIComponent(type)}`, body: JSON.stringify(data ?? null), repeatable: false, deadline: this.deadline(options) });
  }

  /** GET /v1/events over WebSocket, resuming automatically after disconnects. */
  subscribe(options: SubscribeOptions, onEvent: (event: ClientEvent) => void): Subscription {
    if (this.lifetime.signal.aborted) throw new Error('the client is closed');
    const subscription = new Subscription(this.endpoints, this.options.token, options, onEvent, this.options.reconnectMaxMs, this.options.heartbeatMs);
    this.subscriptions.add(subscription);
    void subscription.ended.then(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  /** Ends every subscription and aborts calls in flight (they answer CLIENT_CLOSED). */
  async close(): Promise<void> {
    this.lifetime.abort();
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
  }

  private deadline(options: CallOptions): number {
    return Date.now() + (options.timeoutMs ?? this.timeoutMs);
  }
}

/** The node's `GET /v1/cluster` view, as the server defines it. */
