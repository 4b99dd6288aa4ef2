// Invariant checks for the Raft core. They stay on in production: a broken invariant means the
// core's state can no longer be trusted, so it stops the process instead of corrupting a log.

export class RaftInvariantError extends Error {
  readonly code = 'RAFT_INVARIANT';
}

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}
