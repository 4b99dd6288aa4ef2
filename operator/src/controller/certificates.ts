// The TLS decisions of a cluster whose certificates the operator issues, as a pure function of
// what its two Secrets hold (the CA Secret and the members' Secret) and the time: the ONE next
// step, and when to look again. Level-triggered: the Secrets' certificates and two timestamps
// are the whole state, so a restarted operator resumes a rotation wherever it stood.
//
// Rotation without downtime: a leaf is renewed once RENEW_AT_FRACTION of its life has passed. A
// CA is rotated the same way, in three steps that never leave a node trusting less than its
// peers present: (1) a new CA becomes the issuer and joins the trust bundle beside the old one;
// (2) once the bundle has reached every node (PROPAGATION_MS after it was published) the leaves
// are reissued by the new CA; (3) once those have reached every node, the old CA leaves the bundle.
import type { CertificateFacts, LeafFacts } from '../pki/inspect.js';

const DAY_MS = 24 * 3600 * 1000;
export const LEAF_VALIDITY_MS = 90 * DAY_MS;
export const CA_VALIDITY_MS = 5 * 365 * DAY_MS;
/** A certificate is renewed when this fraction of its validity has passed. */
export const RENEW_AT_FRACTION = 2 / 3;
/** Certificates start this long before they are made, so a node whose clock is behind accepts them. */
export const BACKDATE_MS = 5 * 60 * 1000;
/**
 * How long a Secret write takes to reach every node: the kubelet refreshes mounted Secrets within
 * its sync period (1 min by default) plus its cache's TTL, and the node reads its files every
 * 10 s (CATGA_TLS_RELOAD_MS).
 */
export const PROPAGATION_MS = 3 * 60 * 1000;

export interface TlsMember {
  readonly id: string;
  /** The DNS names its certificate must carry, exactly. */
  readonly dnsNames: readonly string[];
}

export interface TlsObserved {
  readonly nowMs: number;
  /** The CA Secret: the issuing CA and the fingerprints of its trust bundle; null: no CA yet. */
  readonly ca: { readonly active: CertificateFacts; readonly bundle: readonly string[] } | null;
  /** The members' Secret, null when it does not exist. */
  readonly served: {
    readonly bundle: readonly string[];
    readonly bundlePublishedAtMs: number | null;
    readonly leavesIssuedAtMs: number | null;
    /** Each member's leaf (issuer resolved against the CA Secret's bundle); absent or null: none. */
    readonly leaves: ReadonlyMap<string, LeafFacts | null>;
  } | null;
  readonly members: readonly TlsMember[];
}

export type LeafReason = 'missing' | 'names' | 'renewal' | 'expired' | 'untrusted' | 'caRotation';

export type TlsStep =
  | { readonly kind: 'none' }
  | { readonly kind: 'createCa' }
  /** A new CA issues from now on; the bundle holds it and the current one. */
  | { readonly kind: 'rotateCa' }
  /** The members' Secret gets the CA Secret's bundle (created when absent). */
  | { readonly kind: 'publishBundle' }
  | { readonly kind: 'issueLeaves'; readonly leaves: readonly { readonly id: string; readonly reason: LeafReason }[] }
  /** The bundle keeps the issuing CA only. */
  | { readonly kind: 'retireCas' };

export interface TlsPlan {
  readonly step: TlsStep;
  /** When the next step falls due if nothing changes (ms since epoch); null: never. */
  readonly nextAtMs: number | null;
  /** What the plan waits for, when it waits. */
  readonly waiting: string | null;
}

export function renewAtMs(c: CertificateFacts): number {
  return c.notBeforeMs + Math.floor((c.notAfterMs - c.notBeforeMs) * RENEW_AT_FRACTION);
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

const earliest = (times: readonly (number | null)[]): number | null => {
  const real = times.filter((t): t is number => t !== null);
  return real.length === 0 ? null : Math.min(...real);
};

export function planTls(o: TlsObserved): TlsPlan {
  const at = (step: TlsStep): TlsPlan => ({ step, nextAtMs: o.nowMs, waiting: null });
  if (o.ca === null) return at({ kind: 'createCa' });
  const active = o.ca.active;
  const rotating = o.ca.bundle.length > 1;
  if (!rotating && o.nowMs >= renewAtMs(active)) return at({ kind: 'rotateCa' });
  if (o.served === null || !sameSet(o.served.bundle, o.ca.bundle)) return at({ kind: 'publishBundle' });

  const served = o.served;
  // While a new CA's bundle travels to the nodes, only a pod that has no certificate at all gets one.
  const bundleSettledAt = rotating ? (served.bundlePublishedAtMs ?? o.nowMs) + PROPAGATION_MS : o.nowMs;
  const bundleSettled = o.nowMs >= bundleSettledAt;
  const due: { id: string; reason: LeafReason }[] = [];
  const waits: number[] = [];
  for (const m of o.members) {
    const leaf = served.leaves.get(m.id) ?? null;
    const reason: LeafReason | null =
      leaf === null ? 'missing'
        : o.nowMs >= leaf.notAfterMs ? 'expired'
          : leaf.issuer === null ? 'untrusted'
            : !sameSet(leaf.dnsNames, m.dnsNames) ? 'names'
              : leaf.issuer !== active.fingerprint ? 'caRotation'
                : o.nowMs >= renewAtMs(leaf) ? 'renewal'
                  : null;
    if (reason === null) {
      waits.push(renewAtMs(leaf!));
    } else if (reason === 'missing' || reason === 'expired' || reason === 'untrusted' || bundleSettled) {
      due.push({ id: m.id, reason });
    } else {
      waits.push(bundleSettledAt);
    }
  }
  if (due.length > 0) return at({ kind: 'issueLeaves', leaves: due });

  if (rotating) {
    const allFromActive = o.members.every((m) => served.leaves.get(m.id)?.issuer === active.fingerprint);
    if (!allFromActive) {
      return { step: { kind: 'none' }, nextAtMs: earliest(waits), waiting: 'the new CA bundle is reaching the nodes before the leaves are reissued' };
    }
    const leavesSettledAt = (served.leavesIssuedAtMs ?? o.nowMs) + PROPAGATION_MS;
    if (o.nowMs >= leavesSettledAt) return at({ kind: 'retireCas' });
    return { step: { kind: 'none' }, nextAtMs: leavesSettledAt, waiting: 'the reissued leaves are reaching the nodes before the old CA leaves the bundle' };
  }
  return { step: { kind: 'none' }, nextAtMs: earliest([...waits, renewAtMs(active)]), waiting: null };
}
