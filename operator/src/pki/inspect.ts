// What a PEM certificate or bundle says, as plain facts the TLS planner decides on: validity,
// fingerprint, DNS names, and which CA of a bundle issued it. Parsing by Node's X509Certificate.
import { X509Certificate } from 'node:crypto';

export interface CertificateFacts {
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  /** SHA-256 fingerprint: what identifies a CA in a bundle. */
  readonly fingerprint: string;
  readonly dnsNames: readonly string[];
}

export interface LeafFacts extends CertificateFacts {
  /** Fingerprint of the CA among the candidates that issued (and signed) it; null: none did. */
  readonly issuer: string | null;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, in order; one that does not parse is left out. */
export function parseBundle(pem: string): X509Certificate[] {
  const certs: X509Certificate[] = [];
  for (const block of pem.match(PEM_CERTIFICATE) ?? []) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      // not a certificate: the planner sees it as absent and replaces it
    }
  }
  return certs;
}

export function certificateFacts(cert: X509Certificate): CertificateFacts {
  const dnsNames = (cert.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
  return { notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo), fingerprint: cert.fingerprint256, dnsNames };
}

/** Facts of the first certificate of `pem` (a leaf, maybe with its chain), or null when there is none. */
export function leafFacts(pem: string | undefined, candidates: readonly X509Certificate[]): LeafFacts | null {
  const leaf = pem === undefined ? undefined : parseBundle(pem)[0];
  if (leaf === undefined) return null;
  const issuer = candidates.find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
  return { ...certificateFacts(leaf), issuer: issuer?.fingerprint256 ?? null };
}
