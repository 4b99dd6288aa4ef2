// Desired NetworkPolicy of a cluster's pods: the peer port only from the cluster's own pods, the
// HTTP API only from its namespace, the operator's namespace (admin calls) and namespaces
// labelled catga.io/api-access=true (clients elsewhere, Prometheus). Kubelet probes come from the
// node, which network plugins let through. Pure.
import type { V1NetworkPolicy } from '@kubernetes/client-node';
import { type ClusterRef, HTTP_PORT, PEER_PORT, commonLabels, ownerReference, selectorLabels } from './names.js';

/** A namespace with this label may reach the HTTP API of every cluster's pods. */
export const LABEL_API_ACCESS = 'catga.io/api-access';
/** The label Kubernetes sets on every namespace with its own name. */
const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** The spec as it goes on the wire, for a merge patch (which the client library sends as is). */
export function networkPolicyPatch(policy: V1NetworkPolicy): object {
  const spec = policy.spec!;
  return { spec: { ...spec, ingress: (spec.ingress ?? []).map(({ _from, ...rule }) => ({ ...rule, from: _from })) } };
}

export const networkPolicyName = (name: string): string => name;

export function networkPolicy(ref: ClusterRef, operatorNamespace: string): V1NetworkPolicy {
  const pods = { matchLabels: selectorLabels(ref.name) };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: networkPolicyName(ref.name), namespace: ref.namespace, labels: commonLabels(ref.name), ownerReferences: [ownerReference(ref)] },
    spec: {
      podSelector: pods,
      policyTypes: ['Ingress'],
      ingress: [
        // `_from` is how the client library names the wire field `from` (a reserved word).
        { ports: [{ protocol: 'TCP', port: PEER_PORT }], _from: [{ podSelector: pods }] },
        {
          ports: [{ protocol: 'TCP', port: HTTP_PORT }],
          _from: [
            { podSelector: {} },
            { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: operatorNamespace } } },
            { namespaceSelector: { matchLabels: { [LABEL_API_ACCESS]: 'true' } } },
          ],
        },
      ],
    },
  };
}
