// Capped exponential backoff with jitter, shared by peer reconnects and DNS discovery retries.

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * Delay before retry number `attempt` (0 for the first retry): base·2^attempt capped at max, then
 * jittered uniformly into [d/2, d] so that peers that failed together do not retry together.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
