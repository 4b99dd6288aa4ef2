// A container's volume mounts mapped to host directories: persistentVolumeClaim (the provisioned
// volume's directory), emptyDir and the pod's Secret/ConfigMap volumes (written as files under
// the pod's directory), hostPath as is. Other volume types (projected service-account tokens,
// downwardAPI) are not materialized and get no mount.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CoreV1Api, V1Container, V1KeyToPath, V1Pod, V1Volume } from '@kubernetes/client-node';

export interface PodMount {
  /** The pod volume's name. */
  volume: string;
  /** Where the container expects it. */
  mountPath: string;
  /** Where it is on this machine (subPath applied). */
  hostPath: string;
  readOnly: boolean;
}

function writeKeys(dir: string, data: Record<string, string>, items: V1KeyToPath[] | undefined): void {
  mkdirSync(dir, { recursive: true });
  const entries = items ? items.filter((item) => item.key in data).map((item) => [item.path, data[item.key]!] as const) : Object.entries(data);
  for (const [path, value] of entries) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, value);
  }
}

async function materialize(core: CoreV1Api, namespace: string, volume: V1Volume, dir: string, claimPath: (claim: string) => string | undefined): Promise<string | undefined> {
  if (volume.persistentVolumeClaim) return claimPath(volume.persistentVolumeClaim.claimName);
  if (volume.hostPath) return volume.hostPath.path;
  if (volume.emptyDir) {
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  if (volume.secret) {
    const secret = await core.readNamespacedSecret({ name: volume.secret.secretName!, namespace });
    const data = Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
    writeKeys(dir, data, volume.secret.items);
    return dir;
  }
  if (volume.configMap) {
    const configMap = await core.readNamespacedConfigMap({ name: volume.configMap.name!, namespace });
    writeKeys(dir, configMap.data ?? {}, volume.configMap.items);
    return dir;
  }
  return undefined;
}

/**
 * The container's mounts, or undefined while one of its claims is not bound yet. A missing
 * Secret or ConfigMap throws (the pod waits, as with a real kubelet).
 */
export async function resolveMounts(
  core: CoreV1Api,
  pod: V1Pod,
  container: V1Container,
  podDir: string,
  claimPath: (claim: string) => string | undefined,
): Promise<PodMount[] | undefined> {
  const mounts: PodMount[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
    if (volume === undefined) continue;
    const hostPath = await materialize(core, pod.metadata!.namespace!, volume, join(podDir, 'volumes', volume.name), claimPath);
    if (hostPath === undefined) {
      if (volume.persistentVolumeClaim) return undefined;
      continue;
    }
    const full = mount.subPath ? join(hostPath, mount.subPath) : hostPath;
    if (mount.subPath) mkdirSync(full, { recursive: true });
    mounts.push({ volume: volume.name, mountPath: mount.mountPath, hostPath: full, readOnly: mount.readOnly ?? false });
  }
  return mounts;
}
