// TLS material of a node and the identity rule of its peers. With TLS on, the peer port speaks
// mutual TLS: both sides present a certificate chaining to the cluster's CA, and each side checks
// that the other's certificate names the node id it claims in the handshake (its common name, or
// a DNS subject alternative name that is the id or starts with `<id>.`, as a StatefulSet pod's
// `X-0.X-hl.ns.svc.cluster.local` does). The HMAC handshake runs inside, unchanged.
import type { PeerCertificate } from 'node:tls';
import type { HandshakeRejectReason } from './handshake.js';

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

/** The code of the dialer's error when the listener's certificate does not name the peer it dialed. */
export const PEER_NOT_NAMED = 'ERR_CATGA_PEER_NOT_NAMED';

/** OpenSSL's and Node's codes for a certificate that is missing, untrusted, expired or refused by the other side. */
const CERTIFICATE_REFUSED = /CERT|UNABLE_TO_(GET|VERIFY)|SELF_SIGNED|UNKNOWN_CA|PEER_DID_NOT_RETURN/;

/**
 * The handshake refusal a TLS-layer failure stands for, so that the peer link counts it as the
 * plain handshake would (catga_peer_handshakes_rejected_total): a certificate naming another
 * node is node_id_mismatch, a missing or untrusted one auth_failed (no proof of membership), a
 * stalled TLS handshake handshake_timeout. Null for anything else (a reset, a refused connection).
 */
export function tlsRejectReason(err: Error & { code?: string }): HandshakeRejectReason | null {
  const code = err.code ?? '';
  if (code === PEER_NOT_NAMED) return 'node_id_mismatch';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'handshake_timeout';
  return CERTIFICATE_REFUSED.test(code) ? 'auth_failed' : null;
}

/** Does `cert` name node `id`? */
export function certificateNames(cert: PeerCertificate | null | undefined, id: string): boolean {
  if (cert === null || cert === undefined || Object.keys(cert).length === 0) return false;
  return namesOf(cert).some((name) => name === id || name.startsWith(`${id}.`));
}
