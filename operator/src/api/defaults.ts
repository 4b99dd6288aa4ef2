// Schema defaults applied in code: the API server defaults stored objects, but pure builders take a
// fully resolved spec so they never guess. api.test.ts checks these values equal the CRD's defaults.
import type { BackupObjectStore, BackupSpec, CatgaClusterSpec, FromBackupSpec, ImagePullPolicy, Quantity, SecretKeyRef, TlsSpec } from './types.js';

export const DEFAULT_REPLICAS = 3;
export const DEFAULT_IMAGE = 'catga/node:dev';
export const DEFAULT_IMAGE_PULL_POLICY: ImagePullPolicy = 'IfNotPresent';
export const DEFAULT_STORAGE_SIZE = '1Gi';
export const DEFAULT_TICK_MS = 100;
export const DEFAULT_ELECTION_TICKS = 10;
export const DEFAULT_HEARTBEAT_TICKS = 1;
export const DEFAULT_CLUSTER_SECRET_KEY = 'cluster-secret';
export const DEFAULT_ADMIN_TOKEN_KEY = 'admin-token';
export const DEFAULT_API_TOKENS_KEY = 'api-tokens';
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;
export const DEFAULT_S3_REGION = 'us-east-1';
export const DEFAULT_ACCESS_KEY_ID_KEY = 'access-key-id';
export const DEFAULT_SECRET_ACCESS_KEY_KEY = 'secret-access-key';
export const DEFAULT_BACKUP_KEEP = 7;
export const MAX_BACKUP_KEEP = 1000;
export const MAX_BACKUP_AGE_DAYS = 3650;
export const MIN_REPLICAS = 1;
export const MAX_REPLICAS = 9;

export interface ResolvedObjectStore extends BackupObjectStore {
  region: string;
  credentialsSecretRef: { name: string; accessKeyIdKey: string; secretAccessKeyKey: string };
}

export interface ResolvedBackup extends BackupSpec {
  suspend: boolean;
  objectStore: ResolvedObjectStore;
  retention: { keep: number; maxAgeDays?: number };
}

export interface ResolvedFromBackup extends FromBackupSpec {
  objectStore: ResolvedObjectStore;
}

/** A spec with every defaulted field filled in. */
export interface ResolvedSpec extends CatgaClusterSpec {
  replicas: number;
  image: string;
  imagePullPolicy: ImagePullPolicy;
  resources: { requests?: Record<string, Quantity>; limits?: Record<string, Quantity> };
  storage: { size: string; storageClassName?: string };
  raft: { tickMs: number; electionTicks: number; heartbeatTicks: number };
  clusterSecretRef?: Required<SecretKeyRef>;
  adminTokenRef?: Required<SecretKeyRef>;
  apiTokensRef?: Required<SecretKeyRef>;
  terminationGracePeriodSeconds: number;
  backup?: ResolvedBackup;
  bootstrap?: { fromBackup?: ResolvedFromBackup };
  /** enabled stays unset when the spec leaves it unset (TLS then, except for a cluster already running without it). */
  tls: TlsSpec;
}

function resolveRef(ref: SecretKeyRef | undefined, defaultKey: string): Required<SecretKeyRef> | undefined {
  return ref === undefined ? undefined : { name: ref.name, key: ref.key ?? defaultKey };
}

function resolveObjectStore(store: BackupObjectStore): ResolvedObjectStore {
  const creds = store.credentialsSecretRef;
  return {
    ...store,
    region: store.region ?? DEFAULT_S3_REGION,
    credentialsSecretRef: {
      name: creds.name,
      accessKeyIdKey: creds.accessKeyIdKey ?? DEFAULT_ACCESS_KEY_ID_KEY,
      secretAccessKeyKey: creds.secretAccessKeyKey ?? DEFAULT_SECRET_ACCESS_KEY_KEY,
    },
  };
}

function resolveBackup(backup: BackupSpec): ResolvedBackup {
  return {
    ...backup,
    suspend: backup.suspend ?? false,
    objectStore: resolveObjectStore(backup.objectStore),
    retention: { ...backup.retention, keep: backup.retention?.keep ?? DEFAULT_BACKUP_KEEP },
  };
}

export function resolveSpec(spec: CatgaClusterSpec): ResolvedSpec {
  const { backup, bootstrap, ...rest } = spec;
  const resolved: ResolvedSpec = {
    ...rest,
    replicas: spec.replicas ?? DEFAULT_REPLICAS,
    image: spec.image ?? DEFAULT_IMAGE,
    imagePullPolicy: spec.imagePullPolicy ?? DEFAULT_IMAGE_PULL_POLICY,
    resources: spec.resources ?? {},
    storage: { ...spec.storage, size: spec.storage?.size ?? DEFAULT_STORAGE_SIZE },
    raft: {
      tickMs: spec.raft?.tickMs ?? DEFAULT_TICK_MS,
      electionTicks: spec.raft?.electionTicks ?? DEFAULT_ELECTION_TICKS,
      heartbeatTicks: spec.raft?.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS,
    },
    clusterSecretRef: resolveRef(spec.clusterSecretRef, DEFAULT_CLUSTER_SECRET_KEY),
    adminTokenRef: resolveRef(spec.adminTokenRef, DEFAULT_ADMIN_TOKEN_KEY),
    apiTokensRef: resolveRef(spec.apiTokensRef, DEFAULT_API_TOKENS_KEY),
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS,
    tls: spec.tls ?? {},
  };
  if (backup !== undefined) resolved.backup = resolveBackup(backup);
  const fromBackup = bootstrap?.fromBackup;
  if (fromBackup !== undefined) resolved.bootstrap = { fromBackup: { ...fromBackup, objectStore: resolveObjectStore(fromBackup.objectStore) } };
  if (resolved.clusterSecretRef === undefined) delete resolved.clusterSecretRef;
  if (resolved.adminTokenRef === undefined) delete resolved.adminTokenRef;
  if (resolved.apiTokensRef === undefined) delete resolved.apiTokensRef;
  return resolved;
}
