// What the reconciler reads off a Pod: ordinal, readiness, revision, whether it crash-loops, and
// how to reach its node (HTTP(S) endpoint from the pod IP and the container's `http` port; peer
// address in the node's own advertise form). Pure.
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import {
  CONTAINER_NAME, HTTP_PORT, HTTP_PORT_NAME, PEER_PORT, PEER_PORT_NAME, type ClusterRef, dnsName, ordinalOf,
} from '../specs/names.js';
import type { ClusterView } from './admin-client.js';
import type { PodView } from './plan.js';

/**
 * How a learner's peer address is written when the operator adds it: `dns` is the node's own
 * default (`<pod>.<X-hl.NS.svc.cluster.local>:7080`); `pod-ip` uses the pod IP (for clusters or
 * test fixtures without cluster DNS).
 */
export type PeerAddressMode = 'dns' | 'pod-ip';

const REVISION_LABEL = 'controller-revision-hash';

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function nodeContainer(pod: V1Pod): V1Container | undefined {
  return pod.spec?.containers.find((c) => c.name === CONTAINER_NAME) ?? pod.spec?.containers[0];
}

function containerPort(pod: V1Pod, name: string, fallback: number): number {
  return nodeContainer(pod)?.ports?.find((p) => p.name === name)?.containerPort ?? fallback;
}

/**
 * http(s)://podIP:httpPort of the node, null while the pod has no IP. The scheme is the one this
 * pod's own probes use: during a change of spec.tls each pod is reached the way it serves.
 */
export function httpEndpoint(pod: V1Pod): string | null {
  const ip = pod.status?.podIP;
  const scheme = nodeContainer(pod)?.readinessProbe?.httpGet?.scheme === 'HTTPS' ? 'https' : 'http';
  return ip === undefined || ip === '' ? null : `${scheme}://${hostPort(ip, containerPort(pod, HTTP_PORT_NAME, HTTP_PORT))}`;
}

export function peerAddress(pod: V1Pod, ref: ClusterRef, mode: PeerAddressMode): string | null {
  const ip = pod.status?.podIP;
  if (ip === undefined || ip === '') return null;
  const port = containerPort(pod, PEER_PORT_NAME, PEER_PORT);
  return mode === 'pod-ip' ? hostPort(ip, port) : `${pod.metadata!.name}.${dnsName(ref)}:${port}`;
}

export function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function isCrashLooping(pod: V1Pod): boolean {
  return pod.status?.containerStatuses?.some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff') ?? false;
}

function runningSinceMs(pod: V1Pod): number | null {
  const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME) ?? pod.status?.containerStatuses?.[0];
  const startedAt = status?.state?.running?.startedAt;
  if (startedAt === undefined) return null;
  const ms = new Date(startedAt).getTime();
  return Number.isFinite(ms) ? ms : null;
}

/** The PodView of a pod of cluster `ref`, or null when it is not one of its ordinals. */
export function podView(pod: V1Pod, ref: ClusterRef, mode: PeerAddressMode, view: ClusterView | null): PodView | null {
  const name = pod.metadata?.name;
  if (name === undefined) return null;
  const ordinal = ordinalOf(ref.name, name);
  if (ordinal < 0) return null;
  return {
    name,
    ordinal,
    ready: isReady(pod),
    terminating: pod.metadata?.deletionTimestamp !== undefined,
    crashLooping: isCrashLooping(pod),
    revision: pod.metadata?.labels?.[REVISION_LABEL],
    endpoint: httpEndpoint(pod),
    peerAddress: peerAddress(pod, ref, mode),
    runningSinceMs: runningSinceMs(pod),
    view,
  };
}
