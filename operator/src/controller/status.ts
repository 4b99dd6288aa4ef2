// The CatgaCluster status computed from the observation and the plan: counts, the leader's view,
// Available/Progressing/Degraded conditions in metav1.Condition form, and the backup and restore
// progress (status.lastBackup with a BackupSucceeded condition, status.restore). Pure; a condition
// keeps its lastTransitionTime while its status does not change.
import type { CatgaClusterStatus, Condition, ConditionStatus, ConditionType, LastBackupStatus, MemberStatus } from '../api/types.js';
import { majority, type Observed, type Plan } from './plan.js';

/** Upper bound of members copied into status (the CRD's maxItems). */
export const MAX_STATUS_MEMBERS = 32;

function condition(previous: readonly Condition[] | undefined, type: ConditionType, status: ConditionStatus,
  reason: string, message: string, generation: number, nowIso: string): Condition {
  const old = previous?.find((c) => c.type === type);
  const lastTransitionTime = old !== undefined && old.status === status ? old.lastTransitionTime : nowIso;
  return { type, status, observedGeneration: generation, lastTransitionTime, reason, message };
}

/** What the backup Jobs of a cluster with spec.backup show. */
export interface BackupObservation {
  /** The newest succeeded backup, read from its Job (null: none seen, or the same as the previous status's). */
  readonly succeeded: LastBackupStatus | null;
  /** The newest failed backup Job: its name and when it failed. */
  readonly failed: { readonly job: string; readonly time: string } | null;
}

export interface StatusInput {
  readonly previous: CatgaClusterStatus | undefined;
  readonly observed: Observed;
  readonly plan: Plan;
  readonly generation: number;
  readonly selector: string;
  readonly bootstrapExpect: number;
  readonly nowIso: string;
  /** spec.bootstrap.fromBackup's backup (its location), or null. */
  readonly restoreFrom: string | null;
  /** The backup Jobs, or null without spec.backup. */
  readonly backup: BackupObservation | null;
}

function backupCondition(prev: readonly Condition[] | undefined, last: LastBackupStatus | undefined, backup: BackupObservation,
  generation: number, nowIso: string): Condition {
  const { failed } = backup;
  if (failed !== null && (last === undefined || failed.time > last.time)) {
    return condition(prev, 'BackupSucceeded', 'False', 'BackupFailed', `backup Job ${failed.job} failed at ${failed.time} (its pod's log says why)`, generation, nowIso);
  }
  if (last !== undefined) return condition(prev, 'BackupSucceeded', 'True', 'BackupSucceeded', `${last.name} at index ${last.index}, ${last.time}`, generation, nowIso);
  return condition(prev, 'BackupSucceeded', 'Unknown', 'NoBackupYet', 'no backup Job has finished yet', generation, nowIso);
}

export function buildStatus(input: StatusInput): CatgaClusterStatus {
  const { previous, observed, plan, generation, nowIso } = input;
  const leader = plan.leader;
  const readyNames = new Set(observed.pods.filter((p) => p.ready && !p.terminating).map((p) => p.name));
  const members: MemberStatus[] = (leader?.view.members ?? []).slice(0, MAX_STATUS_MEMBERS).map((m) => ({
    id: m.id, address: m.address, voter: m.voter, matchIndex: m.matchIndex, healthy: m.healthy,
  }));
  const voters = members.filter((m) => m.voter);
  const readyVoters = voters.filter((m) => readyNames.has(m.id)).length;
  const available = leader !== null && voters.length > 0 && readyVoters >= majority(voters.length);
  const prev = previous?.conditions;
  const conditions: Condition[] = [
    available
      ? condition(prev, 'Available', 'True', 'QuorumReady', `${readyVoters} of ${voters.length} voters ready, leader ${leader.view.id}`, generation, nowIso)
      : condition(prev, 'Available', 'False', leader === null ? 'NoLeader' : 'QuorumLost',
        leader === null ? 'no node reports a leader' : `${readyVoters} of ${voters.length} voters ready`, generation, nowIso),
    plan.progressing !== null
      ? condition(prev, 'Progressing', 'True', plan.progressing.reason, plan.progressing.message, generation, nowIso)
      : condition(prev, 'Progressing', 'False', 'Reconciled', 'the cluster matches its spec', generation, nowIso),
    plan.degraded !== null
      ? condition(prev, 'Degraded', 'True', plan.degraded.reason, plan.degraded.message, generation, nowIso)
      : condition(prev, 'Degraded', 'False', 'AsExpected', 'every member is healthy', generation, nowIso),
  ];
  const status: CatgaClusterStatus = {
    observedGeneration: generation,
    phase: plan.phase,
    replicas: observed.pods.filter((p) => !p.terminating).length,
    readyReplicas: readyNames.size,
    selector: input.selector,
    bootstrapExpect: input.bootstrapExpect,
    members,
    conditions,
  };
  const lastBackup = input.backup?.succeeded ?? previous?.lastBackup;
  if (lastBackup !== undefined) status.lastBackup = lastBackup;
  if (input.backup !== null) conditions.push(backupCondition(prev, lastBackup, input.backup, generation, nowIso));
  if (input.restoreFrom !== null) {
    // Done once the restored cluster first has a quorum; from then on the members never restore again.
    const completedTime = previous?.restore?.completedTime ?? (available ? nowIso : undefined);
    status.restore = { backup: input.restoreFrom, ...(completedTime === undefined ? {} : { completedTime }) };
  }
  if (leader !== null) {
    status.leader = leader.view.id;
    status.term = leader.view.term;
    status.commitIndex = leader.view.commitIndex;
  }
  return status;
}
