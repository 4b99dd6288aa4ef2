// One reconcile pass of a CatgaCluster, level-triggered and idempotent: ensure the owned objects,
// observe pods and each node's view of Raft, move the leader label, take the ONE next step the
// planner chooses (with an Event), and write the status. Every pass starts from what it sees, so
// a restarted operator resumes wherever the last one stopped.
import type { V1Pod, V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import type { CatgaCluster, CatgaClusterStatus } from '../api/types.js';
import { resolveSpec, type ResolvedSpec } from '../api/defaults.js';
import type { CrashHook } from '../machinery/crash.js';
import type { Logger } from '../machinery/log.js';
import type { OperatorMetrics } from '../machinery/metrics.js';
import {
  type ClusterRef, CONTAINER_NAME, ENV_BOOTSTRAP_EXPECT, LABEL_ROLE, ROLE_LEADER, clusterRef, generatedSecretName, ordinalOf, pvcName, selectorString,
} from '../specs/names.js';
import { backupCronJob, backupCronJobName, finishedTime, LABEL_BACKUP_OF, lastBackupOf, latestFinished, storeLocation } from '../specs/backup.js';
import { networkPolicy, networkPolicyPatch } from '../specs/network-policy.js';
import { podDisruptionBudget } from '../specs/pdb.js';
import { adminTokenSource, generatedSecret, needsGeneratedSecret, randomCredentials } from '../specs/secret.js';
import { LABEL_REFERABLE, refusedSecretReferences, secretReferences } from '../specs/secret-references.js';
import { clientService, headlessService, leaderService } from '../specs/services.js';
import { statefulSet } from '../specs/statefulset.js';
import type { TlsMode } from '../specs/tls.js';
import type { AdminTls, ClusterView, NodeAdmin } from './admin-client.js';
import { ensureObject } from './ensure.js';
import { RECONCILE_LIMITS } from './limits.js';
import type { EventRecorder } from './events.js';
import type { KubeClient } from './kube.js';
import { podView, type PeerAddressMode } from './observe.js';
import { planReconcile, type Action, type Observed, type Plan, type PodView } from './plan.js';
import { buildStatus, type BackupObservation } from './status.js';
import { ClusterTls, type TlsOutcome } from './tls.js';

export interface ReconcilerDeps {
  readonly kube: KubeClient;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly metrics: OperatorMetrics;
  readonly crash: CrashHook;
  /** The admin API client for a cluster whose admin token is `token` and whose nodes are trusted by `tls` over HTTPS. */
  readonly admin: (token: string | undefined, tls: AdminTls | null, timeoutMs?: number) => NodeAdmin;
  /** Pods of a cluster from the informer cache. */
  readonly pods: (namespace: string, clusterName: string) => V1Pod[];
  readonly peerAddressMode: PeerAddressMode;
  /** Each cluster gets a NetworkPolicy admitting admin calls from this namespace; null: none. */
  readonly networkPolicyFrom: string | null;
  readonly now: () => number;
}

function secretValue(secret: V1Secret | null, key: string): string | undefined {
  const data = secret?.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}

/** The initial size: recorded in status, else read back from the StatefulSet, else spec.replicas (creation). */
function bootstrapExpectOf(cluster: CatgaCluster, sts: V1StatefulSet | null, spec: ResolvedSpec): number {
  const recorded = cluster.status?.bootstrapExpect;
  if (recorded !== undefined && recorded >= 1) return recorded;
  const container = sts?.spec?.template.spec?.containers.find((c) => c.name === CONTAINER_NAME);
  const fromEnv = Number(container?.env?.find((e) => e.name === ENV_BOOTSTRAP_EXPECT)?.value);
  return Number.isInteger(fromEnv) && fromEnv >= 1 ? fromEnv : spec.replicas;
}

function stableJson(status: CatgaClusterStatus | undefined): string {
  return JSON.stringify(status ?? {});
}

export class Reconciler {
  private readonly tls: ClusterTls;

  constructor(private readonly deps: ReconcilerDeps) {
    this.tls = new ClusterTls(deps.kube, deps.events, deps.now);
  }

  /** One pass; returns when to look again (ms), or null when the cluster is gone. */
  async reconcile(namespace: string, name: string): Promise<number | null> {
    const { kube } = this.deps;
    const cluster = await kube.getCluster(namespace, name);
    if (cluster === null || cluster.metadata.deletionTimestamp !== undefined) {
      // A deleted cluster's backup series goes too, or CatgaBackupOverdue would fire for it.
      this.deps.metrics.backupLastSuccess.remove({ namespace, catga_cluster: name });
      return null;
    }
    const ref = clusterRef(cluster);
    const spec = resolveSpec(cluster.spec ?? {});
    const log = this.deps.log.child({ cluster: `${namespace}/${name}` });

    if (!(await this.secretReferencesAllowed(cluster, ref, spec))) return RECONCILE_LIMITS.resyncMs;
    const adminToken = await this.ensureSecret(cluster, ref, spec);
    await this.ensureServices(ref);
    await this.ensureNetworkPolicy(ref);
    const pods = this.deps.pods(namespace, name);
    const tls = await this.ensureTls(cluster, ref, spec, pods);
    const sts = await this.ensureStatefulSet(cluster, ref, spec, tls);
    const bootstrapExpect = bootstrapExpectOf(cluster, sts, spec);
    const backup = await this.ensureBackups(cluster, ref, spec, tls.mode);

    const observed = await this.observe(ref, spec, sts, pods, adminToken, tls.admin, cluster.status);
    const plan = planReconcile(observed);
    await this.ensurePdb(ref, spec, plan, observed);
    await this.syncLeaderLabel(cluster, pods, plan);
    if (plan.action.kind !== 'none') {
      log.info('action', { action: plan.action, phase: plan.phase });
      await this.execute(cluster, ref, plan.action, pods, adminToken, tls.admin, observed);
      this.deps.metrics.actions.inc({ action: plan.action.kind });
    }
    await this.writeStatus(cluster, spec, observed, plan, bootstrapExpect, backup);
    return RECONCILE_LIMITS.resyncMs;
  }

  /**
   * False (with a Warning event) when the spec references a Secret that did not opt in: nothing is
   * created or changed until the spec or the Secret is fixed (see specs/secret-references.ts).
   */
  private async secretReferencesAllowed(cluster: CatgaCluster, ref: ClusterRef, spec: ResolvedSpec): Promise<boolean> {
    const refs = secretReferences(spec);
    if (refs.length === 0) return true;
    const labels = new Map<string, Readonly<Record<string, string>> | null>();
    for (const r of refs) {
      if (!labels.has(r.secret)) labels.set(r.secret, (await this.deps.kube.getSecret(ref.namespace, r.secret))?.metadata?.labels ?? null);
    }
    const refused = refusedSecretReferences(ref.name, refs, (name) => labels.get(name) ?? null);
    if (refused.length === 0) return true;
    const message = `${refused.map((r) => `${r.field} names Secret ${r.secret}`).join('; ')}: a referenced Secret must carry the label ${LABEL_REFERABLE}="true" (set by its owner)`;
    this.deps.log.warn('secret reference refused', { cluster: `${ref.namespace}/${ref.name}`, message });
    await this.deps.events.record(cluster, 'Warning', 'SecretReferenceRefused', message);
    return false;
  }

  private async ensureSecret(cluster: CatgaCluster, ref: ClusterRef, spec: ResolvedSpec): Promise<string | undefined> {
    const { kube } = this.deps;
    if (needsGeneratedSecret(spec) && (await kube.getSecret(ref.namespace, generatedSecretName(ref.name))) === null) {
      await kube.createSecret(generatedSecret(ref, spec, randomCredentials()));
      await this.deps.events.record(cluster, 'Normal', 'SecretGenerated', `generated ${generatedSecretName(ref.name)} with the credentials the spec does not reference`);
    }
    const source = adminTokenSource(ref, spec);
    const token = secretValue(await kube.getSecret(ref.namespace, source.name), source.key);
    if (token === undefined) this.deps.log.warn('admin token secret missing', { secret: `${ref.namespace}/${source.name}`, key: source.key });
    return token;
  }

  /** Certificates before the StatefulSet: a new pod finds its own in the Secret it mounts. */
  private async ensureTls(cluster: CatgaCluster, ref: ClusterRef, spec: ResolvedSpec, pods: V1Pod[]): Promise<TlsOutcome> {
    const current = await this.deps.kube.owned('statefulSet', ref.namespace, ref.name).read();
    const highestPod = Math.max(-1, ...pods.map((p) => ordinalOf(ref.name, p.metadata?.name ?? '')));
    const members = Math.max(spec.replicas, current?.spec?.replicas ?? 0, highestPod + 1);
    return this.tls.ensure(cluster, ref, spec, current, members);
  }

  private async ensureServices(ref: ClusterRef): Promise<void> {
    const { kube } = this.deps;
    for (const svc of [headlessService(ref), clientService(ref), leaderService(ref)]) {
      const svcName = svc.metadata!.name!;
      await ensureObject(kube.owned('service', ref.namespace, svcName), svc, { spec: { selector: svc.spec!.selector, ports: svc.spec!.ports, publishNotReadyAddresses: svc.spec!.publishNotReadyAddresses ?? false } });
    }
  }

  private async ensureNetworkPolicy(ref: ClusterRef): Promise<void> {
    if (this.deps.networkPolicyFrom === null) return;
    const { kube } = this.deps;
    const desired = networkPolicy(ref, this.deps.networkPolicyFrom);
    const name = desired.metadata!.name!;
    await ensureObject(kube.owned('networkPolicy', ref.namespace, name), desired, networkPolicyPatch(desired));
  }

  private async ensureStatefulSet(cluster: CatgaCluster, ref: ClusterRef, spec: ResolvedSpec, tls: TlsOutcome): Promise<V1StatefulSet> {
    const { kube } = this.deps;
    const current = await kube.owned('statefulSet', ref.namespace, ref.name).read();
    const bootstrapExpect = bootstrapExpectOf(cluster, current, spec);
    const replicas = current?.spec?.replicas ?? spec.replicas;
    // spec.bootstrap.fromBackup: the members restore until the cluster first has a quorum, never after.
    const restoring = spec.bootstrap?.fromBackup !== undefined && cluster.status?.restore?.completedTime === undefined;
    const desired = statefulSet({ ref, spec, replicas, bootstrapExpect, restoring, tls: tls.mode });
    const { outcome, object } = await ensureObject({ ...kube.owned('statefulSet', ref.namespace, ref.name), read: async () => current }, desired, { spec: { template: desired.spec!.template, updateStrategy: desired.spec!.updateStrategy, persistentVolumeClaimRetentionPolicy: desired.spec!.persistentVolumeClaimRetentionPolicy } });
    if (outcome === 'created') await this.deps.events.record(cluster, 'Normal', 'Created', `created StatefulSet ${ref.name} with ${replicas} replicas`);
    if (outcome === 'created' && restoring) {
      const from = spec.bootstrap!.fromBackup!;
      await this.deps.events.record(cluster, 'Normal', 'RestoreStarted', `the members restore ${storeLocation(from.objectStore)}/${from.backupName} under cluster id ${ref.uid} before they start`);
    }
    if (outcome === 'patched') await this.deps.events.record(cluster, 'Normal', 'PodTemplateChanged', `updated the pod template of StatefulSet ${ref.name}; pods roll one at a time`);
    if (outcome !== 'unchanged' && tls.offBecause !== null) await this.deps.events.record(cluster, 'Warning', 'TlsDisabled', tls.offBecause);
    return object;
  }

  /**
   * spec.backup: the CronJob exists as specified (and is deleted once spec.backup is removed); returns what
   * its Jobs show, reading a succeeded Job's result only once (the status keeps it).
   */
  private async ensureBackups(cluster: CatgaCluster, ref: ClusterRef, spec: ResolvedSpec, tls: TlsMode): Promise<BackupObservation | null> {
    const { kube } = this.deps;
    const name = backupCronJobName(ref.name);
    if (spec.backup === undefined) {
      // spec.backup was removed: the status still has its condition until this pass writes it.
      if (cluster.status?.conditions?.some((c) => c.type === 'BackupSucceeded') === true) {
        await kube.deleteCronJob(ref.namespace, name);
        await this.deps.events.record(cluster, 'Normal', 'BackupUnscheduled', `deleted CronJob ${name}: the spec has no backup section; the backups taken stay where they are`);
      }
      return null;
    }
    const desired = backupCronJob(ref, { ...spec, backup: spec.backup }, tls);
    const { outcome } = await ensureObject(kube.owned('cronJob', ref.namespace, name), desired, { spec: desired.spec });
    if (outcome === 'created') await this.deps.events.record(cluster, 'Normal', 'BackupScheduled', `CronJob ${name} backs up to ${storeLocation(spec.backup.objectStore)} on "${spec.backup.schedule}"`);
    const jobs = await kube.listJobs(ref.namespace, `${LABEL_BACKUP_OF}=${ref.name}`);
    const { succeeded, failed } = latestFinished(jobs);
    const seen = cluster.status?.lastBackup?.job;
    let last = null;
    if (succeeded !== null && succeeded.metadata?.name !== seen) {
      const jobName = succeeded.metadata!.name!;
      last = lastBackupOf(succeeded, await kube.listPods(ref.namespace, `batch.kubernetes.io/job-name=${jobName}`));
      if (last === null) this.deps.log.warn('backup job without a readable result', { job: `${ref.namespace}/${jobName}` });
    }
    return { succeeded: last, failed: failed === null ? null : { job: failed.metadata?.name ?? '', time: finishedTime(failed) } };
  }

  private async observe(ref: ClusterRef, spec: ResolvedSpec, sts: V1StatefulSet, pods: V1Pod[], token: string | undefined, tls: AdminTls | null, status: CatgaClusterStatus | undefined): Promise<Observed> {
    const admin = this.deps.admin(token, tls, RECONCILE_LIMITS.pollTimeoutMs);
    const views = await Promise.all(pods.map(async (pod): Promise<PodView | null> => {
      const bare = podView(pod, ref, this.deps.peerAddressMode, null);
      if (bare === null || bare.endpoint === null) return bare;
      let view: ClusterView | null = null;
      try {
        view = await admin.getCluster(bare.endpoint);
      } catch (err) {
        this.deps.log.debug('pod poll failed', { pod: bare.name, error: (err as Error).message });
      }
      return { ...bare, view };
    }));
    const pvcs = await this.deps.kube.listPvcs(ref.namespace);
    const pvcOrdinals = pvcs.map((c) => c.metadata?.name ?? '').map((n) => {
      const ordinal = ordinalOf(`data-${ref.name}`, n);
      return ordinal >= 0 && n === pvcName(ref.name, ordinal) ? ordinal : -1;
    }).filter((n) => n >= 0);
    const generationSeen = sts.status?.observedGeneration !== undefined && sts.status.observedGeneration === sts.metadata?.generation;
    return {
      clusterName: ref.name,
      desiredReplicas: spec.replicas,
      statefulSetReplicas: sts.spec?.replicas ?? 0,
      updateRevision: generationSeen ? sts.status?.updateRevision : undefined,
      pods: views.filter((v): v is PodView => v !== null),
      pvcOrdinals,
      everAvailable: status?.conditions?.some((c) => c.type === 'Available' && c.status === 'True') === true || status?.leader !== undefined,
      nowMs: this.deps.now(),
    };
  }

  /** The PDB counts the voters there are now, never more than spec.replicas, so it never allows losing a majority. */
  private async ensurePdb(ref: ClusterRef, spec: ResolvedSpec, plan: Plan, observed: Observed): Promise<void> {
    const { kube } = this.deps;
    const voters = plan.leader?.view.members.filter((m) => m.voter).length ?? observed.statefulSetReplicas;
    const pdb = podDisruptionBudget(ref, Math.max(1, Math.min(spec.replicas, voters)));
    const pdbName = pdb.metadata!.name!;
    await ensureObject(kube.owned('pdb', ref.namespace, pdbName), pdb, { spec: pdb.spec });
  }

  /** catga.io/role=leader on the leader's pod only. */
  private async syncLeaderLabel(cluster: CatgaCluster, pods: V1Pod[], plan: Plan): Promise<void> {
    const namespace = cluster.metadata.namespace!;
    const leaderName = plan.leader?.pod.name ?? null;
    for (const pod of pods) {
      const podName = pod.metadata!.name!;
      const labelled = pod.metadata?.labels?.[LABEL_ROLE] === ROLE_LEADER;
      if (podName === leaderName && !labelled) {
        await this.deps.kube.patchPodLabels(namespace, podName, { [LABEL_ROLE]: ROLE_LEADER });
      } else if (podName !== leaderName && labelled) {
        await this.deps.kube.patchPodLabels(namespace, podName, { [LABEL_ROLE]: null });
      }
    }
    if (plan.leader !== null && cluster.status?.leader !== plan.leader.view.id) {
      await this.deps.events.record(cluster, 'Normal', 'LeaderElected', `${plan.leader.view.id} leads in term ${plan.leader.view.term}`);
    }
  }

  /** An Event when a backup succeeded, when backups start failing, and when the restore is done. */
  private async recordBackupEvents(cluster: CatgaCluster, previous: CatgaClusterStatus | undefined, status: CatgaClusterStatus): Promise<void> {
    const { events } = this.deps;
    const last = status.lastBackup;
    if (last !== undefined && last.job !== previous?.lastBackup?.job) {
      await events.record(cluster, 'Normal', 'BackupSucceeded', `backup ${last.name} holds every write up to index ${last.index} (Job ${last.job})`);
    }
    const was = previous?.conditions?.find((c) => c.type === 'BackupSucceeded');
    const now = status.conditions?.find((c) => c.type === 'BackupSucceeded');
    if (now?.status === 'False' && (was?.status !== 'False' || was.message !== now.message)) await events.record(cluster, 'Warning', 'BackupFailed', now.message);
    if (status.restore?.completedTime !== undefined && previous?.restore?.completedTime === undefined) {
      await events.record(cluster, 'Normal', 'RestoreCompleted', `restored from ${status.restore.backup}; the members roll once onto a template without the restore step`);
    }
  }

  private async execute(cluster: CatgaCluster, ref: ClusterRef, action: Action, pods: V1Pod[], token: string | undefined, tls: AdminTls | null, observed: Observed): Promise<void> {
    const { kube, events, crash } = this.deps;
    const admin = this.deps.admin(token, tls);
    switch (action.kind) {
      case 'none':
        return;
      case 'scaleStatefulSet':
        await kube.owned('statefulSet', ref.namespace, ref.name).patch({ spec: { replicas: action.replicas } });
        await events.record(cluster, 'Normal', action.reason, `StatefulSet replicas ${observed.statefulSetReplicas} -> ${action.replicas}`);
        return;
      case 'addLearner':
        await admin.addMember(action.endpoint, { id: action.id, address: action.address, voter: false });
        await events.record(cluster, 'Normal', 'MemberAdded', `added ${action.id} (${action.address}) as a learner`);
        crash('after-member-add');
        return;
      case 'replaceMember':
        await admin.addMember(action.endpoint, { id: action.id, address: action.address, voter: false, incarnation: action.incarnation });
        await events.record(cluster, 'Warning', 'MemberVolumeReplaced', `${action.id} came back on an empty volume: replaced its former incarnation ${action.former} by ${action.incarnation}, as a learner until it catches up`);
        crash('after-member-add');
        return;
      case 'promote':
        await admin.addMember(action.endpoint, { id: action.id, address: action.address, voter: true });
        await events.record(cluster, 'Normal', 'MemberPromoted', `promoted caught-up learner ${action.id} to voter`);
        crash('after-member-add');
        return;
      case 'removeMember':
        await admin.removeMember(action.endpoint, action.id);
        await events.record(cluster, 'Normal', 'MemberRemoved', `removed ${action.id} from the Raft configuration`);
        crash('after-member-remove');
        return;
      case 'transferLeadership':
        await admin.transferLeadership(action.endpoint, action.to);
        await events.record(cluster, 'Normal', 'Switchover', `leadership moving from ${action.from} to ${action.to}`);
        return;
      case 'deletePvc':
        await kube.deletePvc(ref.namespace, pvcName(ref.name, action.ordinal));
        await events.record(cluster, 'Normal', 'VolumeDeleted', `deleted ${pvcName(ref.name, action.ordinal)} of a removed member so a later scale-up starts clean`);
        return;
      case 'deletePod': {
        const uid = pods.find((p) => p.metadata?.name === action.name)?.metadata?.uid;
        if (uid === undefined) return;
        await kube.deletePod(ref.namespace, action.name, uid);
        await events.record(cluster, 'Normal', 'RollingUpdate', `restarting ${action.name} (revision ${action.revision ?? 'unknown'}) on the new pod template`);
        return;
      }
    }
  }

  private async writeStatus(cluster: CatgaCluster, spec: ResolvedSpec, observed: Observed, plan: Plan, bootstrapExpect: number, backup: BackupObservation | null): Promise<void> {
    const previous = cluster.status;
    const fromBackup = spec.bootstrap?.fromBackup;
    const status = buildStatus({
      previous, observed, plan, generation: cluster.metadata.generation ?? 0,
      selector: selectorString(cluster.metadata.name!), bootstrapExpect, nowIso: new Date(this.deps.now()).toISOString(),
      restoreFrom: fromBackup === undefined ? null : `${storeLocation(fromBackup.objectStore)}/${fromBackup.backupName}`,
      backup,
    });
    // The series exists while backups are scheduled (CatgaBackupOverdue watches it), from the first success on.
    const series = { namespace: cluster.metadata.namespace!, catga_cluster: cluster.metadata.name! };
    if (spec.backup !== undefined && status.lastBackup !== undefined) this.deps.metrics.backupLastSuccess.set(series, Date.parse(status.lastBackup.time) / 1000);
    else this.deps.metrics.backupLastSuccess.remove(series);
    if (stableJson(previous) === stableJson(status)) return;
    await this.deps.kube.patchClusterStatus(cluster.metadata.namespace!, cluster.metadata.name!, status);
    await this.recordBackupEvents(cluster, previous, status);
    const wasDegraded = previous?.conditions?.find((c) => c.type === 'Degraded');
    if (plan.degraded !== null && (wasDegraded?.status !== 'True' || wasDegraded.reason !== plan.degraded.reason)) {
      await this.deps.events.record(cluster, 'Warning', plan.degraded.reason, plan.degraded.message);
    } else if (plan.degraded === null && wasDegraded?.status === 'True') {
      await this.deps.events.record(cluster, 'Normal', 'Recovered', `no longer degraded (was ${wasDegraded.reason}: ${wasDegraded.message})`);
    }
  }
}
