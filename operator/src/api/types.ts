// The CatgaCluster API (catga.io/v1alpha1) as TypeScript types. They mirror
// crds/catgaclusters.catga.io.yaml field for field; operator/test/api.test.ts walks both and fails on drift.
import type { V1Affinity, V1EnvVar, V1ObjectMeta, V1Toleration, V1TopologySpreadConstraint } from '@kubernetes/client-node';

export const API_GROUP = 'catga.io';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;
export const KIND = 'CatgaCluster';
export const PLURAL = 'catgaclusters';

/** A Kubernetes quantity: "500m", "1Gi", 2. */
export type Quantity = string | number;

export interface SecretKeyRef {
  name: string;
  key?: string;
}

export interface ResourceRequirements {
  requests?: Record<string, Quantity>;
  limits?: Record<string, Quantity>;
}

export interface StorageSpec {
  size?: string;
  storageClassName?: string;
}

export interface RaftTimings {
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
}

/** A Secret holding S3 credentials (referable Secrets only, like every other reference). */
export interface S3CredentialsRef {
  name: string;
  accessKeyIdKey?: string;
  secretAccessKeyKey?: string;
}

/** Where backups are kept: an S3-compatible bucket, under an optional path. */
export interface BackupObjectStore {
  /** http(s)://host[:port] of an S3-compatible server; absent: AWS S3. */
  endpoint?: string;
  bucket: string;
  path?: string;
  region?: string;
  credentialsSecretRef: S3CredentialsRef;
}

export interface BackupRetention {
  /** Backups kept (the newest ones). */
  keep?: number;
  /** With keep: a backup beyond the newest `keep` is removed only once older than this many days. */
  maxAgeDays?: number;
}

/** Scheduled backups, taken by a CronJob running `catga backup`. */
export interface BackupSpec {
  /** A cron schedule in the Kubernetes CronJob syntax ("0 3 * * *", "@daily"). */
  schedule: string;
  suspend?: boolean;
  objectStore: BackupObjectStore;
  retention?: BackupRetention;
}

/** A new cluster whose first members start from a backup. */
export interface FromBackupSpec {
  objectStore: BackupObjectStore;
  /** The backup's folder under objectStore.path: backup-<time>-<index>. */
  backupName: string;
}

export interface BootstrapSpec {
  fromBackup?: FromBackupSpec;
}

/** TLS of the pods (see specs/tls.ts): operator-issued by default, a user's Secret, or off. */
export interface TlsSpec {
  enabled?: boolean;
  secretName?: string;
}

export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';

export interface CatgaClusterSpec {
  replicas?: number;
  image?: string;
  imagePullPolicy?: ImagePullPolicy;
  resources?: ResourceRequirements;
  storage?: StorageSpec;
  raft?: RaftTimings;
  clusterSecretRef?: SecretKeyRef;
  adminTokenRef?: SecretKeyRef;
  apiTokensRef?: SecretKeyRef;
  tls?: TlsSpec;
  handlers?: string;
  terminationGracePeriodSeconds?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  affinity?: V1Affinity;
  topologySpreadConstraints?: V1TopologySpreadConstraint[];
  env?: V1EnvVar[];
  backup?: BackupSpec;
  bootstrap?: BootstrapSpec;
}

export type Phase = 'Pending' | 'Creating' | 'Available' | 'Scaling' | 'Upgrading' | 'Degraded';
export type ConditionType = 'Available' | 'Progressing' | 'Degraded' | 'BackupSucceeded';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface MemberStatus {
  id: string;
  address?: string;
  voter: boolean;
  matchIndex?: number;
  healthy?: boolean;
}

/** The newest backup Job that succeeded. */
export interface LastBackupStatus {
  /** When the Job completed. */
  time: string;
  /** The Raft index the backup holds every committed write up to. */
  index: number;
  /** Where the backup is: s3://bucket/path/backup-<time>-<index>. */
  name: string;
  job: string;
}

/** spec.bootstrap.fromBackup's progress: the members restore only until the cluster first has a quorum. */
export interface RestoreStatus {
  backup: string;
  completedTime?: string;
}

export interface CatgaClusterStatus {
  observedGeneration?: number;
  phase?: Phase;
  replicas?: number;
  readyReplicas?: number;
  selector?: string;
  bootstrapExpect?: number;
  leader?: string;
  term?: number;
  commitIndex?: number;
  members?: MemberStatus[];
  conditions?: Condition[];
  lastBackup?: LastBackupStatus;
  restore?: RestoreStatus;
}

export interface CatgaCluster {
  apiVersion: typeof API_GROUP_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: CatgaClusterSpec;
  status?: CatgaClusterStatus;
}
