// Every bound of the peer transport, named, with its default. All are per peer unless noted;
// `createPeerTransport` takes any subset to override.

export interface TransportLimits {
  /** Records (Raft messages + requests) queued or handed to the socket but not yet written. */
  readonly maxQueuedMessages: number;
  /**
   * Bytes of those records up to `maxBatchBytes` each. Larger records (snapshots, big appends)
   * have their own budget of `maxFrameBytes`: the worst case per peer is the sum of the two.
   */
  readonly maxQueuedBytes: number;
  /** Largest WebSocket message sent or accepted; also the largest single record (a snapshot). */
  readonly maxFrameBytes: number;
  /** Coalescing: most bytes / records put into one WebSocket message. 1 record = no coalescing. */
  readonly maxBatchBytes: number;
  readonly maxBatchRecords: number;
  /** Requests awaiting an answer from one peer; the same bound applies to requests served per connection. */
  readonly maxOutstandingRequests: number;
  /**
   * Bytes a connection may read before its handshake completes (both directions: the listener
   * counts what a dialer sends, the dialer what a listener sends); past it the socket is cut at
   * once. Must hold the largest HELLO (three 1 KiB strings) and AUTH with their framing.
   */
  readonly maxPreAuthBytes: number;
  /** A connection that has not finished the handshake in this time is closed. */
  readonly handshakeTimeoutMs: number;
  /** Unauthenticated inbound connections at once (all peers together). */
  readonly maxPendingHandshakes: number;
  /** A ping goes out this often on every connection; no pong by the next ping closes it. */
  readonly pingIntervalMs: number;
  /** Reconnect backoff: first delay and cap (each delay is jittered to [delay/2, delay]). */
  readonly reconnectBaseMs: number;
  readonly reconnectMaxMs: number;
  /** On close(), connections get this long to finish the WebSocket closing handshake. */
  readonly closeGraceMs: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  maxQueuedMessages: 8192,
  maxQueuedBytes: 16 * 1024 * 1024,
  maxFrameBytes: 64 * 1024 * 1024,
  maxPreAuthBytes: 8 * 1024,
  maxBatchBytes: 256 * 1024,
  maxBatchRecords: 1024,
  maxOutstandingRequests: 1024,
  handshakeTimeoutMs: 5_000,
  maxPendingHandshakes: 64,
  pingIntervalMs: 2_000,
  reconnectBaseMs: 50,
  reconnectMaxMs: 3_000,
  closeGraceMs: 500,
};

/** The largest handshake a dialer sends (HELLO with three 1 KiB strings, then AUTH) with framing. */
export const MIN_PRE_AUTH_BYTES = 4 * 1024;

export function resolveLimits(overrides: Partial<TransportLimits> | undefined): TransportLimits {
  const limits: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (!(name in DEFAULT_LIMITS)) throw new RangeError(`unknown transport limit ${name}`);
    if (value !== undefined) limits[name] = value;
  }
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`transport limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  const resolved = limits as unknown as TransportLimits;
  if (resolved.reconnectMaxMs < resolved.reconnectBaseMs) throw new RangeError('reconnectMaxMs must be >= reconnectBaseMs');
  if (resolved.maxPreAuthBytes < MIN_PRE_AUTH_BYTES) throw new RangeError(`maxPreAuthBytes must be >= ${MIN_PRE_AUTH_BYTES}`);
  if (resolved.maxBatchBytes > resolved.maxFrameBytes) throw new RangeError('maxBatchBytes must be <= maxFrameBytes');
  return resolved;
}
