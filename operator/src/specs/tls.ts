// TLS of a cluster's pods: where the certificates live (the operator's CA Secret and the members'
// Secret, or the user's Secret), the names each member's certificate carries, how the pods mount
// and find them, and the Secret objects themselves. Pure; the certificates are inputs.
import type { V1EnvVar, V1Secret, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ResolvedSpec } from '../api/defaults.js';
import { type ClusterRef, clientServiceName, commonLabels, headlessServiceName, leaderServiceName, ownerReference, podName } from './names.js';

export const TLS_VOLUME = 'tls';
export const TLS_DIR = '/etc/catga/tls';
export const ENV_TLS_CERT_FILE = 'CATGA_TLS_CERT_FILE';
export const ENV_TLS_KEY_FILE = 'CATGA_TLS_KEY_FILE';
export const ENV_TLS_CA_FILE = 'CATGA_TLS_CA_FILE';

/** cert-manager's (and kubernetes.io/tls's) keys. */
export const TLS_CERT_KEY = 'tls.crt';
export const TLS_KEY_KEY = 'tls.key';
export const CA_BUNDLE_KEY = 'ca.crt';

/**
 * On the pods of a cluster with TLS: the scheme of its HTTP port, which the chart's ServiceMonitor
 * (and a PodMonitor) relabel into `__scheme__` so that one scrape job reaches plain and TLS clusters.
 */
export const SCHEME_ANNOTATION = 'catga.io/scheme';

/** When the members' Secret last received a new trust bundle / new leaves (ISO time). */
export const BUNDLE_PUBLISHED_ANNOTATION = 'catga.io/tls-bundle-published-at';
export const LEAVES_ISSUED_ANNOTATION = 'catga.io/tls-leaves-issued-at';

export const caSecretName = (name: string): string => `${name}-ca`;
export const membersTlsSecretName = (name: string): string => `${name}-tls`;
/** A member's certificate and key in the members' Secret. */
export const leafCertKey = (member: string): string => `${member}.crt`;
export const leafKeyKey = (member: string): string => `${member}.key`;

/** How a cluster's pods get TLS. */
export type TlsMode =
  | { readonly kind: 'operator' }
  | { readonly kind: 'secret'; readonly secretName: string }
  | { readonly kind: 'disabled' };

export function tlsMode(spec: ResolvedSpec): TlsMode {
  if (spec.tls.enabled === false) return { kind: 'disabled' };
  return spec.tls.secretName === undefined ? { kind: 'operator' } : { kind: 'secret', secretName: spec.tls.secretName };
}

/** The Secret the pods mount, null without TLS. */
export function mountedTlsSecret(ref: ClusterRef, mode: TlsMode): string | null {
  return mode.kind === 'operator' ? membersTlsSecretName(ref.name) : mode.kind === 'secret' ? mode.secretName : null;
}

/**
 * Every name of member `ordinal`: its node id (the peers' identity rule), its pod DNS names
 * through the headless Service, and the client Services (all but the id in short and full forms).
 */
export function memberDnsNames(ref: ClusterRef, ordinal: number): string[] {
  const pod = podName(ref.name, ordinal);
  const svc = (host: string): string[] => [`${host}.${ref.namespace}.svc`, `${host}.${ref.namespace}.svc.cluster.local`];
  return [
    pod,
    ...svc(`${pod}.${headlessServiceName(ref.name)}`),
    clientServiceName(ref.name), ...svc(clientServiceName(ref.name)),
    leaderServiceName(ref.name), ...svc(leaderServiceName(ref.name)),
  ];
}

/**
 * The operator's rule for a node's certificate on the admin API (beyond chaining to the
 * cluster's CA): it names a pod of this cluster through its headless Service.
 */
export function namesClusterMember(ref: ClusterRef, dnsNames: readonly string[]): boolean {
  const suffix = `.${headlessServiceName(ref.name)}.${ref.namespace}.svc`;
  const pod = new RegExp(`^${ref.name.replace(/[.]/g, '\\.')}-(0|[1-9][0-9]*)$`);
  return dnsNames.some((n) => {
    const host = n.endsWith(suffix) ? n.slice(0, -suffix.length) : n.endsWith(`${suffix}.cluster.local`) ? n.slice(0, -(suffix.length + 14)) : null;
    return host !== null && pod.test(host);
  });
}

/** The pod's TLS volume, its mount, and the env that points the node at the files. */
export function podTls(ref: ClusterRef, mode: TlsMode): { volume: V1Volume; mount: V1VolumeMount; env: V1EnvVar[] } | null {
  const secretName = mountedTlsSecret(ref, mode);
  if (secretName === null) return null;
  // The operator's Secret holds every member's pair; each node picks its own by its id
  // ($(CATGA_NODE_ID), set earlier in the env). A user's Secret is one pair for all.
  const [cert, key] = mode.kind === 'operator' ? [leafCertKey('$(CATGA_NODE_ID)'), leafKeyKey('$(CATGA_NODE_ID)')] : [TLS_CERT_KEY, TLS_KEY_KEY];
  return {
    volume: { name: TLS_VOLUME, secret: { secretName, defaultMode: 0o440 } },
    mount: { name: TLS_VOLUME, mountPath: TLS_DIR, readOnly: true },
    env: [
      { name: ENV_TLS_CERT_FILE, value: `${TLS_DIR}/${cert}` },
      { name: ENV_TLS_KEY_FILE, value: `${TLS_DIR}/${key}` },
      { name: ENV_TLS_CA_FILE, value: `${TLS_DIR}/${CA_BUNDLE_KEY}` },
    ],
  };
}

function secretMeta(ref: ClusterRef, name: string, annotations: Record<string, string> = {}): V1Secret['metadata'] {
  return { name, namespace: ref.namespace, labels: commonLabels(ref.name), ownerReferences: [ownerReference(ref)], annotations };
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

/** The operator's CA: the issuing pair (cert-manager's CA issuer layout) and the trust bundle. Never mounted by a pod. */
export function caSecret(ref: ClusterRef, issuer: { cert: string; key: string }, bundle: string): V1Secret {
  return {
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls',
    metadata: secretMeta(ref, caSecretName(ref.name)),
    data: { [TLS_CERT_KEY]: b64(issuer.cert), [TLS_KEY_KEY]: b64(issuer.key), [CA_BUNDLE_KEY]: b64(bundle) },
  };
}

/** What the pods mount: the trust bundle and each member's pair. */
export function membersTlsSecret(ref: ClusterRef, o: {
  bundle: string; leaves: Readonly<Record<string, { cert: string; key: string }>>; bundlePublishedAt: string | null; leavesIssuedAt: string | null;
}): V1Secret {
  const data: Record<string, string> = { [CA_BUNDLE_KEY]: b64(o.bundle) };
  for (const [member, pair] of Object.entries(o.leaves)) {
    data[leafCertKey(member)] = b64(pair.cert);
    data[leafKeyKey(member)] = b64(pair.key);
  }
  const annotations: Record<string, string> = {};
  if (o.bundlePublishedAt !== null) annotations[BUNDLE_PUBLISHED_ANNOTATION] = o.bundlePublishedAt;
  if (o.leavesIssuedAt !== null) annotations[LEAVES_ISSUED_ANNOTATION] = o.leavesIssuedAt;
  return { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: secretMeta(ref, membersTlsSecretName(ref.name), annotations), data };
}
