// Desired StatefulSet: Parallel pod management, OnDelete updates (the operator rolls pods itself),
// a PVC per pod, probes on /healthz and /readyz, and a preStop hook that hands leadership over.
// Pure: the replica count and the initial size (CATGA_BOOTSTRAP_EXPECT) are inputs decided by the reconciler.
import assert from 'node:assert/strict';
import type { V1Container, V1EnvVar, V1PersistentVolumeClaim, V1StatefulSet } from '@kubernetes/client-node';
import type { ResolvedSpec } from '../api/defaults.js';
import { MAX_REPLICAS } from '../api/defaults.js';
import {
  type ClusterRef, CONTAINER_NAME, DATA_DIR, DATA_VOLUME, ENV_ADMIN_TOKEN, ENV_API_TOKENS, ENV_AUTO_JOIN, ENV_BOOTSTRAP_EXPECT,
  ENV_CLUSTER_ID, ENV_CLUSTER_SECRET, ENV_DATA_DIR, ENV_DNS_NAME, ENV_ELECTION_TICKS, ENV_HANDLERS, ENV_HEARTBEAT_TICKS,
  ENV_NODE_ID, ENV_TICK_MS, HTTP_PORT, HTTP_PORT_NAME, PEER_PORT, PEER_PORT_NAME, commonLabels, dnsName,
  headlessServiceName, ownerReference, selectorLabels, statefulSetName,
} from './names.js';
import { restoreInitContainer } from './backup.js';
import { adminTokenSource, apiTokensSource, clusterSecretSource } from './secret.js';
import { ENV_TLS_CA_FILE, podTls, SCHEME_ANNOTATION, type TlsMode } from './tls.js';

/** The user the image runs as (node/Dockerfile) and the group that owns the data volume. */
export const NODE_UID = 1000;

/**
 * preStop: ask the local node to hand leadership to a peer before it is stopped. A follower
 * answers with an error, which is fine: the hook never fails the termination.
 */
export const PRE_STOP_SCRIPT =
  `fetch('http://127.0.0.1:${HTTP_PORT}/v1/cluster/transfer-leadership',{method:'POST',` +
  `headers:{'content-type':'application/json',authorization:'Bearer '+process.env.${ENV_ADMIN_TOKEN}},body:'{}'})` +
  `.then(r=>r.text()).catch(()=>{})`;

/**
 * The same over HTTPS: the node's certificate must chain to the cluster's CA (its names are the
 * pod's, not 127.0.0.1, so the host name is not what is checked).
 */
export const PRE_STOP_SCRIPT_TLS =
  `require('https').request({host:'127.0.0.1',port:${HTTP_PORT},path:'/v1/cluster/transfer-leadership',method:'POST',` +
  `ca:require('fs').readFileSync(process.env.${ENV_TLS_CA_FILE}),checkServerIdentity:()=>undefined,` +
  `headers:{'content-type':'application/json',authorization:'Bearer '+process.env.${ENV_ADMIN_TOKEN}}})` +
  `.on('response',(r)=>r.resume()).on('error',()=>{}).end('{}')`;

export interface StatefulSetInput {
  readonly ref: ClusterRef;
  readonly spec: ResolvedSpec;
  /** StatefulSet replicas: moves toward spec.replicas one member change at a time. */
  readonly replicas: number;
  /** The cluster's initial size, fixed at creation. */
  readonly bootstrapExpect: number;
  /** spec.bootstrap.fromBackup is still being carried out: members get the restore init container (until the cluster first has a quorum). */
  readonly restoring: boolean;
  /** Whether and where from the pods get TLS (decided by the reconciler). */
  readonly tls: TlsMode;
}

function nodeEnv(input: StatefulSetInput): V1EnvVar[] {
  const { ref, spec } = input;
  const secret = clusterSecretSource(ref, spec);
  const admin = adminTokenSource(ref, spec);
  const apiTokens = apiTokensSource(ref, spec);
  const env: V1EnvVar[] = [
    { name: ENV_NODE_ID, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: ENV_DNS_NAME, value: dnsName(ref) },
    { name: ENV_BOOTSTRAP_EXPECT, value: String(input.bootstrapExpect) },
    { name: ENV_CLUSTER_ID, value: ref.uid },
    { name: ENV_CLUSTER_SECRET, valueFrom: { secretKeyRef: { name: secret.name, key: secret.key } } },
    { name: ENV_ADMIN_TOKEN, valueFrom: { secretKeyRef: { name: admin.name, key: admin.key } } },
    { name: ENV_API_TOKENS, valueFrom: { secretKeyRef: { name: apiTokens.name, key: apiTokens.key, ...(apiTokens.optional ? { optional: true } : {}) } } },
    { name: ENV_DATA_DIR, value: DATA_DIR },
    { name: ENV_TICK_MS, value: String(spec.raft.tickMs) },
    { name: ENV_ELECTION_TICKS, value: String(spec.raft.electionTicks) },
    { name: ENV_HEARTBEAT_TICKS, value: String(spec.raft.heartbeatTicks) },
    // The operator decides membership: its pods never ask to join by themselves (spec.env cannot turn that back on).
    { name: ENV_AUTO_JOIN, value: 'false' },
  ];
  if (spec.handlers !== undefined) env.push({ name: ENV_HANDLERS, value: spec.handlers });
  return [...env, ...(podTls(ref, input.tls)?.env ?? []), ...(spec.env ?? []).filter((e) => e.name !== ENV_AUTO_JOIN)];
}

function nodeContainer(input: StatefulSetInput): V1Container {
  const { spec } = input;
  const tls = podTls(input.ref, input.tls);
  // The kubelet does not verify the certificate of an HTTPS probe; it only speaks TLS. A plain
  // cluster's probes are left as they were (HTTP is the default scheme).
  const scheme = tls === null ? {} : { scheme: 'HTTPS' };
  const container: V1Container = {
    name: CONTAINER_NAME,
    image: spec.image,
    imagePullPolicy: spec.imagePullPolicy,
    ports: [
      { name: HTTP_PORT_NAME, containerPort: HTTP_PORT, protocol: 'TCP' },
      { name: PEER_PORT_NAME, containerPort: PEER_PORT, protocol: 'TCP' },
    ],
    env: nodeEnv(input),
    volumeMounts: [{ name: DATA_VOLUME, mountPath: DATA_DIR }, ...(tls === null ? [] : [tls.mount])],
    livenessProbe: {
      httpGet: { path: '/healthz', port: HTTP_PORT_NAME, ...scheme },
      initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3,
    },
    readinessProbe: {
      httpGet: { path: '/readyz', port: HTTP_PORT_NAME, ...scheme },
      periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 2, successThreshold: 1,
    },
    lifecycle: { preStop: { exec: { command: ['node', '-e', tls === null ? PRE_STOP_SCRIPT : PRE_STOP_SCRIPT_TLS] } } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
  };
  if (spec.resources.requests !== undefined || spec.resources.limits !== undefined) {
    container.resources = spec.resources as NonNullable<V1Container['resources']>;
  }
  return container;
}

function volumeClaimTemplate(spec: ResolvedSpec): V1PersistentVolumeClaim {
  const claim: V1PersistentVolumeClaim = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: DATA_VOLUME },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: spec.storage.size } } },
  };
  if (spec.storage.storageClassName !== undefined) claim.spec!.storageClassName = spec.storage.storageClassName;
  return claim;
}

export function statefulSet(input: StatefulSetInput): V1StatefulSet {
  const { ref, spec } = input;
  assert.ok(Number.isInteger(input.replicas) && input.replicas >= 0 && input.replicas <= MAX_REPLICAS, 'replicas out of range');
  assert.ok(Number.isInteger(input.bootstrapExpect) && input.bootstrapExpect >= 1, 'bootstrapExpect must be >= 1');
  const podSpec: NonNullable<NonNullable<V1StatefulSet['spec']>['template']['spec']> = {
    containers: [nodeContainer(input)],
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds,
    // The restricted Pod Security Standard: non-root, the runtime's default seccomp profile, no
    // privilege escalation, every capability dropped (container). A node never calls the
    // Kubernetes API, so no service account token is mounted.
    securityContext: { runAsNonRoot: true, runAsUser: NODE_UID, runAsGroup: NODE_UID, fsGroup: NODE_UID, seccompProfile: { type: 'RuntimeDefault' } },
    automountServiceAccountToken: false,
    enableServiceLinks: false,
  };
  const fromBackup = spec.bootstrap?.fromBackup;
  if (input.restoring && fromBackup !== undefined) podSpec.initContainers = [restoreInitContainer(ref, spec, fromBackup)];
  const tls = podTls(ref, input.tls);
  if (tls !== null) podSpec.volumes = [tls.volume];
  if (spec.nodeSelector !== undefined) podSpec.nodeSelector = spec.nodeSelector;
  if (spec.tolerations !== undefined) podSpec.tolerations = spec.tolerations;
  if (spec.affinity !== undefined) podSpec.affinity = spec.affinity;
  if (spec.topologySpreadConstraints !== undefined) podSpec.topologySpreadConstraints = spec.topologySpreadConstraints;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: statefulSetName(ref.name), namespace: ref.namespace, labels: commonLabels(ref.name), ownerReferences: [ownerReference(ref)] },
    spec: {
      replicas: input.replicas,
      serviceName: headlessServiceName(ref.name),
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Delete', whenScaled: 'Retain' },
      selector: { matchLabels: selectorLabels(ref.name) },
      template: {
        // A plain cluster's template is left as it was: no annotation, the scrape's default scheme.
        metadata: { labels: commonLabels(ref.name), ...(podTls(ref, input.tls) === null ? {} : { annotations: { [SCHEME_ANNOTATION]: 'https' } }) },
        spec: podSpec,
      },
      volumeClaimTemplates: [volumeClaimTemplate(spec)],
    },
  };
}
