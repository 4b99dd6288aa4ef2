// Desired generated Secret: the cluster secret and admin token a cluster gets when its spec
// references none. The random values are inputs so the builder stays pure; the reconciler
// creates this Secret once and never rewrites its data.
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import type { ResolvedSpec } from '../api/defaults.js';
import {
  type ClusterRef, GENERATED_ADMIN_TOKEN_KEY, GENERATED_CLUSTER_SECRET_KEY, commonLabels, generatedSecretName, ownerReference,
} from './names.js';

/** Bytes of entropy in each generated credential. */
export const GENERATED_CREDENTIAL_BYTES = 32;

export interface GeneratedCredentials {
  readonly clusterSecret: string;
  readonly adminToken: string;
}

export function randomCredentials(): GeneratedCredentials {
  return {
    clusterSecret: randomBytes(GENERATED_CREDENTIAL_BYTES).toString('base64url'),
    adminToken: randomBytes(GENERATED_CREDENTIAL_BYTES).toString('base64url'),
  };
}

/** True when the spec leaves at least one credential to the operator. */
export function needsGeneratedSecret(spec: ResolvedSpec): boolean {
  return spec.clusterSecretRef === undefined || spec.adminTokenRef === undefined;
}

/** The generated Secret, holding only the credentials the spec does not reference. */
export function generatedSecret(ref: ClusterRef, spec: ResolvedSpec, credentials: GeneratedCredentials): V1Secret {
  const data: Record<string, string> = {};
  if (spec.clusterSecretRef === undefined) data[GENERATED_CLUSTER_SECRET_KEY] = credentials.clusterSecret;
  if (spec.adminTokenRef === undefined) data[GENERATED_ADMIN_TOKEN_KEY] = credentials.adminToken;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: generatedSecretName(ref.name), namespace: ref.namespace, labels: commonLabels(ref.name), ownerReferences: [ownerReference(ref)] },
    stringData: data,
  };
}

/** Where the admin token lives: the referenced Secret key or the generated one. */
export function adminTokenSource(ref: ClusterRef, spec: ResolvedSpec): { name: string; key: string } {
  return spec.adminTokenRef ?? { name: generatedSecretName(ref.name), key: GENERATED_ADMIN_TOKEN_KEY };
}

export function clusterSecretSource(ref: ClusterRef, spec: ResolvedSpec): { name: string; key: string } {
  return spec.clusterSecretRef ?? { name: generatedSecretName(ref.name), key: GENERATED_CLUSTER_SECRET_KEY };
}
