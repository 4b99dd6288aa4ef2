// The reconcile loop's limits in one table: how often a cluster is looked at, how long a pod is
// asked, how far behind a member may be and still count as caught up, how long a pod may run
// outside the membership before the operator adds it.
export const RECONCILE_LIMITS = {
  /** A cluster is re-examined this often while it exists: the leader label follows within about this. */
  resyncMs: 1_000,
  /** Bound of one `GET /v1/cluster` poll of a pod during a pass. */
  pollTimeoutMs: 1_500,
  /** A member is caught up when its matchIndex is at most this many entries behind the commit index. */
  caughtUpLag: 50,
  /** A running pod absent from the membership this long is added as a learner by the operator. */
  joinGraceMs: 10_000,
} as const;
