// The peer transport's public surface: the factory the runtime calls, and the types and codes it
// needs. Everything else in this folder is internal.
import type { NodeId } from '../raft/types.js';
import { systemResolveHost, type HostResolver, type TransportLog, type TransportMetrics } from './context.js';
import { resolveLimits, type TransportLimits } from './limits.js';
import type { TlsMaterial } from './tls.js';
import { WsPeerTransport } from './ws-transport.js';

export type { PeerTransport } from './types.js';
export type { HostResolver, TransportLog, TransportMetrics } from './context.js';
export type { HandshakeRejectReason } from './handshake.js';
export type { LinkStats } from './outbound-link.js';
export type { TransportLimits } from './limits.js';
export type { TlsFiles, TlsMaterial } from './tls.js';
export { TlsReloader, tlsMaterialProblem, type TlsReloadOutcome } from './tls-reload.js';
export { DEFAULT_LIMITS } from './limits.js';
export { CodecError, PeerError, type PeerErrorCode } from './errors.js';
export { encodeMessage, decodeMessage } from './codec.js';
export { parseHostPort, formatHostPort, type HostPort } from './address.js';
export { WsPeerTransport } from './ws-transport.js';

export interface PeerTransportOptions extends Partial<TransportLimits> {
  readonly id: NodeId;
  readonly clusterId: string;
  /** CATGA_CLUSTER_SECRET: the HMAC key of the handshake; never sent. */
  readonly secret: string;
  /** Mutual TLS on the peer link (certificates naming the node ids); absent: plain WebSocket. */
  readonly tls?: TlsMaterial | null;
  readonly listenHost: string;
  /** 0 picks a free port (see `transport.port`). */
  readonly listenPort: number;
  readonly metrics?: TransportMetrics;
  readonly log?: TransportLog;
  /** How a peer's host name is resolved on every (re)connect (the runtime passes CATGA_DNS_SERVER's); the system's when absent. */
  readonly resolveHost?: HostResolver;
}

export function createPeerTransport(opts: PeerTransportOptions): WsPeerTransport {
  if (opts.id === '') throw new RangeError('transport id must not be empty');
  if (opts.secret === '') throw new RangeError('transport secret must not be empty');
  const { id, clusterId, secret, tls, listenHost, listenPort, metrics, log, resolveHost, ...limits } = opts;
  return new WsPeerTransport(
    {
      id,
      clusterId,
      secret,
      tls: tls ?? null,
      limits: resolveLimits(limits),
      metrics: metrics ?? {},
      log: log ?? (() => {}),
      resolveHost: resolveHost ?? systemResolveHost,
    },
    listenHost,
    listenPort,
  );
}
