// Which Secrets a CatgaCluster may make its pods read. Whoever may create a CatgaCluster would
// otherwise read any Secret of the namespace through the pods (a secretKeyRef in spec.env, or a
// credential reference). The operator, which can read them all, honours a reference only to a
// Secret that opted in: one labelled `catga.io/referable: "true"` by someone who owns it, or the
// Secret the operator generated for this very cluster. Pure: the labels are looked up by the caller.
import type { V1EnvVar } from '@kubernetes/client-node';
import type { ResolvedSpec } from '../api/defaults.js';
import { generatedSecretName } from './names.js';

/** The label a Secret carries to be referable from CatgaClusters of its namespace. */
export const LABEL_REFERABLE = 'catga.io/referable';

export interface SecretReference {
  readonly secret: string;
  /** Where in the spec, for the refusal message. */
  readonly field: string;
}

/** Every Secret the spec would make the pods read. */
export function secretReferences(spec: ResolvedSpec): SecretReference[] {
  const refs: SecretReference[] = [];
  if (spec.clusterSecretRef !== undefined) refs.push({ secret: spec.clusterSecretRef.name, field: 'spec.clusterSecretRef' });
  if (spec.adminTokenRef !== undefined) refs.push({ secret: spec.adminTokenRef.name, field: 'spec.adminTokenRef' });
  if (spec.apiTokensRef !== undefined) refs.push({ secret: spec.apiTokensRef.name, field: 'spec.apiTokensRef' });
  if (spec.backup !== undefined) refs.push({ secret: spec.backup.objectStore.credentialsSecretRef.name, field: 'spec.backup.objectStore.credentialsSecretRef' });
  const fromBackup = spec.bootstrap?.fromBackup;
  if (fromBackup !== undefined) refs.push({ secret: fromBackup.objectStore.credentialsSecretRef.name, field: 'spec.bootstrap.fromBackup.objectStore.credentialsSecretRef' });
  if (spec.tls.secretName !== undefined && spec.tls.enabled !== false) refs.push({ secret: spec.tls.secretName, field: 'spec.tls.secretName' });
  (spec.env ?? []).forEach((variable: V1EnvVar, i) => {
    const name = variable.valueFrom?.secretKeyRef?.name;
    if (name !== undefined) refs.push({ secret: name, field: `spec.env[${i}].valueFrom.secretKeyRef` });
  });
  return refs;
}

/**
 * The references to refuse: Secrets without the opt-in label (or missing: a Secret created later
 * without the label must not become readable). `labelsOf` gives a Secret's labels, null if absent.
 */
export function refusedSecretReferences(
  clusterName: string,
  refs: readonly SecretReference[],
  labelsOf: (secret: string) => Readonly<Record<string, string>> | null,
): SecretReference[] {
  return refs.filter((ref) => {
    if (ref.secret === generatedSecretName(clusterName)) return false;
    return labelsOf(ref.secret)?.[LABEL_REFERABLE] !== 'true';
  });
}
