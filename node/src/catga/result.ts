// The mediator's non-throwing result type, its stable error codes, and how each code maps to an
// HTTP status (docs/api.md#errors). Handlers return a Result; nothing in the mediator throws for a
// business outcome.

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

/** One field-level validation problem: `path` is `payload.items[2].name` style. */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

export interface Failure {
  readonly ok: false;
  /** Stable UPPER_SNAKE code: a mediator code below, or the handler's own business code. */
  readonly code: string;
  readonly message: string;
  /** Validation failures list every problem found (bounded by MAX_ISSUES). */
  readonly issues?: readonly Issue[];
}

export type Result<T> = Ok<T> | Failure;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

export function fail(code: string, message: string, issues?: readonly Issue[]): Failure {
  // A malformed code from a user handler is not worth a crash: it becomes a HANDLER_ERROR.
  if (!CODE_PATTERN.test(code)) {
    return { ok: false, code: ErrorCodes.HANDLER_ERROR, message: `handler returned an invalid error code ${JSON.stringify(code)}: ${message}` };
  }
  return issues === undefined ? { ok: false, code, message } : { ok: false, code, message, issues };
}

/** Codes the mediator itself produces. Handlers add their own (e.g. CAS_MISMATCH). */
export const ErrorCodes = {
  INVALID_PAYLOAD: 'INVALID_PAYLOAD',
  INVALID_TYPE: 'INVALID_TYPE',
  INVALID_IDEMPOTENCY_KEY: 'INVALID_IDEMPOTENCY_KEY',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  EMPTY_BATCH: 'EMPTY_BATCH',
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  UNKNOWN_QUERY: 'UNKNOWN_QUERY',
  NOT_FOUND: 'NOT_FOUND',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  ENTRY_TOO_LARGE: 'ENTRY_TOO_LARGE',
  HANDLER_ERROR: 'HANDLER_ERROR',
  QUERY_TIMEOUT: 'QUERY_TIMEOUT',
  INVALID_ENTRY: 'INVALID_ENTRY',
  EVENTS_COMPACTED: 'EVENTS_COMPACTED',
  STATE_QUOTA_EXCEEDED: 'STATE_QUOTA_EXCEEDED',
  FORBIDDEN: 'FORBIDDEN',
} as const;

const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  INVALID_PAYLOAD: 400,
  FORBIDDEN: 403,
  INVALID_TYPE: 400,
  INVALID_IDEMPOTENCY_KEY: 400,
  IDEMPOTENCY_KEY_REUSED: 422,
  EMPTY_BATCH: 400,
  UNKNOWN_COMMAND: 404,
  UNKNOWN_QUERY: 404,
  NOT_FOUND: 404,
  BATCH_TOO_LARGE: 413,
  ENTRY_TOO_LARGE: 413,
  // A handler that throws is the entry's deterministic result; the contract's 409 ("the handler
  // refused") carries it, with code HANDLER_ERROR, so a client never mistakes it for a transient fault.
  HANDLER_ERROR: 409,
  QUERY_TIMEOUT: 503,
  INVALID_ENTRY: 500,
  EVENTS_COMPACTED: 410,
  // WebDAV's Insufficient Storage: the command was valid, the cluster's state is full.
  STATE_QUOTA_EXCEEDED: 507,
};

/** HTTP status for a failure code: mediator codes per the table, any other (business) code → 409. */
export function httpStatusFor(code: string): number {
  return STATUS_BY_CODE[code] ?? 409;
}

/**
 * HTTP status of a command refused while it was applied: 409, "the handler refused", whatever code
 * the handler chose, except the refusals the mediator itself decides there: a reused idempotency
 * key (422) and a full state quota (507).
 */
export function commandRefusalStatus(code: string): number {
  return code === ErrorCodes.IDEMPOTENCY_KEY_REUSED || code === ErrorCodes.STATE_QUOTA_EXCEEDED ? httpStatusFor(code) : 409;
}

/** HTTP status of a refused query: nothing found (404) and out of time (503) keep theirs; any other code is the handler's, 409. */
export function queryRefusalStatus(code: string): number {
  return code === ErrorCodes.NOT_FOUND || code === ErrorCodes.QUERY_TIMEOUT ? httpStatusFor(code) : 409;
}
