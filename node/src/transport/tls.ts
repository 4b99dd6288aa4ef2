// TLS material of a node and the identity rule of its peers. With TLS on, the peer port speaks
// mutual TLS: both sides present a certificate chaining to the cluster's CA, and each side checks
// that the other's certificate names the node id it claims in the handshake (its common name, or
// a DNS subject alternative name that is the id or starts with `<id>.`, as a StatefulSet pod's
// `X-0.X-hl.ns.svc.cluster.local` does). The HMAC handshake runs inside, unchanged.
import type { PeerCertificate } from 'node:tls';

export interface TlsMaterial {
  /** PEM: this node's certificate (chain), its key, and the CA bundle peers must chain to. */
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Where a node's TLS material is read from (and read again: see tls-reload.ts). */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** The DNS names and common name a certificate carries. */
function namesOf(cert: PeerCertificate): string[] {
  const names: string[] = [];
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const m = /^\s*DNS:(.+?)\s*$/.exec(entry);
    if (m) names.push(m[1]!);
  }
  return names;
}

/** Does `cert` name node `id`? */
export function certificateNames(cert: PeerCertificate | null | undefined, id: string): boolean {
  if (cert === null || cert === undefined || Object.keys(cert).length === 0) return false;
  return namesOf(cert).some((name) => name === id || name.startsWith(`${id}.`));
}
