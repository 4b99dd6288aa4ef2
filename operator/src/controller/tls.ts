// The I/O side of a cluster's TLS: decides the mode (operator-issued, the user's Secret, or off),
// and for operator-issued certificates reads the two Secrets, asks the pure planner
// (certificates.ts) for the next step, makes the certificates (pki/x509.ts) and writes the
// Secrets, a few steps per pass. Returns how the admin client trusts the nodes.
import type { V1Secret, V1StatefulSet } from '@kubernetes/client-node';
import type { ResolvedSpec } from '../api/defaults.js';
import type { CatgaCluster } from '../api/types.js';
import { certificateFacts, leafFacts, parseBundle } from '../pki/inspect.js';
import { createCa, issueLeaf, type KeyPairPem } from '../pki/x509.js';
import { type ClusterRef, podName } from '../specs/names.js';
import {
  BUNDLE_PUBLISHED_ANNOTATION, CA_BUNDLE_KEY, LEAVES_ISSUED_ANNOTATION, TLS_CERT_KEY, TLS_KEY_KEY, TLS_VOLUME, type TlsMode,
  caSecret, caSecretName, leafCertKey, leafKeyKey, memberDnsNames, membersTlsSecret, membersTlsSecretName, namesClusterMember, tlsMode,
} from '../specs/tls.js';
import type { AdminTls } from './admin-client.js';
import { BACKDATE_MS, CA_VALIDITY_MS, LEAF_VALIDITY_MS, planTls, type TlsObserved, type TlsPlan, type TlsStep } from './certificates.js';
import type { EventRecorder } from './events.js';
import type { KubeClient } from './kube.js';

/** Planner steps taken in one pass at most (a new cluster needs three: CA, bundle, leaves). */
export const MAX_TLS_STEPS_PER_PASS = 6;

export interface TlsOutcome {
  readonly mode: TlsMode;
  /** Why TLS is off, when it is. */
  readonly offBecause: string | null;
  /** How the operator trusts the nodes' HTTPS; null: plain, or no CA bundle known. */
  readonly admin: AdminTls | null;
  /** When the certificates next need the operator (ms since epoch); null: not before a change. */
  readonly nextAtMs: number | null;
}

function text(secret: V1Secret | null, key: string): string | undefined {
  const data = secret?.data?.[key];
  return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
}

function timeOf(secret: V1Secret | null, annotation: string): number | null {
  const value = secret?.metadata?.annotations?.[annotation];
  const ms = value === undefined ? NaN : Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

function servesTls(sts: V1StatefulSet | null): boolean {
  return sts?.spec?.template.spec?.volumes?.some((v) => v.name === TLS_VOLUME) ?? false;
}

/** What the spec asks for, except that a cluster already running plain stays plain until spec.tls.enabled is set. */
export function effectiveTlsMode(spec: ResolvedSpec, sts: V1StatefulSet | null): { mode: TlsMode; offBecause: string | null } {
  const asked = tlsMode(spec);
  if (asked.kind === 'disabled') return { mode: asked, offBecause: 'spec.tls.enabled is false: the client API, the tokens and Raft traffic travel unencrypted' };
  if (spec.tls.enabled === undefined && asked.kind === 'operator' && sts !== null && !servesTls(sts)) {
    return {
      mode: { kind: 'disabled' },
      offBecause: 'this cluster was created without TLS and stays so until spec.tls.enabled is set to true (its pods must then all be restarted together: plain and TLS members cannot talk)',
    };
  }
  return { mode: asked, offBecause: null };
}

export class ClusterTls {
  constructor(private readonly kube: KubeClient, private readonly events: EventRecorder, private readonly now: () => number) {}

  async ensure(cluster: CatgaCluster, ref: ClusterRef, spec: ResolvedSpec, sts: V1StatefulSet | null, members: number): Promise<TlsOutcome> {
    const { mode, offBecause } = effectiveTlsMode(spec, sts);
    const accept = (names: readonly string[]): boolean => namesClusterMember(ref, names);
    if (mode.kind === 'disabled') return { mode, offBecause, admin: null, nextAtMs: null };
    if (mode.kind === 'secret') {
      const ca = text(await this.kube.getSecret(ref.namespace, mode.secretName), CA_BUNDLE_KEY);
      return { mode, offBecause, admin: ca === undefined ? null : { ca, acceptNames: accept }, nextAtMs: null };
    }
    let plan: TlsPlan | null = null;
    let bundle: string | undefined;
    for (let steps = 0; steps < MAX_TLS_STEPS_PER_PASS; steps++) {
      const ca = await this.kube.getSecret(ref.namespace, caSecretName(ref.name));
      const served = await this.kube.getSecret(ref.namespace, membersTlsSecretName(ref.name));
      bundle = text(ca, CA_BUNDLE_KEY);
      plan = planTls(this.observe(ref, members, ca, served));
      if (plan.step.kind === 'none') break;
      await this.apply(cluster, ref, plan.step, ca, served, members);
    }
    return { mode, offBecause, admin: bundle === undefined ? null : { ca: bundle, acceptNames: accept }, nextAtMs: plan?.nextAtMs ?? null };
  }

  private observe(ref: ClusterRef, members: number, ca: V1Secret | null, served: V1Secret | null): TlsObserved {
    const issuer = parseBundle(text(ca, TLS_CERT_KEY) ?? '')[0];
    const caBundle = parseBundle(text(ca, CA_BUNDLE_KEY) ?? '');
    const ids = Array.from({ length: members }, (_, i) => podName(ref.name, i));
    return {
      nowMs: this.now(),
      ca: issuer === undefined || text(ca, TLS_KEY_KEY) === undefined ? null : { active: certificateFacts(issuer), bundle: caBundle.map((c) => c.fingerprint256) },
      served: served === null ? null : {
        bundle: parseBundle(text(served, CA_BUNDLE_KEY) ?? '').map((c) => c.fingerprint256),
        bundlePublishedAtMs: timeOf(served, BUNDLE_PUBLISHED_ANNOTATION),
        leavesIssuedAtMs: timeOf(served, LEAVES_ISSUED_ANNOTATION),
        leaves: new Map(ids.map((id) => [id, leafFacts(text(served, leafCertKey(id)), caBundle)])),
      },
      members: ids.map((id, ordinal) => ({ id, dnsNames: memberDnsNames(ref, ordinal) })),
    };
  }

  private async apply(cluster: CatgaCluster, ref: ClusterRef, step: TlsStep, ca: V1Secret | null, served: V1Secret | null, members: number): Promise<void> {
    const nowMs = this.now();
    const nowIso = new Date(nowMs).toISOString();
    const newCa = (): KeyPairPem => createCa({
      commonName: `catga CA ${ref.namespace}/${ref.name} ${nowIso}`, notBefore: new Date(nowMs - BACKDATE_MS), notAfter: new Date(nowMs + CA_VALIDITY_MS),
    });
    const write = async (current: V1Secret | null, desired: V1Secret): Promise<void> => {
      if (current === null) await this.kube.createSecret(desired);
      else await this.kube.replaceSecret({ ...desired, metadata: { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion } });
    };
    const ids = Array.from({ length: members }, (_, i) => podName(ref.name, i));
    const keptLeaves = (): Record<string, KeyPairPem> => {
      const leaves: Record<string, KeyPairPem> = {};
      for (const id of ids) {
        const cert = text(served, leafCertKey(id));
        const key = text(served, leafKeyKey(id));
        if (cert !== undefined && key !== undefined) leaves[id] = { cert, key };
      }
      return leaves;
    };
    const bundleOf = (secret: V1Secret | null): string => text(secret, CA_BUNDLE_KEY) ?? '';
    switch (step.kind) {
      case 'none':
        return;
      case 'createCa': {
        const issuer = newCa();
        await write(ca, caSecret(ref, issuer, issuer.cert));
        await this.events.record(cluster, 'Normal', 'CertificateAuthorityCreated', `created the cluster's CA in Secret ${caSecretName(ref.name)}`);
        return;
      }
      case 'rotateCa': {
        const issuer = newCa();
        await write(ca, caSecret(ref, issuer, issuer.cert + bundleOf(ca)));
        await this.events.record(cluster, 'Normal', 'CertificateAuthorityRotated', 'a new CA issues from now on; the old one stays trusted until every certificate is reissued');
        return;
      }
      case 'publishBundle':
        await write(served, membersTlsSecret(ref, {
          bundle: bundleOf(ca), leaves: keptLeaves(), bundlePublishedAt: nowIso,
          leavesIssuedAt: served?.metadata?.annotations?.[LEAVES_ISSUED_ANNOTATION] ?? null,
        }));
        return;
      case 'issueLeaves': {
        const issuer = { cert: text(ca, TLS_CERT_KEY)!, key: text(ca, TLS_KEY_KEY)! };
        const caNotAfter = Date.parse(parseBundle(issuer.cert)[0]!.validTo);
        const leaves = keptLeaves();
        for (const { id } of step.leaves) {
          leaves[id] = issueLeaf(issuer, {
            commonName: id, notBefore: new Date(nowMs - BACKDATE_MS), notAfter: new Date(Math.min(nowMs + LEAF_VALIDITY_MS, caNotAfter)),
          }, memberDnsNames(ref, ids.indexOf(id)));
        }
        await write(served, membersTlsSecret(ref, {
          bundle: bundleOf(served), leaves, bundlePublishedAt: served?.metadata?.annotations?.[BUNDLE_PUBLISHED_ANNOTATION] ?? null, leavesIssuedAt: nowIso,
        }));
        await this.events.record(cluster, 'Normal', 'CertificatesIssued', step.leaves.map((l) => `${l.id} (${l.reason})`).join(', '));
        return;
      }
      case 'retireCas': {
        const issuer = { cert: text(ca, TLS_CERT_KEY)!, key: text(ca, TLS_KEY_KEY)! };
        await write(ca, caSecret(ref, issuer, issuer.cert));
        await this.events.record(cluster, 'Normal', 'CertificateAuthorityRetired', 'every certificate comes from the new CA: the old one left the trust bundle');
        return;
      }
    }
  }
}
