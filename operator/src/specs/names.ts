// Names, labels, ports and env names shared by the spec builders and the reconciler: one place
// so that a Service selector and the pod labels it selects can never disagree.
import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_GROUP_VERSION, KIND, type CatgaCluster } from '../api/types.js';

export const HTTP_PORT = 8080;
export const PEER_PORT = 7080;
export const HTTP_PORT_NAME = 'http';
export const PEER_PORT_NAME = 'peer';
export const CONTAINER_NAME = 'catga';
export const DATA_VOLUME = 'data';
export const DATA_DIR = '/var/lib/catga';

export const LABEL_CLUSTER = 'catga.io/cluster';
export const LABEL_ROLE = 'catga.io/role';
/** Which of the cluster's Services an object is (headless, client, leader): what a ServiceMonitor selects on. */
export const LABEL_SERVICE = 'catga.io/service';
export const ROLE_LEADER = 'leader';
export const FIELD_MANAGER = 'catga-operator';

export const ENV_NODE_ID = 'CATGA_NODE_ID';
export const ENV_DNS_NAME = 'CATGA_DNS_NAME';
export const ENV_BOOTSTRAP_EXPECT = 'CATGA_BOOTSTRAP_EXPECT';
export const ENV_CLUSTER_ID = 'CATGA_CLUSTER_ID';
export const ENV_CLUSTER_SECRET = 'CATGA_CLUSTER_SECRET';
export const ENV_ADMIN_TOKEN = 'CATGA_ADMIN_TOKEN';
export const ENV_API_TOKENS = 'CATGA_API_TOKENS';
export const ENV_DATA_DIR = 'CATGA_DATA_DIR';
export const ENV_HANDLERS = 'CATGA_HANDLERS';
export const ENV_TICK_MS = 'CATGA_TICK_MS';
export const ENV_ELECTION_TICKS = 'CATGA_ELECTION_TICKS';
export const ENV_HEARTBEAT_TICKS = 'CATGA_HEARTBEAT_TICKS';
/** Off in every pod: the operator alone adds, replaces and promotes members (node/src/runtime/membership.ts). */
export const ENV_AUTO_JOIN = 'CATGA_AUTO_JOIN';

export const GENERATED_CLUSTER_SECRET_KEY = 'cluster-secret';
export const GENERATED_ADMIN_TOKEN_KEY = 'admin-token';
/** The client API token generated when the spec references no apiTokensRef (commands, queries, events). */
export const GENERATED_API_TOKEN_KEY = 'api-token';

export interface ClusterRef {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

export function clusterRef(cluster: CatgaCluster): ClusterRef {
  const { name, namespace, uid } = cluster.metadata;
  if (name === undefined || namespace === undefined || uid === undefined) {
    throw Object.assign(new Error('CatgaCluster without name, namespace or uid'), { code: 'CLUSTER_METADATA_MISSING' });
  }
  return { name, namespace, uid };
}

export const headlessServiceName = (name: string): string => `${name}-hl`;
export const clientServiceName = (name: string): string => name;
export const leaderServiceName = (name: string): string => `${name}-leader`;
export const statefulSetName = (name: string): string => name;
export const pdbName = (name: string): string => name;
export const generatedSecretName = (name: string): string => `${name}-credentials`;
export const podName = (name: string, ordinal: number): string => `${name}-${ordinal}`;
export const pvcName = (name: string, ordinal: number): string => `${DATA_VOLUME}-${name}-${ordinal}`;
export const dnsName = (ref: ClusterRef): string => `${headlessServiceName(ref.name)}.${ref.namespace}.svc.cluster.local`;

/** The ordinal of a StatefulSet pod name `X-<n>` of cluster X, or -1 when it is not one. */
export function ordinalOf(clusterName: string, pod: string): number {
  const prefix = `${clusterName}-`;
  if (!pod.startsWith(prefix)) return -1;
  const rest = pod.slice(prefix.length);
  return /^(0|[1-9][0-9]{0,3})$/.test(rest) ? Number(rest) : -1;
}

/** Labels that select the pods of one cluster (StatefulSet selector, Services, PDB). */
export function selectorLabels(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'catga', 'app.kubernetes.io/instance': name, [LABEL_CLUSTER]: name };
}

export function selectorString(name: string): string {
  return Object.entries(selectorLabels(name)).map(([k, v]) => `${k}=${v}`).join(',');
}

/** Labels on every object the operator creates. */
export function commonLabels(name: string): Record<string, string> {
  return {
    ...selectorLabels(name),
    'app.kubernetes.io/component': 'node',
    'app.kubernetes.io/part-of': 'catga',
    'app.kubernetes.io/managed-by': FIELD_MANAGER,
  };
}

export function ownerReference(ref: ClusterRef): V1OwnerReference {
  return { apiVersion: API_GROUP_VERSION, kind: KIND, name: ref.name, uid: ref.uid, controller: true, blockOwnerDeletion: true };
}
