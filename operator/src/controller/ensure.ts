// Create-or-patch of the objects a cluster owns. The mutable part of each desired object is
// hashed into an annotation; an object is patched only when that hash changed (or someone
// edited the annotation away), so a steady reconcile writes nothing.
import { createHash } from 'node:crypto';
import type { KubernetesObject, V1ObjectMeta } from '@kubernetes/client-node';

export const DESIRED_HASH_ANNOTATION = 'catga.io/desired-hash';

export interface ObjectOps<T extends KubernetesObject> {
  read(): Promise<T | null>;
  create(obj: T): Promise<T>;
  patch(body: object): Promise<T>;
}

export type EnsureOutcome = 'created' | 'patched' | 'unchanged';

export function desiredHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/**
 * Makes the object exist with `mutable` (the fields that may change after creation, a merge
 * patch body without metadata) applied. Labels and owner references are kept in line too.
 */
export async function ensureObject<T extends KubernetesObject>(ops: ObjectOps<T>, desired: T, mutable: object): Promise<{ outcome: EnsureOutcome; object: T }> {
  const meta = desired.metadata as V1ObjectMeta;
  const hash = desiredHash({ mutable, labels: meta.labels, owners: meta.ownerReferences });
  const annotations = { ...meta.annotations, [DESIRED_HASH_ANNOTATION]: hash };
  const current = await ops.read();
  if (current === null) {
    return { outcome: 'created', object: await ops.create({ ...desired, metadata: { ...meta, annotations } }) };
  }
  if (current.metadata?.annotations?.[DESIRED_HASH_ANNOTATION] === hash) return { outcome: 'unchanged', object: current };
  const body = { ...mutable, metadata: { labels: meta.labels, annotations, ownerReferences: meta.ownerReferences } };
  return { outcome: 'patched', object: await ops.patch(body) };
}
