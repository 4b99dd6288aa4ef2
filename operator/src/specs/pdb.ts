// Desired PodDisruptionBudget: voluntary disruptions may take at most floor((n-1)/2) pods, the
// most a Raft cluster of n voters can lose and keep a majority (0 for n = 1 or 2). Pure.
import assert from 'node:assert/strict';
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { type ClusterRef, commonLabels, ownerReference, pdbName, selectorLabels } from './names.js';

/** Pods that can be down while a majority of `voters` is still up. */
export function toleratedFailures(voters: number): number {
  assert.ok(Number.isInteger(voters) && voters >= 1, `voters must be a positive integer, got ${voters}`);
  return Math.floor((voters - 1) / 2);
}

export function podDisruptionBudget(ref: ClusterRef, voters: number): V1PodDisruptionBudget {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: pdbName(ref.name), namespace: ref.namespace, labels: commonLabels(ref.name), ownerReferences: [ownerReference(ref)] },
    spec: { maxUnavailable: toleratedFailures(voters), selector: { matchLabels: selectorLabels(ref.name) } },
  };
}
