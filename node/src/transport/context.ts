// What every connection of one transport shares: identity, secret, limits, hooks for metrics and
// logs, and how peer host names are resolved. Built once by the transport, read-only after
// (except the TLS material, which a reload replaces for new connections).
import { lookup } from 'node:dns/promises';
import type { NodeId } from '../raft/types.js';
import type { HandshakeRejectReason } from './handshake.js';
import type { TransportLimits } from './limits.js';
import type { TlsMaterial } from './tls.js';

/** Counters the runtime maps to metrics. Every hook is optional and must not throw. */
export interface TransportMetrics {
  /** A handshake was refused: by us (`inbound`: a dialer we refused; `outbound`: a listener we
   *  refused to trust) or by the remote side (`outbound`, reason from its close code). */
  onHandshakeRejected?(reason: HandshakeRejectReason, direction: 'inbound' | 'outbound'): void;
  /** `count` Raft messages to `peer` were dropped (queue full, not connected, connection lost). */
  onDrop?(peer: NodeId, count: number): void;
  /** A new connection attempt to `peer` after a failed attempt or a lost connection. */
  onReconnect?(peer: NodeId): void;
  /** An authenticated peer sent a malformed frame; that connection was closed. */
  onBadFrame?(peer: NodeId): void;
  /** Our outbound connection to `peer` came up (true) or went down (false). */
  onConnectionChange?(peer: NodeId, up: boolean): void;
}

export type TransportLog = (event: string, fields: object) => void;

/** Turns a peer host name into an address to dial; called again on every reconnect. */
export type HostResolver = (host: string) => Promise<string>;

export interface TransportContext {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly secret: string;
  /** Mutual TLS on the peer port (see tls.ts); null: plain WebSocket. Replaced only by the transport's setTls (never to or from null). */
  tls: TlsMaterial | null;
  readonly limits: TransportLimits;
  readonly metrics: TransportMetrics;
  readonly log: TransportLog;
  readonly resolveHost: HostResolver;
}

/** The system resolver (getaddrinfo: /etc/hosts, resolv.conf search domains); IPs pass through. */
export async function systemResolveHost(host: string): Promise<string> {
  return (await lookup(host)).address;
}

/** The HTTP path peers connect to on the peer port. */
export const PEER_PATH = '/catga/peer/v1';
