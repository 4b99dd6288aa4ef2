// A resumable event subscription over WebSocket (docs/api.md#events, GET /v1/events). It remembers the
// last index it delivered and how many events of that index it delivered, so after any disconnect
// it reconnects (next endpoint, growing backoff) with `?from=` and delivers every event exactly
// once, in order, even if the server split one entry's events across frames. Frames may hold one
// event object or an array of them.
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import type { WireError } from './requests.js';

export interface ClientEvent {
  readonly index: number;
  readonly type: string;
  readonly data: unknown;
  readonly ts: number;
}

export interface SubscribeOptions {
  /** Deliver events after this index (a previous subscription's `lastIndex`); omitted: the server's default. */
  readonly from?: number;
  readonly types?: readonly string[];
  /** Called once when the subscription ends on an error it cannot resume from. */
  readonly onError?: (error: WireError) => void;
}

export const RECONNECT_BASE_MS = 100;
export const DEFAULT_RECONNECT_MAX_MS = 5_000;
/** A connection that answers no ping within this long is considered dead and replaced. */
export const DEFAULT_HEARTBEAT_MS = 15_000;
/** Bound on the body of a refused upgrade the client reads for its error code. */
const MAX_REFUSAL_BYTES = 4_096;
/** Close codes after which resuming cannot help. */
const TERMINAL_CLOSE_CODES = new Set([1008, 4001, 4003, 4401, 4403]);

function isEvent(value: unknown): value is ClientEvent {
  const e = value as Partial<ClientEvent> | null;
  return e !== null && typeof e === 'object' && typeof e.index === 'number' && typeof e.type === 'string' && typeof e.ts === 'number';
}

export class Subscription {
  /** Resolves when the subscription ends: null when closed by `close()`, else the error. */
  readonly ended: Promise<WireError | null>;
  private resolveEnded!: (error: WireError | null) => void;
  private ws: WebSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private last: number | null;
  /** Events of index `last` already delivered. */
  private deliveredAtLast = 0;
  /** Events of index `last` the current connection will send again and must be skipped. */
  private skipAtLast = 0;
  /** The previous resume from `last - 1` was refused as compacted: resume from `last` instead. */
  private resumeAtLast = false;
  private endpoint = 0;
  private failures = 0;

  constructor(
    private readonly endpoints: readonly URL[],
    private readonly token: string | undefined,
    private readonly options: SubscribeOptions,
    private readonly onEvent: (event: ClientEvent) => void,
    private readonly reconnectMaxMs: number = DEFAULT_RECONNECT_MAX_MS,
    private readonly heartbeatMs: number = DEFAULT_HEARTBEAT_MS,
  ) {
    this.last = options.from ?? null;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.connect();
  }

  /** Index of the last event delivered (or the `from` given): where a new subscription would resume. */
  get lastIndex(): number | null {
    return this.last;
  }

  close(): Promise<void> {
    this.stop(null);
    return this.ended.then(() => undefined);
  }

  private connect(): void {
    const base = this.endpoints[this.endpoint % this.endpoints.length] as URL;
    const url = new URL('/v1/events', base);
    url.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
    this.skipAtLast = 0;
    if (this.last !== null) {
      const partial = this.deliveredAtLast > 0 && this.last > 0 && !this.resumeAtLast;
      url.searchParams.set('from', String(partial ? this.last - 1 : this.last));
      if (partial) this.skipAtLast = this.deliveredAtLast;
    }
    if (this.options.types !== undefined && this.options.types.length > 0) url.searchParams.set('types', this.options.types.join(','));
    const ws = new WebSocket(url, { headers: this.token === undefined ? {} : { authorization: `Bearer ${this.token}` } });
    this.ws = ws;
    ws.on('message', (data: WebSocket.RawData) => this.receive(data));
    ws.on('unexpected-response', (req, res: IncomingMessage) => this.refused(req, res));
    ws.on('error', () => {
      /* the close event that follows decides what to do */
    });
    // Half-open connections (a node that vanished without a FIN) are found by ping/pong.
    let alive = true;
    let heartbeat: NodeJS.Timeout | null = null;
    ws.on('open', () => {
      heartbeat = setInterval(() => {
        if (!alive) return ws.terminate();
        alive = false;
        ws.ping();
      }, this.heartbeatMs);
    });
    ws.on('pong', () => {
      alive = true;
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (heartbeat !== null) clearInterval(heartbeat);
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return this.resolveEnded(null);
      if (TERMINAL_CLOSE_CODES.has(code)) return this.stop({ code: 'SUBSCRIPTION_CLOSED', message: `server closed the subscription (${code} ${reason.toString()})` });
      this.reconnect();
    });
  }

  private receive(data: WebSocket.RawData): void {
    if (this.stopped) return;
    let doc: unknown;
    try {
      doc = JSON.parse(data.toString());
    } catch {
      return this.stop({ code: 'BAD_RESPONSE', message: 'a WebSocket frame is not JSON' });
    }
    if ((doc as { ok?: unknown } | null)?.ok === false) {
      const error = (doc as { error?: WireError }).error;
      return this.stop({ code: String(error?.code ?? 'SUBSCRIPTION_ERROR'), message: String(error?.message ?? '') });
    }
    this.failures = 0;
    if (!isEvent(doc)) return this.stop({ code: 'BAD_RESPONSE', message: 'a WebSocket message is not an event' });
    if (!this.accept(doc)) return;
    try {
      this.onEvent(doc);
    } catch (error) {
      this.stop({ code: 'SUBSCRIBER_ERROR', message: `the event callback threw: ${(error as Error).message}` });
    }
  }

  /** Whether `event` is new; updates the resume position. */
  private accept(event: ClientEvent): boolean {
    if (this.last === null || event.index > this.last) {
      this.last = event.index;
      this.deliveredAtLast = 1;
      this.skipAtLast = 0;
      this.resumeAtLast = false;
      return true;
    }
    if (event.index < this.last) return false;
    if (this.skipAtLast > 0) {
      this.skipAtLast--;
      return false;
    }
    this.deliveredAtLast++;
    return true;
  }

  private refused(req: { destroy(): void }, res: IncomingMessage): void {
    const status = res.statusCode ?? 0;
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REFUSAL_BYTES) chunks.push(chunk);
    });
    res.on('end', () => {
      req.destroy();
      let error: WireError = { code: `HTTP_${status}`, message: `the upgrade was refused with HTTP ${status}` };
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: WireError };
        if (typeof body.error?.code === 'string') error = { code: body.error.code, message: String(body.error.message ?? '') };
      } catch {
        /* keep the status-derived error */
      }
      if (this.stopped) return;
      if (error.code === 'EVENTS_COMPACTED' && this.deliveredAtLast > 0 && !this.resumeAtLast) {
        // The floor sits exactly at our last index: the rest of that entry is gone everywhere it
        // was compacted, so resume after it rather than give up.
        this.resumeAtLast = true;
        this.ws = null;
        return this.connect();
      }
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) return this.stop(error);
      this.ws = null;
      this.reconnect();
    });
  }

  private reconnect(): void {
    if (this.stopped) return;
    this.endpoint++;
    const delay = Math.min(this.reconnectMaxMs, RECONNECT_BASE_MS * 2 ** this.failures++);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  private stop(error: WireError | null): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (error !== null) this.options.onError?.(error);
    const ws = this.ws;
    if (ws === null) return this.resolveEnded(error);
    if (error !== null) this.resolveEnded(error);
    this.ws = null;
    ws.once('close', () => this.resolveEnded(null));
    if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
    else ws.close(1000);
  }
}
