// Coded errors of the peer transport: what a caller of `request()` or of the codec can get back.
// Every error carries a stable UPPER_SNAKE `code`; callers branch on the code, never the message.
import type { NodeId } from '../raft/types.js';

/** A frame that is truncated, oversized, carries an unknown tag or an out-of-range value. */
export class CodecError extends Error {
  readonly code = 'BAD_FRAME' as const;
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

export type PeerErrorCode =
  /** No answer within the caller's timeout (the request may still have been handled). */
  | 'PEER_TIMEOUT'
  /** Not sent: no connection to the peer, or not a known peer (safe to retry elsewhere). */
  | 'PEER_UNAVAILABLE'
  /** The connection dropped after the request was sent: the remote side may have acted on it. */
  | 'PEER_LOST'
  /** Too many outstanding requests to that peer, or its send queue is full. */
  | 'PEER_OVERLOADED'
  /** The request does not fit in one frame (`maxFrameBytes`). */
  | 'PAYLOAD_TOO_LARGE'
  /** The peer has no handler for that request kind. */
  | 'UNKNOWN_REQUEST_KIND'
  /** The peer's handler failed without a code of its own. */
  | 'PEER_HANDLER_FAILED';

/**
 * The rejection of a `request()`. `remote` is true when the code came from the peer's handler
 * (then `code` is whatever UPPER_SNAKE code that handler's error carried).
 */
export class PeerError extends Error {
  constructor(
    readonly code: PeerErrorCode | string,
    message: string,
    readonly peer: NodeId,
    readonly remote = false,
  ) {
    super(message);
    this.name = 'PeerError';
  }
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** The code to send back for a failed request handler: its own code when it has a stable one. */
export function errorCodeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && UPPER_SNAKE.test(code) ? code : 'PEER_HANDLER_FAILED';
}
