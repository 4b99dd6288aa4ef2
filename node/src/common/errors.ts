// Coded errors that cross the runtime: each has a stable UPPER_SNAKE code and the HTTP status a
// client sees for it (docs/api.md#errors), so the server maps errors without guessing.
import type { RaftError } from '../raft/types.js';

/** An error whose stable `code` is one of the union `C`: a module's own error type, mapped by its callers by code. */
export class CodedError<C extends string> extends Error {
  constructor(
    readonly code: C,
    message: string,
  ) {
    super(message);
  }
}

export class CatgaError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    /** Leader hint for NOT_LEADER, when known. */
    readonly leader: string | null = null,
  ) {
    super(message);
    this.name = 'CatgaError';
  }

  /** Raft refusals: which a client should retry (503), which are its own fault (4xx). */
  static fromRaft(e: RaftError): CatgaError {
    switch (e.code) {
      case 'NOT_LEADER':
      case 'NO_LEADER':
      case 'TRANSFER_IN_PROGRESS':
        return new CatgaError(e.code, e.message, 503, e.leader);
      case 'UNCOMMITTED_LIMIT':
      case 'READ_INDEX_LIMIT':
        return new CatgaError('OVERLOADED', e.message, 429, e.leader);
      case 'CONF_CHANGE_PENDING':
        return new CatgaError(e.code, e.message, 409, e.leader);
      case 'INVALID_CONF_CHANGE':
      case 'INVALID_TRANSFER_TARGET':
      case 'INVALID_MESSAGE':
      case 'STALE_INCARNATION':
        return new CatgaError(e.code, e.message, 400, e.leader);
    }
  }

  /** Whether trying again (on another node, or after a leader change) may succeed. */
  get retryable(): boolean {
    return this.status === 503;
  }
}

export function asCatgaError(err: unknown): CatgaError {
  if (err instanceof CatgaError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'PEER_TIMEOUT' || code === 'PEER_UNAVAILABLE' || code === 'PEER_LOST' || code === 'PEER_OVERLOADED') return new CatgaError(code, message, 503);
  return new CatgaError('INTERNAL', message, 500);
}
