// The reconciler's decisions as a pure function: from what is observed (StatefulSet, pods, each
// pod's view of the Raft cluster) to the ONE next action. One membership change or pod deletion
// per pass keeps every step quorum-safe and lets a restarted operator resume from what it sees.
// spec.replicas is the only source of truth for size: a missing or crash-looping pod never
// changes membership.
import type { Phase } from '../api/types.js';
import { ordinalOf, podName } from '../specs/names.js';
import type { ClusterMember, ClusterView } from './admin-client.js';
import { RECONCILE_LIMITS } from './limits.js';

export interface PodView {
  readonly name: string;
  readonly ordinal: number;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly crashLooping: boolean;
  /** controller-revision-hash label. */
  readonly revision: string | undefined;
  /** http://host:port of the node's API, null while the pod has no IP. */
  readonly endpoint: string | null;
  /** host:port of the node's peer listener, null while the pod has no IP. */
  readonly peerAddress: string | null;
  /** When its container last started running (ms since epoch), null when not running. */
  readonly runningSinceMs: number | null;
  /** The node's own `GET /v1/cluster` answer, null when unreachable. */
  readonly view: ClusterView | null;
}

export interface Observed {
  readonly clusterName: string;
  readonly desiredReplicas: number;
  readonly statefulSetReplicas: number;
  readonly updateRevision: string | undefined;
  /** Pods of the cluster, any order. */
  readonly pods: readonly PodView[];
  /** Ordinals of the data PVCs that exist. */
  readonly pvcOrdinals: readonly number[];
  readonly everAvailable: boolean;
  readonly nowMs: number;
}

export type Action =
  | { readonly kind: 'none' }
  | { readonly kind: 'scaleStatefulSet'; readonly replicas: number; readonly reason: 'ScaleUp' | 'ScaleDown' }
  | { readonly kind: 'transferLeadership'; readonly endpoint: string; readonly from: string; readonly to: string }
  | { readonly kind: 'removeMember'; readonly endpoint: string; readonly id: string }
  | { readonly kind: 'addLearner'; readonly endpoint: string; readonly id: string; readonly address: string }
  | { readonly kind: 'promote'; readonly endpoint: string; readonly id: string; readonly address: string }
  /** The pod came back on an empty volume: its former incarnation leaves the voters, the new one enters as a learner. */
  | { readonly kind: 'replaceMember'; readonly endpoint: string; readonly id: string; readonly address: string; readonly incarnation: string; readonly former: string }
  | { readonly kind: 'deletePvc'; readonly ordinal: number }
  | { readonly kind: 'deletePod'; readonly name: string; readonly revision: string | undefined };

export interface Note {
  readonly reason: string;
  readonly message: string;
}

export interface Plan {
  readonly action: Action;
  readonly phase: Phase;
  /** Why the cluster is not at rest (set whenever action is not none or something is awaited). */
  readonly progressing: Note | null;
  /** Why the operator is holding back to protect quorum, or why the cluster is unhealthy. */
  readonly degraded: Note | null;
  /** The Raft leader as the nodes report it. */
  readonly leader: { readonly pod: PodView; readonly view: ClusterView } | null;
}

const NONE: Action = { kind: 'none' };

export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** The node that reports itself leader in the highest term. */
export function findLeader(pods: readonly PodView[]): { pod: PodView; view: ClusterView } | null {
  let best: { pod: PodView; view: ClusterView } | null = null;
  for (const pod of pods) {
    const view = pod.view;
    if (view === null || view.role !== 'leader' || pod.endpoint === null) continue;
    if (best === null || view.term > best.view.term) best = { pod, view };
  }
  return best;
}

class Situation {
  readonly byName = new Map<string, PodView>();
  readonly members: readonly ClusterMember[];
  readonly commitIndex: number;

  constructor(readonly o: Observed, readonly leader: { pod: PodView; view: ClusterView }) {
    for (const pod of o.pods) this.byName.set(pod.name, pod);
    this.members = leader.view.members;
    this.commitIndex = leader.view.commitIndex;
  }

  member(id: string): ClusterMember | undefined {
    return this.members.find((m) => m.id === id);
  }

  caughtUp(m: ClusterMember): boolean {
    return m.id === this.leader.view.id || m.matchIndex + RECONCILE_LIMITS.caughtUpLag >= this.commitIndex;
  }

  podReady(id: string): boolean {
    const pod = this.byName.get(id);
    return pod?.ready === true && !pod.terminating;
  }

  healthy(m: ClusterMember): boolean {
    return m.healthy && this.podReady(m.id);
  }

  /** The pod names of ordinals 0 .. spec.replicas - 1. */
  desiredIds(): string[] {
    return Array.from({ length: this.o.desiredReplicas }, (_, i) => podName(this.o.clusterName, i));
  }

  voters(): ClusterMember[] {
    return this.members.filter((m) => m.voter);
  }

  /** A ready, caught-up voter other than `exclude` to hand leadership to; prefers `preferred`, then the lowest ordinal. */
  transferTarget(exclude: string, preferred: (m: ClusterMember) => boolean = () => true): ClusterMember | undefined {
    const candidates = this.voters().filter((m) => m.id !== exclude && this.healthy(m) && this.caughtUp(m));
    return candidates.find(preferred) ?? candidates[0];
  }

  /** Healthy voters left when `down` is removed or stopped still form a majority of the remaining voters. */
  quorumSurvives(down: string, removed: boolean): boolean {
    const voters = this.voters();
    const remaining = removed ? voters.filter((m) => m.id !== down) : voters;
    const healthy = remaining.filter((m) => m.id !== down && this.healthy(m)).length;
    return remaining.length > 0 && healthy >= majority(remaining.length);
  }
}

function plan(action: Action, phase: Phase, leader: Plan['leader'], progressing: Note | null, degraded: Note | null = null): Plan {
  return { action, phase, progressing, degraded, leader };
}

/** Step toward removing member `id` (the highest ordinal being scaled away). */
function planRemoval(s: Situation, id: string, phase: Phase): Plan {
  const leaderId = s.leader.view.id;
  const endpoint = s.leader.pod.endpoint!;
  if (leaderId === id) {
    const to = s.transferTarget(id);
    if (to === undefined) {
      return plan(NONE, 'Degraded', s.leader, { reason: 'ScaleDown', message: `waiting to move leadership off ${id}` },
        { reason: 'NoTransferTarget', message: `no ready, caught-up voter can take leadership from ${id}` });
    }
    return plan({ kind: 'transferLeadership', endpoint, from: id, to: to.id }, phase, s.leader, { reason: 'ScaleDown', message: `moving leadership from ${id} to ${to.id} before removing it` });
  }
  if (!s.quorumSurvives(id, true)) {
    return plan(NONE, 'Degraded', s.leader, { reason: 'ScaleDown', message: `removal of ${id} paused` },
      { reason: 'QuorumAtRisk', message: `removing ${id} now would leave fewer healthy voters than a majority` });
  }
  return plan({ kind: 'removeMember', endpoint, id }, phase, s.leader, { reason: 'ScaleDown', message: `removing ${id} from the Raft configuration` });
}

/** Join and promote: pods of the desired ordinals (`live`, lowest first) that are not voters yet; null once all are. */
function planJoins(s: Situation, live: readonly PodView[]): Plan | null {
  const { o, leader } = s;
  for (const pod of live) {
    const member = s.member(pod.name);
    const runsAs = pod.view?.incarnation ?? null;
    if (member !== undefined && member.incarnation !== null && runsAs !== null && runsAs !== member.incarnation && !pod.terminating && pod.peerAddress !== null) {
      return plan({ kind: 'replaceMember', endpoint: leader.pod.endpoint!, id: pod.name, address: pod.peerAddress, incarnation: runsAs, former: member.incarnation }, 'Scaling', leader,
        { reason: 'VolumeReplaced', message: `${pod.name} came back on an empty volume (incarnation ${runsAs}, the cluster knows ${member.incarnation}): replacing its former incarnation` });
    }
    if (member === undefined) {
      const startedLongAgo = pod.runningSinceMs !== null && o.nowMs - pod.runningSinceMs >= RECONCILE_LIMITS.joinGraceMs;
      if (startedLongAgo && !pod.terminating && pod.peerAddress !== null) {
        return plan({ kind: 'addLearner', endpoint: leader.pod.endpoint!, id: pod.name, address: pod.peerAddress }, 'Scaling', leader,
          { reason: 'ScaleUp', message: `adding ${pod.name} as a learner` });
      }
      continue;
    }
    if (!member.voter && s.caughtUp(member) && s.podReady(pod.name)) {
      return plan({ kind: 'promote', endpoint: leader.pod.endpoint!, id: pod.name, address: member.address }, 'Scaling', leader,
        { reason: 'ScaleUp', message: `promoting caught-up learner ${pod.name} to voter` });
    }
  }
  const voterIds = new Set(s.voters().map((m) => m.id));
  const notVoters = s.desiredIds().filter((id) => !voterIds.has(id));
  if (notVoters.length > 0) {
    return plan(NONE, 'Scaling', leader, { reason: 'ScaleUp', message: `waiting for ${notVoters.join(', ')} to join and catch up` });
  }
  return null;
}

/** Rolling update: followers first, the leader last after a switchover, one pod at a time; null when no pod is outdated. */
function planRollingUpdate(s: Situation, live: readonly PodView[]): Plan | null {
  const { o, leader } = s;
  const outdated = o.updateRevision === undefined ? [] : live.filter((p) => p.revision !== o.updateRevision);
  if (outdated.length === 0) return null;
  const blocking = s.desiredIds().find((id) => !s.podReady(id) || !s.caughtUp(s.member(id)!));
  if (blocking !== undefined) {
    const waiting: Note = { reason: 'RollingUpdate', message: `waiting for ${blocking} to be ready and caught up` };
    // A pod this roll restarted is expected to be down for a while; any other unready pod means
    // one more restart could cost the quorum.
    const restartedByRoll = s.byName.get(blocking)?.revision === o.updateRevision;
    const healthyVoters = s.voters().filter((m) => s.healthy(m)).length;
    if (!restartedByRoll && healthyVoters - 1 < majority(s.voters().length)) {
      return plan(NONE, 'Degraded', leader, waiting,
        { reason: 'QuorumAtRisk', message: `${blocking} is not ready; restarting another pod now would leave fewer healthy voters than a majority` });
    }
    return plan(NONE, 'Upgrading', leader, waiting);
  }
  const follower = outdated.filter((p) => p.name !== leader.view.id).sort((a, b) => b.ordinal - a.ordinal)[0];
  const victim = follower ?? leader.pod;
  if (!s.quorumSurvives(victim.name, false)) {
    return plan(NONE, 'Degraded', leader, { reason: 'RollingUpdate', message: 'rolling update paused' },
      { reason: 'QuorumAtRisk', message: `restarting ${victim.name} now would leave fewer healthy voters than a majority` });
  }
  if (follower !== undefined) {
    return plan({ kind: 'deletePod', name: follower.name, revision: follower.revision }, 'Upgrading', leader,
      { reason: 'RollingUpdate', message: `restarting ${follower.name} on revision ${o.updateRevision}` });
  }
  const updated = new Set(live.filter((p) => p.revision === o.updateRevision).map((p) => p.name));
  const to = s.transferTarget(leader.view.id, (m) => updated.has(m.id));
  if (to === undefined) {
    return plan(NONE, 'Degraded', leader, { reason: 'RollingUpdate', message: `waiting to move leadership off ${leader.view.id}` },
      { reason: 'NoTransferTarget', message: `no ready, caught-up voter can take leadership from ${leader.view.id}` });
  }
  return plan({ kind: 'transferLeadership', endpoint: leader.pod.endpoint!, from: leader.view.id, to: to.id }, 'Upgrading', leader,
    { reason: 'RollingUpdate', message: `switching leadership from ${leader.view.id} to ${to.id} before restarting it` });
}

/** Nothing to do: Available when every desired pod exists and is ready, Degraded naming the ones that are not. */
function planAtRest(s: Situation, live: readonly PodView[]): Plan {
  const unready = live.filter((p) => !p.ready).map((p) => p.name);
  const missing = s.desiredIds().filter((id) => !s.byName.has(id));
  if (unready.length + missing.length > 0) {
    return plan(NONE, 'Degraded', s.leader, null, { reason: 'MembersUnavailable', message: `not ready: ${[...missing, ...unready].join(', ')}` });
  }
  return plan(NONE, 'Available', s.leader, null);
}

export function planReconcile(o: Observed): Plan {
  const leader = findLeader(o.pods);
  const desired = o.desiredReplicas;
  if (desired > o.statefulSetReplicas) {
    return plan({ kind: 'scaleStatefulSet', replicas: desired, reason: 'ScaleUp' }, 'Scaling', leader,
      { reason: 'ScaleUp', message: `growing the StatefulSet from ${o.statefulSetReplicas} to ${desired}` });
  }
  const podOrdinals = new Set(o.pods.map((p) => p.ordinal));
  const stalePvc = o.pvcOrdinals.filter((n) => n >= o.statefulSetReplicas && !podOrdinals.has(n)).sort((a, b) => b - a)[0];
  if (stalePvc !== undefined) {
    return plan({ kind: 'deletePvc', ordinal: stalePvc }, 'Scaling', leader, { reason: 'ScaleDown', message: `deleting the volume of removed ordinal ${stalePvc}` });
  }
  if (leader === null) {
    const phase: Phase = o.everAvailable ? 'Degraded' : 'Creating';
    return plan(NONE, phase, null, { reason: 'WaitingForLeader', message: 'no node reports a leader yet' },
      o.everAvailable ? { reason: 'NoLeader', message: 'no node reports a leader' } : null);
  }
  const s = new Situation(o, leader);

  // Scale down, highest ordinal first: out of Raft, then out of the StatefulSet.
  if (desired < o.statefulSetReplicas) {
    const top = o.statefulSetReplicas - 1;
    const id = podName(o.clusterName, top);
    if (s.member(id) !== undefined) return planRemoval(s, id, 'Scaling');
    return plan({ kind: 'scaleStatefulSet', replicas: top, reason: 'ScaleDown' }, 'Scaling', leader,
      { reason: 'ScaleDown', message: `${id} left the Raft configuration; shrinking the StatefulSet to ${top}` });
  }
  // Members beyond spec.replicas (left over by an interrupted scale-down) are removed the same way.
  const extra = s.members.map((m) => ({ m, ordinal: ordinalOf(o.clusterName, m.id) }))
    .filter(({ ordinal }) => ordinal >= desired)
    .sort((a, b) => b.ordinal - a.ordinal)[0];
  if (extra !== undefined) return planRemoval(s, extra.m.id, 'Scaling');

  // Then join and promote, then roll, then report what is not ready.
  const live = o.pods.filter((p) => p.ordinal < desired).sort((a, b) => a.ordinal - b.ordinal);
  return planJoins(s, live) ?? planRollingUpdate(s, live) ?? planAtRest(s, live);
}
