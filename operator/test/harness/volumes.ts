// Static provisioning for PersistentVolumeClaims (there is no storage provisioner): for each
// pending claim of the namespace, a hostPath PersistentVolume pre-bound to it, backed by a
// directory under the fixture's temp dir; the persistentvolume-binder controller completes the
// binding. When a claim is deleted, its volume and directory go too.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1PersistentVolume, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { startInformer, type RunningInformer } from './informers.js';

const DEFAULT_CAPACITY = '1Gi';
const PROVISION_RETRY_MS = 500;

export class VolumeProvisioner {
  private readonly core: CoreV1Api;
  /** claim uid -> our volume's name */
  private readonly volumeOfClaim = new Map<string, string>();
  /** claim name -> claim, as last seen */
  private readonly claims = new Map<string, V1PersistentVolumeClaim>();
  private informer: RunningInformer | undefined;
  private stopped = false;

  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly dir: string,
    /** Called after any claim changes (e.g. to start pods that waited for their volume). */
    private readonly onChange: () => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async start(): Promise<void> {
    this.informer = await startInformer<V1PersistentVolumeClaim>(
      this.kubeConfig,
      `/api/v1/namespaces/${this.namespace}/persistentvolumeclaims`,
      () => this.core.listNamespacedPersistentVolumeClaim({ namespace: this.namespace }),
      {
        change: (claim) => {
          this.claims.set(claim.metadata!.name!, claim);
          this.provision(claim).catch(this.onError);
          this.onChange();
        },
        deleted: (claim) => {
          this.claims.delete(claim.metadata!.name!);
          this.reclaim(claim).catch(this.onError);
          this.onChange();
        },
      },
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.informer?.stop();
  }

  /** The host directory behind a claim once it is bound to one of our volumes. */
  hostPathOf(claimName: string): string | undefined {
    const claim = this.claims.get(claimName);
    const volume = claim?.spec?.volumeName;
    if (claim?.status?.phase !== 'Bound' || volume === undefined) return undefined;
    return this.volumeOfClaim.get(claim.metadata!.uid!) === volume ? join(this.dir, volume) : undefined;
  }

  private async provision(claim: V1PersistentVolumeClaim): Promise<void> {
    const uid = claim.metadata!.uid!;
    const name = claim.metadata!.name!;
    if (claim.metadata?.deletionTimestamp || claim.spec?.volumeName || this.volumeOfClaim.has(uid)) return;
    const volumeName = `harness-${this.namespace}-${name}-${uid.slice(0, 8)}`;
    this.volumeOfClaim.set(uid, volumeName);
    const path = join(this.dir, volumeName);
    mkdirSync(path, { recursive: true });
    const volume: V1PersistentVolume = {
      metadata: { name: volumeName, labels: { 'catga.io/harness-namespace': this.namespace } },
      spec: {
        capacity: { storage: claim.spec?.resources?.requests?.storage ?? DEFAULT_CAPACITY },
        accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
        storageClassName: claim.spec?.storageClassName ?? '',
        volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path, type: 'Directory' },
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: this.namespace, name, uid },
      },
    };
    try {
      await this.core.createPersistentVolume({ body: volume });
    } catch (error) {
      if ((error as { code?: number }).code === 409) return; // created before a relist
      this.volumeOfClaim.delete(uid);
      setTimeout(() => {
        const latest = this.claims.get(name);
        if (latest !== undefined && !this.stopped) this.provision(latest).catch(this.onError);
      }, PROVISION_RETRY_MS);
      throw error;
    }
  }

  private async reclaim(claim: V1PersistentVolumeClaim): Promise<void> {
    const uid = claim.metadata!.uid!;
    const volumeName = this.volumeOfClaim.get(uid);
    if (volumeName === undefined) return;
    this.volumeOfClaim.delete(uid);
    rmSync(join(this.dir, volumeName), { recursive: true, force: true });
    await this.core.deletePersistentVolume({ name: volumeName }).catch((error: { code?: number }) => {
      if (error.code !== 404) throw error;
    });
  }
}
