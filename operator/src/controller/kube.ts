// The Kubernetes API calls the reconciler makes, behind one small class: typed clients, merge
// patches, and "not found" as null instead of an exception.
import {
  AppsV1Api, BatchV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, NetworkingV1Api, PatchStrategy, PolicyV1Api, setHeaderOptions,
  type CoreV1Event, type V1CronJob, type V1Job, type V1Lease, type V1Pod, type V1NetworkPolicy, type V1PersistentVolumeClaim, type V1PodDisruptionBudget, type V1Secret,
  type V1Service, type V1StatefulSet,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, PLURAL, type CatgaCluster, type CatgaClusterStatus } from '../api/types.js';
import { FIELD_MANAGER } from '../specs/names.js';
import type { LeaseStore } from '../machinery/leader-election.js';
import type { ObjectOps } from './ensure.js';

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function httpStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

async function orNull<T>(promise: Promise<T>): Promise<T | null> {
  try {
    return await promise;
  } catch (err) {
    if (httpStatusOf(err) === 404) return null;
    throw err;
  }
}

async function ignoreNotFound(promise: Promise<unknown>): Promise<void> {
  await orNull(promise);
}

/** Status fields that can disappear are sent as null so the merge patch removes them. */
function withNulls(status: CatgaClusterStatus): Record<string, unknown> {
  return { leader: null, term: null, commitIndex: null, ...status };
}

/** The generated clients' read, create and merge patch of one kind of namespaced object. */
interface KindCalls<T> {
  read(req: { namespace: string; name: string }): Promise<T>;
  create(req: { namespace: string; body: T; fieldManager: string }): Promise<T>;
  patch(req: { namespace: string; name: string; body: object; fieldManager: string }, options: typeof MERGE_PATCH): Promise<T>;
}

/** The kinds of object a cluster owns that the reconciler creates or patches. */
interface OwnedObjects {
  service: V1Service;
  networkPolicy: V1NetworkPolicy;
  pdb: V1PodDisruptionBudget;
  statefulSet: V1StatefulSet;
  cronJob: V1CronJob;
}
export type OwnedKind = keyof OwnedObjects;

/** Each owned kind's calls on its generated client. */
const OWNED_KINDS: { [K in OwnedKind]: (k: KubeClient) => KindCalls<OwnedObjects[K]> } = {
  service: (k) => ({ read: (r) => k.core.readNamespacedService(r), create: (r) => k.core.createNamespacedService(r), patch: (r, o) => k.core.patchNamespacedService(r, o) }),
  networkPolicy: (k) => ({ read: (r) => k.networking.readNamespacedNetworkPolicy(r), create: (r) => k.networking.createNamespacedNetworkPolicy(r), patch: (r, o) => k.networking.patchNamespacedNetworkPolicy(r, o) }),
  pdb: (k) => ({ read: (r) => k.policy.readNamespacedPodDisruptionBudget(r), create: (r) => k.policy.createNamespacedPodDisruptionBudget(r), patch: (r, o) => k.policy.patchNamespacedPodDisruptionBudget(r, o) }),
  statefulSet: (k) => ({ read: (r) => k.apps.readNamespacedStatefulSet(r), create: (r) => k.apps.createNamespacedStatefulSet(r), patch: (r, o) => k.apps.patchNamespacedStatefulSet(r, o) }),
  cronJob: (k) => ({ read: (r) => k.batch.readNamespacedCronJob(r), create: (r) => k.batch.createNamespacedCronJob(r), patch: (r, o) => k.batch.patchNamespacedCronJob(r, o) }),
};

export class KubeClient {
  readonly core: CoreV1Api;
  readonly apps: AppsV1Api;
  readonly policy: PolicyV1Api;
  readonly custom: CustomObjectsApi;
  readonly coordination: CoordinationV1Api;
  readonly networking: NetworkingV1Api;
  readonly batch: BatchV1Api;

  constructor(readonly config: KubeConfig) {
    this.core = config.makeApiClient(CoreV1Api);
    this.apps = config.makeApiClient(AppsV1Api);
    this.policy = config.makeApiClient(PolicyV1Api);
    this.custom = config.makeApiClient(CustomObjectsApi);
    this.coordination = config.makeApiClient(CoordinationV1Api);
    this.networking = config.makeApiClient(NetworkingV1Api);
    this.batch = config.makeApiClient(BatchV1Api);
  }

  getCluster(namespace: string, name: string): Promise<CatgaCluster | null> {
    return orNull(this.custom.getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL, name }) as Promise<CatgaCluster>);
  }

  async patchClusterStatus(namespace: string, name: string, status: CatgaClusterStatus): Promise<void> {
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL, name, body: { status: withNulls(status) }, fieldManager: FIELD_MANAGER }, MERGE_PATCH);
  }

  /** Read (null when absent), create and merge-patch one named object of a kind a cluster owns. */
  owned<K extends OwnedKind>(kind: K, namespace: string, name: string): ObjectOps<OwnedObjects[K]> {
    const calls: KindCalls<OwnedObjects[K]> = OWNED_KINDS[kind](this);
    return {
      read: () => orNull(calls.read({ namespace, name })),
      create: (body) => calls.create({ namespace, body, fieldManager: FIELD_MANAGER }),
      patch: (body) => calls.patch({ namespace, name, body, fieldManager: FIELD_MANAGER }, MERGE_PATCH),
    };
  }

  getSecret(namespace: string, name: string): Promise<V1Secret | null> {
    return orNull(this.core.readNamespacedSecret({ namespace, name }));
  }
  createSecret(body: V1Secret): Promise<V1Secret> {
    return this.core.createNamespacedSecret({ namespace: body.metadata!.namespace!, body, fieldManager: FIELD_MANAGER });
  }
  /** A whole-object write; with metadata.resourceVersion set it fails (409) if the Secret changed since it was read. */
  replaceSecret(body: V1Secret): Promise<V1Secret> {
    return this.core.replaceNamespacedSecret({ namespace: body.metadata!.namespace!, name: body.metadata!.name!, body, fieldManager: FIELD_MANAGER });
  }

  async deleteCronJob(namespace: string, name: string): Promise<void> {
    await ignoreNotFound(this.batch.deleteNamespacedCronJob({ namespace, name, body: { propagationPolicy: 'Background' } }));
  }
  async listJobs(namespace: string, labelSelector: string): Promise<V1Job[]> {
    return (await this.batch.listNamespacedJob({ namespace, labelSelector })).items;
  }
  async listPods(namespace: string, labelSelector: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace, labelSelector })).items;
  }

  async patchPodLabels(namespace: string, name: string, labels: Record<string, string | null>): Promise<void> {
    await ignoreNotFound(this.core.patchNamespacedPod({ namespace, name, body: { metadata: { labels } }, fieldManager: FIELD_MANAGER }, MERGE_PATCH));
  }

  /** Deletes the pod only if it is still the incarnation `uid` (a recreated pod is left alone). */
  async deletePod(namespace: string, name: string, uid: string): Promise<void> {
    await ignoreNotFound(this.core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid } } }));
  }

  async listPvcs(namespace: string): Promise<V1PersistentVolumeClaim[]> {
    return (await this.core.listNamespacedPersistentVolumeClaim({ namespace })).items;
  }
  async deletePvc(namespace: string, name: string): Promise<void> {
    await ignoreNotFound(this.core.deleteNamespacedPersistentVolumeClaim({ namespace, name }));
  }

  async createEvent(body: CoreV1Event): Promise<void> {
    await this.core.createNamespacedEvent({ namespace: body.metadata.namespace!, body });
  }

  leaseStore(namespace: string, name: string): LeaseStore {
    return {
      read: () => orNull(this.coordination.readNamespacedLease({ namespace, name })),
      create: (body: V1Lease) => this.coordination.createNamespacedLease({ namespace, body }),
      replace: (body: V1Lease) => this.coordination.replaceNamespacedLease({ namespace, name, body }),
    };
  }
}
