// The client's request policy: which endpoint to try, when to try again, and when to stop.
// 503/429 answers are retried after their Retry-After (on the next endpoint); connection failures
// move to the next endpoint at once (after a short backoff once every endpoint failed); all of it
// within the call's overall deadline. A request whose outcome is unknown (sent and no answer, or a
// 503 saying so) is retried only when repeating it is safe: queries, and commands carrying an
// idempotency key.
import { attempt, type Attempt } from './http.js';

/** Longest Request-Timeout a server accepts (the client clamps what it sends to it). */
export const MAX_REQUEST_TIMEOUT_MS = 60_000;
export const BACKOFF_BASE_MS = 50;
export const BACKOFF_MAX_MS = 1_000;
/** 503 codes meaning "it may still be applied": a non-repeatable request is not sent again. */
const OUTCOME_UNKNOWN_CODES = new Set(['TIMEOUT', 'OUTCOME_UNKNOWN']);

export interface WireError {
  readonly code: string;
  readonly message: string;
}

/** The API's reply bodies; `status` is the HTTP status of a failure (0 when no server answered). */
export type ClientResponse<T> = { readonly ok: true; readonly value: T; readonly index: number } | { readonly ok: false; readonly error: WireError; readonly status: number };

export interface Call {
  readonly path: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Whether sending the request twice is harmless. */
  readonly repeatable: boolean;
  readonly deadline: number;
}

function toResponse<T>(status: number, body: unknown): ClientResponse<T> {
  const doc = (body ?? {}) as { ok?: unknown; value?: unknown; index?: unknown; error?: { code?: unknown; message?: unknown } };
  if (doc.ok === true && typeof doc.index === 'number' && status >= 200 && status < 300) return { ok: true, value: doc.value as T, index: doc.index };
  if (doc.ok === false && typeof doc.error?.code === 'string') return { ok: false, error: { code: doc.error.code, message: String(doc.error.message ?? '') }, status };
  return { ok: false, error: { code: 'BAD_RESPONSE', message: `HTTP ${status} with a body outside the contract` }, status };
}

function failure(code: string, message: string): ClientResponse<never> {
  return { ok: false, error: { code, message }, status: 0 };
}

export class Requester {
  /** Index of the endpoint that answered last: the next call starts there. */
  private preferred = 0;

  constructor(
    private readonly endpoints: readonly URL[],
    private readonly token: string | undefined,
    private readonly signal: AbortSignal,
  ) {}

  async call<T>(call: Call): Promise<ClientResponse<T>> {
    let last: ClientResponse<T> = failure('DEADLINE_EXCEEDED', 'the deadline passed before any endpoint answered');
    let failuresInRound = 0;
    let rounds = 0;
    let index = this.preferred;
    for (;;) {
      const remaining = call.deadline - Date.now();
      if (remaining <= 0 || this.signal.aborted) return this.signal.aborted ? failure('CLIENT_CLOSED', 'the client was closed') : last;
      const endpoint = this.endpoints[index % this.endpoints.length] as URL;
      const result: Attempt = await attempt(new URL(call.path, endpoint), this.headers(call, remaining), call.body, remaining, this.signal);
      if (result.kind === 'response') {
        if (result.status !== 503 && result.status !== 429) {
          this.preferred = index % this.endpoints.length;
          return toResponse<T>(result.status, result.body);
        }
        last = toResponse<T>(result.status, result.body);
        if (!call.repeatable && !last.ok && OUTCOME_UNKNOWN_CODES.has(last.error.code)) return last;
        const wait = result.retryAfterMs ?? backoff(rounds);
        if (wait >= call.deadline - Date.now()) return last;
        index++;
        await this.sleep(wait);
        continue;
      }
      if (result.code === 'CLIENT_CLOSED') return failure('CLIENT_CLOSED', result.message);
      if (!result.refused && !call.repeatable) return failure('OUTCOME_UNKNOWN', `${result.message}; not retried: the request may have been applied (send an idempotency key to make it retryable)`);
      // A retry the call's own deadline cut short says nothing new: the answer a node gave before
      // it (a 503 saying why) tells the caller more than "no endpoint answered".
      if (result.code === 'ATTEMPT_TIMEOUT' && !last.ok && last.status !== 0 && Date.now() >= call.deadline) return last;
      last = failure('UNAVAILABLE', `no endpoint answered; last: ${result.message}`);
      index++;
      if (++failuresInRound >= this.endpoints.length) {
        failuresInRound = 0;
        await this.sleep(Math.min(backoff(rounds++), Math.max(0, call.deadline - Date.now())));
      }
    }
  }

  private headers(call: Call, remainingMs: number): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
      'request-timeout': String(Math.max(1, Math.min(MAX_REQUEST_TIMEOUT_MS, Math.floor(remainingMs)))),
      ...call.headers,
    };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.signal.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        this.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.signal.addEventListener('abort', done);
    });
  }
}

function backoff(round: number): number {
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** round);
}
