// Which member a backup streams from when the caller prefers a follower (`catga backup
// --prefer-follower`): a healthy follower whose applied index is close to the leader's commit,
// else the leader, with the reason each follower was passed over. Also where a member's API is,
// from its advertised peer address. Pure: the caller fetches the views.

/** A follower more than this many entries behind the leader's commit index is passed over. */
export const MAX_SOURCE_LAG_ENTRIES = 1_000;

/** What the choice reads of the leader's `GET /v1/cluster`. */
export interface LeaderView {
  readonly id: string;
  readonly commitIndex: number;
  readonly members: readonly { readonly id: string; readonly address: string; readonly healthy: boolean }[];
}

/** A follower's own `GET /v1/cluster` answer (its applied index), or null when it did not answer. */
export type FollowerProbe = { readonly appliedIndex: number } | null;

export interface SourceChoice {
  readonly id: string;
  readonly role: 'follower' | 'leader';
  /** Why no follower was taken (null when one was). */
  readonly fallback: string | null;
}

/** The caught-up follower with the highest applied index (ties: the smallest id), else the leader. */
export function chooseBackupSource(leader: LeaderView, probes: ReadonlyMap<string, FollowerProbe>, maxLag = MAX_SOURCE_LAG_ENTRIES): SourceChoice {
  const skipped: string[] = [];
  let best: { id: string; applied: number } | null = null;
  const followers = leader.members.filter((m) => m.id !== leader.id).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const m of followers) {
    const probe = probes.get(m.id) ?? null;
    if (!m.healthy) { skipped.push(`${m.id}: not in contact with the leader`); continue; }
    if (probe === null) { skipped.push(`${m.id}: did not answer`); continue; }
    const lag = leader.commitIndex - probe.appliedIndex;
    if (lag > maxLag) { skipped.push(`${m.id}: ${lag} entries behind (limit ${maxLag})`); continue; }
    if (best === null || probe.appliedIndex > best.applied) best = { id: m.id, applied: probe.appliedIndex };
  }
  if (best !== null) return { id: best.id, role: 'follower', fallback: null };
  return { id: leader.id, role: 'leader', fallback: followers.length === 0 ? 'the cluster has no follower' : `no follower qualifies (${skipped.join('; ')})` };
}

/**
 * The API URL of the member advertising peer address `peerAddress` (host:port): its host, with the
 * scheme and port of `entry` (every member serves its API on the same port, as in Kubernetes,
 * where the peer address is the pod's name under the headless Service).
 */
export function memberApiUrl(entry: URL, peerAddress: string): string {
  const colon = peerAddress.lastIndexOf(':');
  const host = colon <= 0 ? '' : peerAddress.slice(0, colon);
  if (host === '' || !/^\d{1,5}$/.test(peerAddress.slice(colon + 1))) throw new Error(`member address ${JSON.stringify(peerAddress)} is not host:port`);
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${entry.protocol}//${bracketed}${entry.port === '' ? '' : `:${entry.port}`}`;
}
