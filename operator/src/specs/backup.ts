// Desired backup and restore objects: the CronJob that runs `catga backup` on spec.backup's
// schedule (credentials and the stream stay in its pod, never in the operator), the init container
// that runs `catga restore` into an empty data volume for spec.bootstrap.fromBackup, and the
// reading of a finished backup Job (its pod's termination message) back into status. Pure.
import type { V1Container, V1CronJob, V1EnvVar, V1Job, V1Pod } from '@kubernetes/client-node';
import type { ResolvedBackup, ResolvedFromBackup, ResolvedObjectStore, ResolvedSpec } from '../api/defaults.js';
import type { LastBackupStatus } from '../api/types.js';
import {
  type ClusterRef, DATA_DIR, DATA_VOLUME, ENV_ADMIN_TOKEN, ENV_CLUSTER_ID, ENV_NODE_ID, FIELD_MANAGER, HTTP_PORT, clientServiceName, ownerReference,
} from './names.js';
import { adminTokenSource } from './secret.js';
import { CA_BUNDLE_KEY, ENV_TLS_CA_FILE, mountedTlsSecret, TLS_DIR, type TlsMode } from './tls.js';

/** The label on backup CronJobs, Jobs and pods: the cluster they back up. Not the pods' selector labels, so a backup pod is never taken for a member. */
export const LABEL_BACKUP_OF = 'catga.io/backup-of';
export const RESTORE_CONTAINER_NAME = 'restore';
/** Where a backup pod writes its result (the container's terminationMessagePath). */
export const RESULT_PATH = '/dev/termination-log';
/** Failed attempts of one backup Job before it is marked failed. */
export const BACKUP_BACKOFF_LIMIT = 2;
/** Finished Jobs the CronJob keeps, each way (the newest success and failure are all the operator reads). */
export const BACKUP_JOBS_HISTORY = 3;
/** The image's entry point (node/Dockerfile), for the init container's shell. */
const CATGA_MAIN = '/app/node/dist/src/cli/main.js';

export const backupCronJobName = (name: string): string => `${name}-backup`;

/** s3://bucket[/path]: where the backups of this object store are. */
export function storeLocation(store: ResolvedObjectStore): string {
  return `s3://${store.bucket}${store.path === undefined ? '' : `/${store.path}`}`;
}

/** The AWS SDK's standard variables, from the credentials Secret. */
function s3Env(store: ResolvedObjectStore): V1EnvVar[] {
  const creds = store.credentialsSecretRef;
  return [
    { name: 'AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: creds.name, key: creds.accessKeyIdKey } } },
    { name: 'AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: creds.name, key: creds.secretAccessKeyKey } } },
    { name: 'AWS_REGION', value: store.region },
  ];
}

function endpointArgs(store: ResolvedObjectStore): string[] {
  return store.endpoint === undefined ? [] : ['--endpoint', store.endpoint];
}

const RESTRICTED_CONTAINER = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } };

function backupLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'catga', 'app.kubernetes.io/component': 'backup', 'app.kubernetes.io/part-of': 'catga', 'app.kubernetes.io/managed-by': FIELD_MANAGER, [LABEL_BACKUP_OF]: name };
}

/** The volume holding only the cluster's CA bundle, for a backup Job that calls a TLS cluster. */
const CA_VOLUME = 'tls-ca';

/**
 * The CronJob taking spec.backup's backups: one at a time, from a caught-up follower found through
 * the client Service; over HTTPS checked against the cluster's CA when the pods have TLS (`tls`).
 */
export function backupCronJob(ref: ClusterRef, spec: ResolvedSpec & { backup: ResolvedBackup }, tls: TlsMode): V1CronJob {
  const { backup } = spec;
  const admin = adminTokenSource(ref, spec);
  const caSecret = mountedTlsSecret(ref, tls);
  const args = [
    'backup', '--to', storeLocation(backup.objectStore), ...endpointArgs(backup.objectStore),
    // The client Service is only the way in: the backup streams from a caught-up follower (each
    // member reached at its pod name under the headless Service, which its certificate names),
    // from the leader only when no follower qualifies.
    '--from', `${caSecret === null ? 'http' : 'https'}://${clientServiceName(ref.name)}.${ref.namespace}.svc:${HTTP_PORT}`, '--prefer-follower',
    '--keep', String(backup.retention.keep),
    ...(backup.retention.maxAgeDays === undefined ? [] : ['--max-age', `${backup.retention.maxAgeDays}d`]),
    '--result-file', RESULT_PATH,
  ];
  const labels = backupLabels(ref.name);
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: backupCronJobName(ref.name), namespace: ref.namespace, labels, ownerReferences: [ownerReference(ref)] },
    spec: {
      schedule: backup.schedule,
      suspend: backup.suspend,
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: BACKUP_JOBS_HISTORY,
      failedJobsHistoryLimit: BACKUP_JOBS_HISTORY,
      jobTemplate: {
        metadata: { labels },
        spec: {
          backoffLimit: BACKUP_BACKOFF_LIMIT,
          template: {
            metadata: { labels },
            spec: {
              restartPolicy: 'Never',
              // Only the CA bundle of the members' Secret: never a member's private key.
              ...(caSecret === null ? {} : { volumes: [{ name: CA_VOLUME, secret: { secretName: caSecret, items: [{ key: CA_BUNDLE_KEY, path: CA_BUNDLE_KEY }], defaultMode: 0o444 } }] }),
              containers: [{
                name: 'backup',
                image: spec.image,
                imagePullPolicy: spec.imagePullPolicy,
                args,
                env: [
                  { name: ENV_ADMIN_TOKEN, valueFrom: { secretKeyRef: { name: admin.name, key: admin.key } } },
                  ...s3Env(backup.objectStore),
                  ...(caSecret === null ? [] : [{ name: ENV_TLS_CA_FILE, value: `${TLS_DIR}/${CA_BUNDLE_KEY}` }]),
                ],
                ...(caSecret === null ? {} : { volumeMounts: [{ name: CA_VOLUME, mountPath: TLS_DIR, readOnly: true }] }),
                terminationMessagePath: RESULT_PATH,
                terminationMessagePolicy: 'FallbackToLogsOnError',
                securityContext: RESTRICTED_CONTAINER,
              }],
              securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
              automountServiceAccountToken: false,
              enableServiceLinks: false,
            },
          },
        },
      },
    },
  };
}

/**
 * The init container of a member of a cluster bootstrapping from a backup: restores the backup
 * into the data volume when the volume is empty (a mount's lost+found aside), under the cluster's
 * own id (its uid: never the backup's), then leaves; on a volume that already holds state (a
 * restarted pod) it does nothing.
 */
export function restoreInitContainer(ref: ClusterRef, spec: ResolvedSpec, fromBackup: ResolvedFromBackup): V1Container {
  const { objectStore } = fromBackup;
  const restore = [
    'node', CATGA_MAIN, 'restore', '--from', `${storeLocation(objectStore)}/${fromBackup.backupName}`, ...endpointArgs(objectStore),
    '--data-dir', DATA_DIR, '--id', `"$${ENV_NODE_ID}"`, '--cluster-id', `"$${ENV_CLUSTER_ID}"`,
  ].join(' ');
  const script = `if [ -n "$(ls -A ${DATA_DIR} | grep -vx lost+found)" ]; then echo "${DATA_DIR} holds state: no restore"; exit 0; fi; exec ${restore}`;
  return {
    name: RESTORE_CONTAINER_NAME,
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    command: ['sh', '-c', script],
    env: [
      { name: ENV_NODE_ID, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
      { name: ENV_CLUSTER_ID, value: ref.uid },
      ...s3Env(objectStore),
    ],
    volumeMounts: [{ name: DATA_VOLUME, mountPath: DATA_DIR }],
    securityContext: RESTRICTED_CONTAINER,
  };
}

/** The newest Job that finished each way (Complete, Failed), by completion or failure time. */
export function latestFinished(jobs: readonly V1Job[]): { succeeded: V1Job | null; failed: V1Job | null } {
  const finishedAt = (job: V1Job, type: 'Complete' | 'Failed'): number | null => {
    const c = job.status?.conditions?.find((x) => x.type === type && x.status === 'True');
    if (c === undefined) return null;
    const t = type === 'Complete' ? job.status?.completionTime ?? c.lastTransitionTime : c.lastTransitionTime;
    return t === undefined ? 0 : new Date(t).getTime();
  };
  const newest = (type: 'Complete' | 'Failed'): V1Job | null => {
    let best: V1Job | null = null;
    let bestAt = -1;
    for (const job of jobs) {
      const at = finishedAt(job, type);
      if (at !== null && at > bestAt) { best = job; bestAt = at; }
    }
    return best;
  };
  return { succeeded: newest('Complete'), failed: newest('Failed') };
}

/** When a finished Job finished, as an ISO time. */
export function finishedTime(job: V1Job): string {
  const t = job.status?.completionTime ?? job.status?.conditions?.find((c) => c.status === 'True' && (c.type === 'Complete' || c.type === 'Failed'))?.lastTransitionTime;
  return new Date(t ?? 0).toISOString();
}

/**
 * status.lastBackup from a succeeded Job and its pods: the succeeded pod's termination message is
 * the JSON result `catga backup --result-file` wrote. Null when no pod holds a readable result.
 */
export function lastBackupOf(job: V1Job, pods: readonly V1Pod[]): LastBackupStatus | null {
  for (const pod of pods) {
    const message = pod.status?.containerStatuses?.find((c) => c.name === 'backup')?.state?.terminated;
    if (message?.exitCode !== 0 || message.message === undefined) continue;
    try {
      const r = JSON.parse(message.message) as { location?: unknown; index?: unknown };
      if (typeof r.location !== 'string' || !Number.isSafeInteger(r.index)) continue;
      return { time: finishedTime(job), index: r.index as number, name: r.location, job: job.metadata?.name ?? '' };
    } catch {
    }
  }
  return null;
}
